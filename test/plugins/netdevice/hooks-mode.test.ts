/**
 * `--cdi-mode hooks` end to end: allocate an interface, run the hooks exactly as the CDI spec on disk
 * tells a runtime to (path, args, env, OCI state on stdin), and watch the kubelet's view on the way.
 */
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import { readCdiSpec, type CdiHook } from '../../../plugins/framework';
import { eventually, removeDir, tempDir } from '../../helpers/tmp';
import { logRecords, netdeviceSuite, RESOURCE, sees } from './harness';
import { describeNet, HOOK, ip, linkState } from './net';

const POD = { pod: 'web', namespace: 'default', container: 'app' };

describeNet('netdevice hooks mode', () => {
  const suite = netdeviceSuite();
  let work: string;
  beforeEach(() => (work = tempDir('kdm-')));
  afterEach(() => removeDir(work));

  /** Run one hook the way an OCI runtime does: its path, its args (args[0] is the name), its env. */
  function runSpecHook(hook: CdiHook, ociState: string): { status: number | null; stderr: string } {
    const env = Object.fromEntries((hook.env ?? []).map((e) => e.split(/=(.*)/s, 2)));
    env.NETDEVICE_HOOK_STATE_DIR = path.join(work, 'state');
    const res = spawnSync(hook.path, hook.args!.slice(1), {
      input: ociState,
      encoding: 'utf8',
      env,
      argv0: hook.args![0],
    });
    return { status: res.status, stderr: res.stderr };
  }

  test('the spec hooks move an allocated interface into the pod and back; it never leaves the kubelet view', async () => {
    const { net } = suite;
    const link = net.veth().host;
    ip('addr', 'add', '10.213.11.1/24', 'dev', link);
    ip('link', 'set', link, 'up');
    const podNs = net.netns();
    const nd = await suite.startOffering([
      '--cdi-mode',
      'hooks',
      '--hook-dir',
      path.dirname(HOOK),
      '--rescan-interval',
      '1h',
    ]);
    const updates: string[][] = [];
    nd.kubelet.on('update', (_r: string, devices: { id: string }[]) =>
      updates.push(devices.map((d) => d.id)),
    );

    // The kubelet allocates; the runtime resolves the CDI name to this device's hooks.
    const [response] = await nd.kubelet.allocate(RESOURCE, [[link]], POD);
    const [cdiName] = response.cdi_devices.map((d) => d.name);
    expect(cdiName).toBe(`networking.k8s.io/netdevice=${link}`);
    const device = readCdiSpec(nd.specPath())!.devices.find(
      (d) => `networking.k8s.io/netdevice=${d.name}` === cdiName,
    )!;
    const [createRuntime, poststop] = device.containerEdits.hooks!;
    expect([createRuntime.hookName, poststop.hookName]).toEqual(['createRuntime', 'poststop']);

    const bundle = fs.mkdtempSync(path.join(work, 'bundle-'));
    fs.writeFileSync(
      path.join(bundle, 'config.json'),
      JSON.stringify({
        ociVersion: '1.2.0',
        linux: { namespaces: [{ type: 'network', path: `/var/run/netns/${podNs}` }] },
      }),
    );
    const state = JSON.stringify({
      ociVersion: '1.2.0',
      id: 'app-1',
      status: 'creating',
      pid: process.pid,
      bundle,
    });

    expect(runSpecHook(createRuntime, state).status).toBe(0);
    expect(linkState(link, podNs)).toMatchObject({ up: true, addresses: ['10.213.11.1/24'] });
    await eventually(
      () => logRecords(nd, 'left the host for a pod').length === 1,
      1000,
      'the plugin to see it go',
    );
    expect(nd.seen()).toEqual([`${link}:Healthy`]);

    expect(runSpecHook(poststop, state).status).toBe(0);
    nd.kubelet.removePod(POD.pod, POD.namespace);
    expect(linkState(link)).toMatchObject({ up: true, addresses: ['10.213.11.1/24'] });
    await eventually(
      () => logRecords(nd, 'back on the host').length === 1,
      1000,
      'the plugin to see it back',
    );
    await nd.kubelet.waitFor(sees(nd, `${link}:Healthy`), 1000, 'the link to be offered again');
    for (const list of updates) expect(list).toEqual([link]); // the resource never flapped
    const [again] = await nd.kubelet.allocate(RESOURCE, [[link]]);
    expect(again.cdi_devices).toEqual([{ name: cdiName }]);
  });
});
