/** The CDI spec on disk: content per mode, upstream schema, atomic rewrites only when the set changes. */
import { execFileSync } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import { cdiSpecErrors, readCdiSpec, type CdiSpec } from '../../../plugins/framework';
import { cdiSchemaErrors } from '../../helpers/cdi-schema';
import { eventually } from '../../helpers/tmp';
import { upstreamAvailable } from '../../helpers/upstream';
import { describeNet, ip } from './net';
import { logRecords, netdeviceSuite, sees } from './harness';

const escape = (text: string) => text.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');

/** Every spec must load in a CDI registry: our own rules, plus the upstream schema when it is here. */
function expectValid(spec: CdiSpec): void {
  expect(cdiSpecErrors(spec)).toEqual([]);
  if (upstreamAvailable()) expect(cdiSchemaErrors(spec)).toEqual([]);
  else console.warn('upstream CDI schema not present: checked against our own rules only');
}

describeNet('netdevice CDI spec', () => {
  const suite = netdeviceSuite();

  test('netdevices mode: one CDI 1.1.0 netDevice per interface, rewritten atomically only when the set changes', async () => {
    const { net } = suite;
    const first = net.veth().host;
    ip('link', 'set', first, 'up');
    const nd = await suite.startOffering(['--cdi-mode', 'netdevices', '--rescan-interval', '1h']);
    const file = nd.specPath();
    const spec = readCdiSpec(file)!;
    expectValid(spec);
    expect(spec).toEqual({
      cdiVersion: '1.1.0',
      kind: 'networking.k8s.io/netdevice',
      devices: [{ name: first, containerEdits: { netDevices: [{ hostInterfaceName: first, name: first }] } }],
    });
    expect(fs.statSync(file).mode & 0o777).toBe(0o644);

    // Health is the kubelet's business: the spec file is not touched.
    const inode = fs.statSync(file).ino;
    ip('link', 'set', first, 'down');
    await nd.kubelet.waitFor(sees(nd, `${first}:Unhealthy`), 1000, 'link down');
    expect(fs.statSync(file).ino).toBe(inode);

    // A new interface is in the spec before the kubelet hears of it (atomic rename: a new inode).
    const second = net.veth().host;
    await nd.kubelet.waitFor(sees(nd, `${first}:Unhealthy`, `${second}:Unhealthy`), 1000, 'new link');
    expect(fs.statSync(file).ino).not.toBe(inode);
    const updated = readCdiSpec(file)!;
    expectValid(updated);
    expect(updated.devices.map((d) => d.name)).toEqual([first, second].sort());
    expect(fs.readdirSync(nd.cdiDir)).toEqual([path.basename(file)]); // no temp files left behind

    // No interface left: no spec (a spec with no devices is invalid).
    ip('link', 'del', first);
    ip('link', 'del', second);
    await nd.kubelet.waitFor(sees(nd), 1000, 'both links gone');
    expect(fs.existsSync(file)).toBe(false);
  });

  test('hooks mode: createRuntime and poststop hooks from --hook-dir, per interface', async () => {
    const { net } = suite;
    const link = net.veth().host;
    const nd = await suite.startOffering(['--cdi-mode', 'hooks', '--hook-dir', '/opt/kdp/hooks']);
    const spec = readCdiSpec(nd.specPath())!;
    expectValid(spec);
    const hook = (hookName: string) => ({
      hookName,
      path: '/opt/kdp/hooks/netdevice-hook.sh',
      args: ['netdevice-hook.sh', hookName, link],
      env: ['PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'],
      timeout: 10,
    });
    expect(spec.devices).toEqual([
      { name: link, containerEdits: { hooks: [hook('createRuntime'), hook('poststop')] } },
    ]);
    // The plugin cannot see the host's hook dir here: it says so, and carries on.
    expect(logRecords(nd, 'hook program not visible at --hook-dir')[0]).toMatchObject({
      level: 'warn',
      hook: '/opt/kdp/hooks/netdevice-hook.sh',
    });
  });

  test('another resource name gets its own spec file, so two instances never overwrite each other', async () => {
    const { net } = suite;
    const link = net.veth().host;
    const nd = await suite.startOffering(['--resource-name', 'example.com/fast-nic']);
    // The first list may predate the scan that finds the veth (seen on a loaded machine): wait for it.
    await nd.kubelet.waitFor(sees(nd, `${link}:Unhealthy`), 5000, 'the veth advertised');
    expect(nd.seen()).toEqual([`${link}:Unhealthy`]);
    expect(fs.readdirSync(nd.cdiDir)).toEqual(['networking.k8s.io-netdevice_example.com_fast-nic.yaml']);
    const spec = readCdiSpec(nd.specPath())!;
    expectValid(spec);
    expect(spec.kind).toBe('networking.k8s.io/netdevice'); // the kind is fixed; only the file differs
  });

  test('a CDI dir that turns read-only: Allocate refused naming the spec, /readyz reason, written again once usable', async () => {
    const [first] = suite.net.upVeths(1);
    const nd = await suite.startOffering(['--rescan-interval', '1h']);
    const file = nd.specPath();
    expect(readCdiSpec(file)!.devices.map((d) => d.name)).toEqual([first]);
    // A read-only file system over the CDI dir (as a read-only host mount would be), then a new interface.
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=64k,ro', 'tmpfs', nd.cdiDir]);
    try {
      const [second] = suite.net.upVeths(1);
      await nd.kubelet.waitFor(sees(nd, `${first}:Healthy`, `${second}:Healthy`), 5000, 'the new veth');
      await eventually(() => nd.plugin.unreadyReason() !== undefined, 5000, 'the write failure');
      expect(nd.plugin.unreadyReason()).toMatch(
        new RegExp(`^CDI spec ${escape(file)} cannot be written: .*EROFS`),
      );
      // No CDI name goes out that would not resolve: refused, naming the file and the cause.
      await expect(nd.kubelet.allocate(nd.resource, [[first]])).rejects.toThrow(
        new RegExp(`^9 FAILED_PRECONDITION: CDI spec ${escape(file)} cannot be written \\(.*EROFS`),
      );
      expect(logRecords(nd, 'cannot write the CDI spec')).toHaveLength(1); // said once, not per retry
    } finally {
      execFileSync('umount', [nd.cdiDir]);
    }
    // Usable again: the retry writes the whole current set, and allocations resume.
    await eventually(() => readCdiSpec(file)?.devices.length === 2, 15_000, 'the spec with both interfaces');
    expect(nd.plugin.unreadyReason()).toBeUndefined();
    const [response] = await nd.kubelet.allocate(nd.resource, [[first]]);
    expect(response.cdi_devices.map((d) => d.name)).toEqual([`networking.k8s.io/netdevice=${first}`]);
    // A spec deleted behind the plugin's back (a cleaned CDI dir) is written again at once.
    fs.rmSync(file);
    await eventually(() => fs.existsSync(file), 5000, 'the spec written again');
    expect(fs.readdirSync(nd.cdiDir)).toEqual([path.basename(file)]); // no temp files left behind
  });
});
