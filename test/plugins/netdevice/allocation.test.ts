/**
 * Allocate and the kept-while-allocated rule: requested IDs are honoured as CDI names, and an interface a
 * pod took stays advertised (PodResources says who holds it) until it is back on the host.
 */
import * as fs from 'fs';
import * as path from 'path';
import { eventually, removeDir, tempDir } from '../../helpers/tmp';
import { describeNet, ip } from './net';
import { logRecords, netdeviceSuite, RESOURCE, sees } from './harness';
import { readCdiSpec } from '../../../plugins/framework';

const POD = { pod: 'p1', namespace: 'default', container: 'c' };

/** What a runtime does at container creation: the link leaves the host for the pod's namespace. */
function moveToPod(link: string, netns: string): void {
  ip('link', 'set', 'dev', link, 'netns', netns);
}

/** What the poststop hook does: back to this (the host) namespace, up again. */
function moveBack(link: string, netns: string): void {
  ip('-n', netns, 'link', 'set', 'dev', link, 'netns', String(process.pid));
  ip('link', 'set', link, 'up');
}

describeNet('netdevice Allocate and interfaces held by pods', () => {
  const suite = netdeviceSuite();

  test('Allocate returns the requested interfaces as qualified CDI names; bad IDs are errors naming them', async () => {
    const { net } = suite;
    const [a, b, c] = suite.net.upVeths(3);
    const down = net.veth().host;
    const nd = await suite.startOffering();

    const responses = await nd.kubelet.allocate(RESOURCE, [[c], [a, b]]);
    expect(responses.map((r) => r.cdi_devices.map((d) => d.name))).toEqual([
      [`networking.k8s.io/netdevice=${c}`],
      [`networking.k8s.io/netdevice=${a}`, `networking.k8s.io/netdevice=${b}`],
    ]);
    expect(responses[0].devices).toEqual([]);
    await expect(nd.kubelet.allocate(RESOURCE, [['eth-nope']])).rejects.toThrow(
      /unknown device IDs.*"eth-nope"/,
    );
    await expect(nd.kubelet.allocate(RESOURCE, [[down]])).rejects.toThrow(
      new RegExp(`unhealthy device IDs.*"${down}"`),
    );
  });

  test('an interface moved into a pod stays advertised while the pod holds it, and is offered again once back', async () => {
    const { net } = suite;
    const [held, free] = suite.net.upVeths(2);
    const podNs = net.netns();
    const otherNs = net.netns();
    const nd = await suite.startOffering(['--rescan-interval', '1h']);
    const { kubelet } = nd;
    const lists: string[][] = [];
    kubelet.on('update', (_r: string, devices: { id: string }[]) => lists.push(devices.map((d) => d.id)));

    await kubelet.allocate(RESOURCE, [[held]], POD);
    moveToPod(held, podNs);
    moveToPod(free, otherNs); // not allocated: simply gone from the host
    await kubelet.waitFor(sees(nd, `${held}:Healthy`), 1000, 'the unallocated link to be withdrawn');
    for (const list of lists) expect(list).toContain(held); // never flapped
    expect(kubelet.capacity(RESOURCE)).toBe(1);
    expect(kubelet.allocatable(RESOURCE)).toBe(1);
    expect(logRecords(nd, 'left the host for a pod')[0]).toMatchObject({ device: held, ...POD });
    expect(readCdiSpec(nd.specPath())!.devices.map((d) => d.name)).toEqual([held]);
    // It is not on the host, so it cannot be handed out again.
    await expect(kubelet.allocate(RESOURCE, [[held]])).rejects.toThrow(
      new RegExp(`not in the host network namespace.*"${held}"`),
    );

    moveBack(held, podNs);
    kubelet.removePod(POD.pod, POD.namespace);
    await eventually(() => logRecords(nd, 'back on the host').length === 1, 1000, 'the link to be back');
    const [again] = await kubelet.allocate(RESOURCE, [[held]]);
    expect(again.cdi_devices).toEqual([{ name: `networking.k8s.io/netdevice=${held}` }]);
  });

  test('an interface whose pod is gone and which never came back is withdrawn at the next rescan', async () => {
    const { net } = suite;
    const [link, other] = suite.net.upVeths(2);
    const podNs = net.netns();
    const nd = await suite.startOffering(['--rescan-interval', '200ms']);
    await nd.kubelet.allocate(RESOURCE, [[link]], POD);
    moveToPod(link, podNs);
    await eventually(() => logRecords(nd, 'left the host for a pod').length === 1, 1000, 'the move');
    nd.kubelet.removePod(POD.pod, POD.namespace);
    await nd.kubelet.waitFor(sees(nd, `${other}:Healthy`), 2000, 'the orphaned link to be withdrawn');
  });

  test('after a restart, interfaces already held by pods are advertised from the start', async () => {
    const { net } = suite;
    const [inPod, onHost] = suite.net.upVeths(2);
    moveToPod(inPod, net.netns());
    const before = await suite.startOffering(['--rescan-interval', '1h']);
    // A plugin with no pods to ask about does not advertise it…
    expect(before.seen()).toEqual([`${onHost}:Healthy`]);

    // …but one started while the kubelet reports the pod holding it does.
    const nd = await suite.startOffering(['--rescan-interval', '1h'], (kubelet) =>
      kubelet.assignPod(RESOURCE, [inPod], POD),
    );
    expect(nd.seen()).toEqual([`${inPod}:Healthy`, `${onHost}:Healthy`].sort());
    expect(logRecords(nd, 'held by a pod since before start-up')[0]).toMatchObject({ device: inPod, ...POD });
  });

  test('a PodResources API that does not answer: an interface that leaves stays listed, unallocatable', async () => {
    const { net } = suite;
    const [link] = suite.net.upVeths(1);
    // The kubelet's socket is there but nothing answers on it (say, the kubelet is restarting).
    const dir = tempDir('kdr-');
    const dead = path.join(dir, 'pr.sock');
    fs.writeFileSync(dead, '');
    try {
      const nd = await suite.startOffering(['--rescan-interval', '1h', '--pod-resources-socket', dead]);
      moveToPod(link, net.netns());
      await nd.kubelet.waitFor(sees(nd, `${link}:Unhealthy`), 5000, 'the link to be kept as Unhealthy');
      expect(logRecords(nd, 'PodResources API not answering')).toEqual([
        expect.objectContaining({ level: 'warn', socket: dead }),
      ]);
    } finally {
      removeDir(dir);
    }
  });

  test('no PodResources socket at all: an interface that leaves is withdrawn, with one warning', async () => {
    const { net } = suite;
    const [link, other] = suite.net.upVeths(2);
    const nd = await suite.startOffering([
      '--rescan-interval',
      '1h',
      '--pod-resources-socket',
      '/nonexistent/pr.sock',
    ]);
    moveToPod(link, net.netns());
    await nd.kubelet.waitFor(sees(nd, `${other}:Healthy`), 1000, 'the link to be withdrawn');
    ip('link', 'set', other, 'down');
    await nd.kubelet.waitFor(sees(nd, `${other}:Unhealthy`), 1000, 'another scan');
    expect(logRecords(nd, 'PodResources socket not found')).toEqual([
      expect.objectContaining({ level: 'warn', socket: '/nonexistent/pr.sock' }),
    ]);
  });
});
