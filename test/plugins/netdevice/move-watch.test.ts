/**
 * No silent failure when a container runtime does not move an allocated interface into its pod. A runtime
 * stand-in reads the CDI spec the plugin wrote and, like runc >= 1.4, moves each `netDevices` link into the
 * pod's (real) network namespace, or, like runc 1.1.5, ignores the field. The kubelet simulator serves
 * PodResources, so the plugin knows who holds what.
 */
import { readCdiSpec } from '../../../plugins/framework';
import { CDI_KIND } from '../../../plugins/netdevice/spec';
import { httpGet, portOf } from '../../helpers/http';
import { eventually, sleep } from '../../helpers/tmp';
import { logRecords, netdeviceSuite, RESOURCE, sees, type Netdevice } from './harness';
import { describeNet, ip, linkState } from './net';

const POD = { pod: 'web', namespace: 'default', container: 'app' };
const GRACE_MS = 300;
const NOT_MOVED = 'still on the host: the container runtime did not move it';

/**
 * What a CDI-aware engine and OCI runtime do when the container is created: resolve the CDI name in the
 * spec on disk, then move every `netDevices` link into the pod's network namespace, unless the runtime
 * ignores the field (runc before 1.4 does, silently).
 */
function runtimeCreatesContainer(
  nd: Netdevice,
  cdiName: string,
  podNetns: string,
  runtime: { honoursNetDevices: boolean },
): void {
  const device = readCdiSpec(nd.specPath())!.devices.find((d) => `${CDI_KIND}=${d.name}` === cdiName);
  if (!device) throw new Error(`the runtime cannot resolve ${cdiName}`);
  if (!runtime.honoursNetDevices) return;
  for (const netDevice of device.containerEdits.netDevices ?? [])
    ip('link', 'set', 'dev', netDevice.hostInterfaceName, 'netns', podNetns, 'name', netDevice.name);
}

async function metric(nd: Netdevice, name: string): Promise<number | undefined> {
  const body = (await httpGet(portOf(nd.running.http), '/metrics')).body;
  const match = new RegExp(`^${name}\\{resource="${RESOURCE}"\\} (\\S+)$`, 'm').exec(body);
  return match ? Number(match[1]) : undefined;
}

async function readyz(nd: Netdevice): Promise<{ status: number; conditions: Record<string, unknown>[] }> {
  const res = await httpGet(portOf(nd.running.http), '/readyz');
  const body = JSON.parse(res.body) as { resources: { conditions: Record<string, unknown>[] }[] };
  return { status: res.status, conditions: body.resources[0].conditions };
}

/** Make the plugin scan again (a netlink event on an offered link) and wait until the kubelet sees it. */
async function nudge(nd: Netdevice, link: string, ...expected: string[]): Promise<void> {
  ip('link', 'set', link, 'down');
  await nd.kubelet.waitFor(
    sees(nd, ...expected.map((e) => e.replace(`${link}:Healthy`, `${link}:Unhealthy`))),
  );
  ip('link', 'set', link, 'up');
  await nd.kubelet.waitFor(sees(nd, ...expected), 2000, `a scan after ${link} went up again`);
}

describeNet('netdevice: an allocated interface the runtime does not move', () => {
  const suite = netdeviceSuite();

  function start(mode: 'netdevices' | 'hooks' = 'netdevices'): Promise<Netdevice> {
    return suite.startOffering([
      '--cdi-mode',
      mode,
      '--move-grace-period',
      `${GRACE_MS}ms`,
      '--rescan-interval',
      '1h', // only netlink events and the grace-period timer make scans
      '--http-addr',
      '127.0.0.1:0',
    ]);
  }

  test('a runtime that ignores netDevices: error naming the pod, metric, /readyz condition, no second pod', async () => {
    const [link, other] = suite.net.upVeths(2);
    const podNetns = suite.net.netns();
    const nd = await start();
    expect(await metric(nd, 'kdp_netdevice_move_failures_total')).toBe(0);

    const [response] = await nd.kubelet.allocate(RESOURCE, [[link]], POD);
    runtimeCreatesContainer(nd, response.cdi_devices[0].name, podNetns, { honoursNetDevices: false });

    // Nothing but the grace-period timer makes the plugin look again.
    await nd.kubelet.waitFor(sees(nd, `${link}:Unhealthy`, `${other}:Healthy`), 5000, 'the stuck link');
    expect(linkState(link)).toBeDefined(); // the stand-in really left it on the host
    const [error] = logRecords(nd, NOT_MOVED);
    expect(error).toMatchObject({
      level: 'error',
      device: link,
      ...POD,
      cdiMode: 'netdevices',
      likelyCause: expect.stringContaining('--cdi-mode=hooks'),
    });
    expect(await metric(nd, 'kdp_netdevice_move_failures_total')).toBe(1);
    expect(await metric(nd, 'kdp_netdevice_interfaces_not_moved')).toBe(1);
    const ready = await readyz(nd);
    expect(ready.status).toBe(200); // reported, but the plugin itself works
    expect(ready.conditions).toEqual([
      {
        type: 'InterfaceNotMoved',
        device: link,
        message: expect.stringMatching(/^allocated to default\/web \(container app\).*--cdi-mode=hooks/),
        since: expect.any(String),
      },
    ]);
    // The kubelet offers it to no other pod; were it asked anyway, the plugin refuses.
    expect(nd.kubelet.allocatable(RESOURCE)).toBe(1);
    await expect(
      nd.kubelet.allocate(RESOURCE, [[link]], { pod: 'second', namespace: 'default', container: 'c' }),
    ).rejects.toThrow(new RegExp(`unhealthy device IDs.*"${link}"`));

    // Later scans do not report it again.
    await nudge(nd, other, `${link}:Unhealthy`, `${other}:Healthy`);
    expect(logRecords(nd, NOT_MOVED)).toHaveLength(1);
    expect(await metric(nd, 'kdp_netdevice_move_failures_total')).toBe(1);

    // The pod goes away: the link is free again, Healthy and allocatable; the condition is gone.
    nd.kubelet.removePod(POD.pod, POD.namespace);
    await nudge(nd, other, `${link}:Healthy`, `${other}:Healthy`);
    expect(logRecords(nd, 'no longer stuck on the host')[0]).toMatchObject({ device: link, ...POD });
    expect((await readyz(nd)).conditions).toEqual([]);
    expect(await metric(nd, 'kdp_netdevice_interfaces_not_moved')).toBe(0);
    expect(await metric(nd, 'kdp_netdevice_move_failures_total')).toBe(1); // a counter: it happened
    const [again] = await nd.kubelet.allocate(RESOURCE, [[link]]);
    expect(again.cdi_devices).toEqual([{ name: `${CDI_KIND}=${link}` }]);
  });

  test('a runtime that moves the link: nothing is flagged, even well past the grace period', async () => {
    const [link, other] = suite.net.upVeths(2);
    const podNetns = suite.net.netns();
    const nd = await start();

    const [response] = await nd.kubelet.allocate(RESOURCE, [[link]], POD);
    runtimeCreatesContainer(nd, response.cdi_devices[0].name, podNetns, { honoursNetDevices: true });
    expect(linkState(link, podNetns)).toBeDefined();
    await eventually(() => logRecords(nd, 'left the host for a pod').length === 1, 2000, 'the move');

    await sleep(2 * GRACE_MS);
    await nudge(nd, other, `${link}:Healthy`, `${other}:Healthy`);
    expect(nd.logs.filter((line) => line.includes('"level":"error"'))).toEqual([]);
    expect(await metric(nd, 'kdp_netdevice_move_failures_total')).toBe(0);
    expect(await metric(nd, 'kdp_netdevice_interfaces_not_moved')).toBe(0);
    expect((await readyz(nd)).conditions).toEqual([]);
  });

  test('a container created after the grace period (slow image pull): reported, then cleared when it moves', async () => {
    const [link, other] = suite.net.upVeths(2);
    const podNetns = suite.net.netns();
    const nd = await start('hooks');

    const [response] = await nd.kubelet.allocate(RESOURCE, [[link]], POD);
    await nd.kubelet.waitFor(sees(nd, `${link}:Unhealthy`, `${other}:Healthy`), 5000, 'the stuck link');
    expect(logRecords(nd, NOT_MOVED)[0]).toMatchObject({
      cdiMode: 'hooks',
      likelyCause: expect.stringContaining('createRuntime hook'),
    });

    // The image is finally there; the createRuntime hook moves the link (the move is what counts here).
    expect(response.cdi_devices).toEqual([{ name: `${CDI_KIND}=${link}` }]);
    ip('link', 'set', 'dev', link, 'netns', podNetns);
    await nd.kubelet.waitFor(sees(nd, `${link}:Healthy`, `${other}:Healthy`), 2000, 'the late move');
    expect(logRecords(nd, 'no longer stuck on the host: it reached its pod after all')).toHaveLength(1);
    expect((await readyz(nd)).conditions).toEqual([]);
    expect(await metric(nd, 'kdp_netdevice_interfaces_not_moved')).toBe(0);
    expect(await metric(nd, 'kdp_netdevice_move_failures_total')).toBe(1);
  });
});
