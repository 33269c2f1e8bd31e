import * as fs from 'fs';
import * as path from 'path';
import * as grpc from '@grpc/grpc-js';
import { makeNode } from '../../../simulator/devices/device-nodes';
import { cdiSpecErrors, createLogger, readCdiSpec, silentLogger } from '../../../plugins/framework';
import { command } from '../../../plugins/kvm/command';
import { createKvmResource } from '../../../plugins/kvm/plugin';
import { cdiSchemaErrors } from '../../helpers/cdi-schema';
import { testWithDeviceCgroup, withDeviceDenied } from '../../helpers/device-cgroup';
import {
  describeAsRoot,
  describeWithBuild,
  kubeletHealth,
  openFds,
  expectCleanSigterm,
  sandbox,
  spawnCli,
  startInProcess,
  useFamilySandbox,
} from '../device-nodes/helpers';

const RES = 'github.com.ihcsim/kvm';
const SPEC_FILE = 'github.com.ihcsim-kvm.yaml';

describeAsRoot('kvm plugin (fixture devfs)', () => {
  const sb = useFamilySandbox(command, 'kvm');
  const kvmNode = () => path.join(sb.box.devfsRoot, 'kvm');
  const start = async (args: string[] = [], env: NodeJS.ProcessEnv = {}, resource = RES) => {
    const plugin = await sb.start(args, env);
    await sb.box.kubelet.waitForRegistration(resource);
    return plugin;
  };

  test('advertises 110 shared Healthy IDs by default', async () => {
    await start();
    const devices = sb.box.kubelet.resource(RES)!.devices;
    expect(devices).toHaveLength(110);
    expect(devices[0]).toEqual({ id: 'kvm-0', health: 'Healthy', numaNodes: [] });
    expect(devices.map((d) => d.id)).toContain('kvm-109');
    expect(sb.box.kubelet.allocatable(RES)).toBe(110);
  });

  test('Allocate: /dev/kvm rw per container, plus the fully-qualified CDI name of a valid 0644 spec', async () => {
    await start();
    const responses = await sb.box.kubelet.allocate(RES, [['kvm-0'], ['kvm-5', 'kvm-6']]);
    expect(responses).toHaveLength(2);
    for (const res of responses) {
      expect(res.devices).toEqual([{ container_path: '/dev/kvm', host_path: kvmNode(), permissions: 'rw' }]);
      expect(res.cdi_devices).toEqual([{ name: 'github.com.ihcsim/kvm=kvm' }]);
      expect(res.mounts).toEqual([]);
    }
    const file = path.join(sb.box.cdiDir, SPEC_FILE);
    const spec = readCdiSpec(file);
    expect(cdiSchemaErrors(spec)).toEqual([]);
    expect(cdiSpecErrors(spec!)).toEqual([]);
    expect(spec).toEqual({
      cdiVersion: '0.5.0',
      kind: RES,
      devices: [
        {
          name: 'kvm',
          containerEdits: { deviceNodes: [{ path: '/dev/kvm', hostPath: kvmNode(), permissions: 'rw' }] },
        },
      ],
    });
    expect(fs.statSync(file).mode & 0o777).toBe(0o644);
  });

  test('--cdi=false: no spec, no CDI names', async () => {
    await start(['--cdi=false']);
    const [res] = await sb.box.kubelet.allocate(RES, [['kvm-1']]);
    expect(res.cdi_devices).toEqual([]);
    expect(res.devices).toHaveLength(1);
    expect(fs.existsSync(sb.box.cdiDir)).toBe(false);
  });

  test('flags by env: KVM_RESOURCE_NAME, SHARED_COUNT, CDI; the CDI kind follows the resource name', async () => {
    const name = 'devices.kubevirt.io/kvm';
    await start([], { KVM_RESOURCE_NAME: name, SHARED_COUNT: '3', CDI: 'true' }, name);
    expect(sb.box.kubelet.resource(name)!.devices.map((d) => d.id)).toEqual(['kvm-0', 'kvm-1', 'kvm-2']);
    const [res] = await sb.box.kubelet.allocate(name, [['kvm-2']]);
    expect(res.cdi_devices).toEqual([{ name: 'devices.kubevirt.io/kvm=kvm' }]);
    expect(cdiSchemaErrors(readCdiSpec(path.join(sb.box.cdiDir, 'devices.kubevirt.io-kvm.yaml')))).toEqual(
      [],
    );
  });

  test('removed node: every ID Unhealthy within 100 ms (generous bound here; the bench measures it), Healthy when back', async () => {
    await start();
    fs.rmSync(kvmNode());
    await sb.box.kubelet.waitFor(
      () => kubeletHealth(sb.box.kubelet, RES) === 'Unhealthy',
      1000,
      'all Unhealthy',
    );
    expect(sb.box.kubelet.capacity(RES)).toBe(110);
    expect(sb.box.kubelet.allocatable(RES)).toBe(0);
    await expect(sb.box.kubelet.allocate(RES, [['kvm-0']])).rejects.toMatchObject({
      code: grpc.status.FAILED_PRECONDITION,
      details: expect.stringContaining('"kvm-0"'),
    });
    makeNode(kvmNode(), { type: 'char', major: 1, minor: 3 });
    await sb.box.kubelet.waitFor(() => kubeletHealth(sb.box.kubelet, RES) === 'Healthy', 1000, 'all Healthy');
  });

  test('Allocate re-checks the node: one gone or no longer opening since the last scan fails FAILED_PRECONDITION and rescans', async () => {
    // /dev/kvm as a link into a directory the plugin does not watch: changing the target sends no event,
    // as a node removed in the moment before the watch's rescan.
    const target = path.join(sb.box.root, 'elsewhere', 'kvm');
    makeNode(target, { type: 'char', major: 1, minor: 3 });
    fs.rmSync(kvmNode());
    fs.symlinkSync(target, kvmNode());
    await start(['--shared-count=3']);
    expect(kubeletHealth(sb.box.kubelet, RES)).toBe('Healthy');

    makeNode(target, { type: 'char', major: 240, minor: 0 }); // no driver: ENXIO on the read-write open
    await expect(sb.box.kubelet.allocate(RES, [['kvm-1', 'kvm-2']])).rejects.toMatchObject({
      code: grpc.status.FAILED_PRECONDITION,
      details: expect.stringMatching(
        new RegExp(`kvm-1, kvm-2: ${kvmNode()} cannot be opened read-write: ENXIO`),
      ),
    });
    await sb.box.kubelet.waitFor(() => kubeletHealth(sb.box.kubelet, RES) === 'Unhealthy', 1000, 'rescanned');

    makeNode(target, { type: 'char', major: 1, minor: 3 });
    fs.writeFileSync(path.join(sb.box.devfsRoot, 'poke'), ''); // an event in the devfs root: rescan
    await sb.box.kubelet.waitFor(
      () => kubeletHealth(sb.box.kubelet, RES) === 'Healthy',
      1000,
      'Healthy again',
    );
    fs.rmSync(target); // gone: the link dangles
    await expect(sb.box.kubelet.allocate(RES, [['kvm-0']])).rejects.toMatchObject({
      code: grpc.status.FAILED_PRECONDITION,
      details: expect.stringContaining(`kvm-0: ${kvmNode()} is a symlink to nothing`),
    });
    await sb.box.kubelet.waitFor(() => kubeletHealth(sb.box.kubelet, RES) === 'Unhealthy', 1000, 'rescanned');
  });

  test('a node that does not open read-write is Unhealthy, and the log says why', async () => {
    makeNode(kvmNode(), { type: 'char', major: 240, minor: 0 }); // no driver: ENXIO
    const { logs } = await start();
    expect(kubeletHealth(sb.box.kubelet, RES)).toBe('Unhealthy');
    expect(logs).toContainEqual(
      expect.objectContaining({
        level: 'warn',
        msg: 'device node found but unusable',
        resource: RES,
        reason: expect.stringMatching(/cannot be opened read-write: ENXIO/),
      }),
    );
  });

  test('no /dev/kvm at start: IDs are advertised Unhealthy, and turn Healthy when it appears', async () => {
    fs.rmSync(kvmNode());
    await start();
    expect(kubeletHealth(sb.box.kubelet, RES)).toBe('Unhealthy');
    makeNode(kvmNode(), { type: 'char', major: 1, minor: 3 });
    await sb.box.kubelet.waitFor(() => kubeletHealth(sb.box.kubelet, RES) === 'Healthy', 1000, 'Healthy');
  });

  test('kubelet restart: registers again and streams the same list', async () => {
    await start();
    await sb.box.kubelet.restart();
    await sb.box.kubelet.waitForRegistration(RES);
    expect(sb.box.kubelet.allocatable(RES)).toBe(110);
  });

  test('health checks leak no file descriptors (1000 rescans, healthy and unhealthy)', () => {
    const resource = createKvmResource({
      resourceName: RES,
      devfsRoot: sb.box.devfsRoot,
      shareCount: 2,
      log: silentLogger,
    });
    resource.start(() => undefined);
    try {
      const before = openFds();
      for (let i = 0; i < 500; i++) resource.refresh();
      makeNode(kvmNode(), { type: 'char', major: 240, minor: 0 });
      for (let i = 0; i < 500; i++) resource.refresh();
      expect(openFds()).toBe(before);
    } finally {
      resource.stop();
    }
  });

  testWithDeviceCgroup(
    'unprivileged (the device cgroup refuses the open, EPERM): Healthy, and the note is logged once',
    () => {
      makeNode(kvmNode(), { type: 'char', major: 1, minor: 7 }); // a /dev/full clone no one else opens
      const logs: Record<string, unknown>[] = [];
      const published: string[][] = [];
      const resource = createKvmResource({
        resourceName: RES,
        devfsRoot: sb.box.devfsRoot,
        shareCount: 2,
        log: createLogger({ write: (line) => logs.push(JSON.parse(line)) }),
      });
      try {
        withDeviceDenied({ major: 1, minor: 7 }, () => {
          resource.start((devices) => published.push(devices.map((d) => `${d.id}:${d.health}`)));
          for (let i = 0; i < 20; i++) resource.refresh();
        });
        expect(published).toEqual([['kvm-0:Healthy', 'kvm-1:Healthy']]);
        expect(logs.filter((l) => l.level !== 'info')).toEqual([]);
        expect(logs.filter((l) => l.note)).toEqual([
          expect.objectContaining({
            level: 'info',
            msg: 'device node healthy without being opened',
            device: 'kvm',
            path: kvmNode(),
            devno: '1:7',
            note: 'device cgroup forbids opening it here; checked existence and type only',
          }),
        ]);
      } finally {
        resource.stop();
      }
    },
  );

  test('bad flags are usage errors (exit 2) with the reason', async () => {
    const usage = (message: string | RegExp) => ({
      name: 'UsageError',
      message: expect.stringMatching(message),
    });
    await expect(startInProcess(command, [...sb.box.flags, '--shared-count=0'])).rejects.toMatchObject(
      usage('invalid value for --shared-count: 0 is below the minimum 1'),
    );
    await expect(startInProcess(command, [...sb.box.flags, '--resource-name=kvm'])).rejects.toMatchObject(
      usage(/invalid value for --resource-name: "kvm" has no domain prefix/),
    );
    await expect(startInProcess(command, [...sb.box.flags, '--cdi=maybe'])).rejects.toMatchObject(
      usage(/--cdi: "maybe" is not a boolean/),
    );
  });
});

/** This machine's own /dev/kvm, through the whole plugin. */
function describeWithHostKvm(name: string, fn: () => void): void {
  if (fs.existsSync('/dev/kvm')) return describeAsRoot(name, fn);
  if (process.env.CI === 'true') throw new Error('CI=true but this machine has no /dev/kvm');
  console.warn(`SKIPPED "${name}": this machine has no /dev/kvm`);
  describe.skip(name, fn);
}

describeWithHostKvm('kvm plugin (the host /dev/kvm)', () => {
  test('the real /dev/kvm is Healthy, allocated as /dev/kvm, and its CDI spec validates', async () => {
    const box = await sandbox();
    const plugin = await startInProcess(command, [...box.flags, '--devfs-root=/dev', '--shared-count=4']);
    try {
      await box.kubelet.waitForRegistration(RES);
      expect(kubeletHealth(box.kubelet, RES)).toBe('Healthy');
      const [res] = await box.kubelet.allocate(RES, [['kvm-3']]);
      expect(res.devices).toEqual([{ container_path: '/dev/kvm', host_path: '/dev/kvm', permissions: 'rw' }]);
      const spec = readCdiSpec(path.join(box.cdiDir, SPEC_FILE));
      expect(spec!.devices[0].containerEdits.deviceNodes).toEqual([
        { path: '/dev/kvm', hostPath: '/dev/kvm', permissions: 'rw' },
      ]);
      expect(cdiSchemaErrors(spec)).toEqual([]);
      expect(plugin.logs).toContainEqual(
        expect.objectContaining({ msg: 'device node found', devno: '10:232' }),
      );
    } finally {
      await plugin.stop();
      await box.close();
    }
  });
});

describeWithBuild('kvm plugin (real process)', () => {
  test('a bad flag exits 2 with the reason on stderr', async () => {
    const { exited } = spawnCli('kvm', ['--shared-count=many']);
    const { code, stderr } = await exited;
    expect(code).toBe(2);
    expect(stderr).toContain('invalid value for --shared-count: "many" is not an integer');
  });

  test('serves the fixture, and SIGTERM removes its socket and exits 0', async () => {
    const box = await sandbox('kvm');
    try {
      await expectCleanSigterm(box, 'kvm', [], [RES], () => expect(box.kubelet.allocatable(RES)).toBe(110));
    } finally {
      await box.close();
    }
  });
});
