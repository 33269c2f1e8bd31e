/**
 * The CXI plugin end to end, in process: real sockets through the kubelet simulator, fixture sysfs
 * and devfs trees with real character devices.
 */
import * as fs from 'fs';
import * as path from 'path';
import { startPlugin, type RunningPlugin } from '../../../plugins/cli/command';
import { UsageError } from '../../../plugins/framework/flags';
import {
  AllocationError,
  createLogger,
  silentLogger,
  type Device,
  type Logger,
} from '../../../plugins/framework';
import { command } from '../../../plugins/cxi/command';
import { CxiPlugin } from '../../../plugins/cxi/plugin';
import {
  addFixtureNic,
  makeCharDevice,
  removeFixtureNic,
  DEFAULT_NICS,
} from '../../../simulator/devices/cxi';
import { runGenerator } from '../../../plugins/cxi/generator-main';
import { makeNode } from '../../../simulator/devices/device-nodes';
import { KubeletSimulator } from '../../../simulator/kubelet';
import { testWithDeviceCgroup, withDeviceDenied } from '../../helpers/device-cgroup';
import { eventually, removeDir, tempDir } from '../../helpers/tmp';
import { describeAsRoot, fixture, fixtureLibraries, rootEnv, rootFlags, type FixtureHandle } from './helpers';

const RESOURCE = 'beta.hpe.com/cxi';

let fx: FixtureHandle;
let dpDir: string;
let kubelet: KubeletSimulator;
let running: RunningPlugin | undefined;
let logs: string[];

beforeEach(async () => {
  dpDir = tempDir('kdp-dp-');
  kubelet = new KubeletSimulator({ devicePluginDir: dpDir });
  await kubelet.start();
  logs = [];
});

afterEach(async () => {
  await running?.stop();
  running = undefined;
  await kubelet.stop();
  removeDir(dpDir);
  fx?.cleanup();
});

async function start(args: string[] = [], env: NodeJS.ProcessEnv = {}): Promise<void> {
  running = await startPlugin(command, [`--device-plugin-dir=${dpDir}`, ...rootFlags(fx), ...args], {
    env,
    manager: { pollIntervalMs: 200 },
    logWrite: (line) => logs.push(line),
  });
  await kubelet.waitForRegistration(RESOURCE);
}

const devices = () => kubelet.resource(RESOURCE)!.devices;
const ids = () => devices().map((d) => d.id);
const states = () => devices().map((d) => `${d.id}:${d.health}`);
const logged = (msg: string) => logs.map((l) => JSON.parse(l)).filter((l) => l.msg === msg);

/** The plugin itself on the fixture, without the framework, no watch or timer due within a test. */
function directPlugin(log: Logger = silentLogger): CxiPlugin {
  return new CxiPlugin({
    resourceName: RESOURCE,
    sysfsRoot: fx.sysfsRoot,
    devfsRoot: fx.devfsRoot,
    ofiRoot: fx.ofiRoot,
    cxiRoot: fx.cxiRoot,
    virtualDevices: 1,
    rescanIntervalMs: 3_600_000,
    healthIntervalMs: 3_600_000,
    log,
  });
}

async function allocateError(containers: string[][]): Promise<string> {
  try {
    await kubelet.allocate(RESOURCE, containers);
  } catch (err) {
    return (err as Error).message;
  }
  throw new Error('Allocate succeeded');
}

describeAsRoot('CXI plugin through the kubelet', () => {
  test('registers every HPE NIC with its NUMA node; each container gets only the NICs it asked for', async () => {
    fx = fixture();
    await start();
    expect(devices()).toEqual([
      { id: '0', health: 'Healthy', numaNodes: [0] },
      { id: '1', health: 'Healthy', numaNodes: [0] },
      { id: '2', health: 'Healthy', numaNodes: [1] },
      { id: '10', health: 'Healthy', numaNodes: [1] },
    ]);
    const [first, second] = await kubelet.allocate(RESOURCE, [['1'], ['10', '2']]);
    expect(first.devices.map((d) => d.container_path)).toEqual(['/dev/cxi1', '/dev/xpmem']);
    expect(second.devices).toEqual([
      { container_path: '/dev/cxi2', host_path: path.join(fx.devfsRoot, 'cxi2'), permissions: 'rw' },
      { container_path: '/dev/cxi10', host_path: path.join(fx.devfsRoot, 'cxi10'), permissions: 'rw' },
      { container_path: '/dev/xpmem', host_path: path.join(fx.devfsRoot, 'xpmem'), permissions: 'rw' },
    ]);
    for (const res of [first, second]) {
      expect(res.envs).toEqual({ LD_LIBRARY_PATH: `${fx.ofiRoot}:${fx.cxiRoot}` });
      expect(res.mounts.map((m) => m.host_path)).toEqual(fixtureLibraries(fx));
      expect(res.mounts.every((m) => m.read_only && m.container_path === m.host_path)).toBe(true);
      expect(res.cdi_devices).toEqual([]);
    }
    expect(logged('CXI NIC found').map((l) => l.nic)).toEqual(['cxi0', 'cxi1', 'cxi2', 'cxi10']);
    expect(logged('ignoring cxi class entry').map((l) => l.entry)).toEqual(['cxi3', 'cxi4']);
  });

  test('unknown and malformed IDs are gRPC errors naming them', async () => {
    fx = fixture();
    await start();
    expect(await allocateError([['0'], ['7', 'cxi1']])).toMatch(
      /unknown device IDs for beta.hpe.com\/cxi: "7", "cxi1"/,
    );
  });

  test('virtual devices: k IDs per NIC, mapped to their physical NIC; preferred picks distinct NICs on one node', async () => {
    fx = fixture();
    await start([], { CXI_VIRTUAL_DEVICES: '3' });
    expect(ids()).toEqual([
      '0-0',
      '0-1',
      '0-2',
      '1-0',
      '1-1',
      '1-2',
      '2-0',
      '2-1',
      '2-2',
      '10-0',
      '10-1',
      '10-2',
    ]);
    expect(devices().find((d) => d.id === '10-2')!.numaNodes).toEqual([1]);
    const [res] = await kubelet.allocate(RESOURCE, [['1-0', '1-2', '10-1']]);
    expect(res.devices.map((d) => d.container_path)).toEqual(['/dev/cxi1', '/dev/cxi10', '/dev/xpmem']);

    const [preferred] = await kubelet.preferredAllocation(RESOURCE, [{ available: ids(), size: 2 }]);
    expect(preferred).toEqual(['0-0', '1-0']);
    const [withMust] = await kubelet.preferredAllocation(RESOURCE, [
      { available: ids(), mustInclude: ['10-1'], size: 3 },
    ]);
    expect(withMust).toEqual(['10-1', '2-0', '2-1']); // NIC 2 and 10 then tie at one ID each
    expect(await allocateError([['1']])).toMatch(/unknown device IDs for beta.hpe.com\/cxi: "1"/);
  });

  test('GetPreferredAllocation on inconsistent input (issue 12): INVALID_ARGUMENT naming the problem', async () => {
    fx = fixture();
    await start(['--virtual-devices=2']);
    const refused = (request: { available: string[]; mustInclude?: string[]; size: number }) =>
      kubelet.preferredAllocation(RESOURCE, [request]).then(
        (answer) => `answered ${JSON.stringify(answer)}`,
        (err: { code: number; details: string }) => `${err.code}: ${err.details}`,
      );
    // The two reproductions: they used to return [1-1] (not available) and 3 IDs for size 1.
    expect(await refused({ available: ['0-0', '0-1'], mustInclude: ['1-1'], size: 1 })).toMatch(
      /^3: .*must_include_deviceIDs not in available_deviceIDs: "1-1"/,
    );
    expect(
      await refused({ available: ['0-0', '0-1', '1-0'], mustInclude: ['0-0', '0-1', '1-0'], size: 1 }),
    ).toMatch(/^3: .*must_include_deviceIDs has 3 IDs, more than allocation_size 1/);
    expect(await refused({ available: ['0-0', '0-0'], size: 1 })).toMatch(/^3: .*lists IDs twice: "0-0"/);
    expect(await refused({ available: ['0-0'], size: 2 })).toMatch(
      /^3: .*allocation_size 2 is more than the 1/,
    );
    expect(await refused({ available: ['0-0'], size: 0 })).toMatch(
      /^3: .*allocation_size 0 must be at least 1/,
    );
    expect(await refused({ available: ['0-0', '0-1', '1-0'], mustInclude: ['0-1'], size: 2 })).toBe(
      'answered [["0-1","1-0"]]',
    );
  });

  test('hot-plug: NICs added or removed show up in ListAndWatch without a restart', async () => {
    fx = fixture();
    await start(['--rescan-interval=1h']); // the devfs and class/cxi watches alone must notice
    addFixtureNic(fx, { number: 5, pciAddress: '0000:c3:00.0', numaNode: 1 });
    await kubelet.waitFor(() => ids().includes('5'), 3000, 'NIC 5 to appear');
    expect(devices().find((d) => d.id === '5')).toEqual({ id: '5', health: 'Healthy', numaNodes: [1] });
    const [res] = await kubelet.allocate(RESOURCE, [['5']]);
    expect(res.devices[0].container_path).toBe('/dev/cxi5');

    removeFixtureNic(fx, DEFAULT_NICS[1]);
    await kubelet.waitFor(() => !ids().includes('1'), 3000, 'NIC 1 to go');
    expect(ids()).toEqual(['0', '2', '5', '10']);
    expect(logged('CXI NIC gone from sysfs')).toEqual([expect.objectContaining({ nic: 'cxi1', number: 1 })]);
  });

  test('the periodic rescan picks up sysfs changes no watch can see', async () => {
    fx = fixture();
    await start(['--rescan-interval=100ms']);
    // A NUMA node rewritten in place, deep in the PCI device: only the rescan reads it again.
    fs.writeFileSync(path.join(fx.sysfsRoot, 'devices', 'pci0000:00', '0000:41:00.0', 'numa_node'), '1\n');
    await kubelet.waitFor(() => devices()[0].numaNodes[0] === 1, 3000, 'NIC 0 to move to NUMA node 1');
  });

  test('health: a vanished or unopenable /dev/cxiN turns Unhealthy and recovers when it returns', async () => {
    fx = fixture();
    await start(['--rescan-interval=1h', '--health-interval=1h']);
    const node2 = path.join(fx.devfsRoot, 'cxi2');
    fs.rmSync(node2);
    await kubelet.waitFor(() => states().includes('2:Unhealthy'), 3000, 'NIC 2 Unhealthy');
    expect(kubelet.allocatable(RESOURCE)).toBe(3);
    expect(await allocateError([['2']])).toMatch(/unhealthy device IDs for beta.hpe.com\/cxi: "2"/);
    expect(logged('CXI NIC unhealthy')).toEqual([
      expect.objectContaining({
        level: 'warn',
        nic: 'cxi2',
        device: node2,
        reason: `${node2} does not exist`,
      }),
    ]);

    makeCharDevice(node2, false);
    await eventually(() => logged('CXI NIC unhealthy').length === 2, 3000, 'the new reason to be logged');
    expect(logged('CXI NIC unhealthy')[1].reason).toBe(
      `${node2} cannot be opened read-only: ENXIO (no such device or address)`,
    );

    makeCharDevice(node2, true);
    await kubelet.waitFor(() => states().includes('2:Healthy'), 3000, 'NIC 2 Healthy again');
    expect(logged('CXI NIC healthy again')).toEqual([
      expect.objectContaining({ nic: 'cxi2', device: node2 }),
    ]);
    const [res] = await kubelet.allocate(RESOURCE, [['2']]);
    expect(res.devices[0].container_path).toBe('/dev/cxi2');
  });

  test('the health interval catches a node that fails without any devfs event', async () => {
    fx = fixture();
    // /dev/cxi0 is a link to a node elsewhere: replacing that node changes nothing the watch sees.
    const real = path.join(fx.root, 'real');
    fs.mkdirSync(real);
    makeCharDevice(path.join(real, 'cxi0'), true);
    fs.rmSync(path.join(fx.devfsRoot, 'cxi0'));
    fs.symlinkSync(path.join(real, 'cxi0'), path.join(fx.devfsRoot, 'cxi0'));
    await start(['--rescan-interval=1h', '--health-interval=100ms']);
    expect(states()[0]).toBe('0:Healthy');
    makeCharDevice(path.join(real, 'cxi0'), false);
    await kubelet.waitFor(() => states()[0] === '0:Unhealthy', 3000, 'NIC 0 Unhealthy');
    makeCharDevice(path.join(real, 'cxi0'), true);
    await kubelet.waitFor(() => states()[0] === '0:Healthy', 3000, 'NIC 0 Healthy again');
  });

  test('a node that vanished since the last check fails Allocate with FAILED_PRECONDITION and is withdrawn', () => {
    fx = fixture();
    // The plugin itself, so nothing (no watch, no timer) can notice the removal before Allocate does.
    const published: Device[][] = [];
    const plugin = directPlugin();
    plugin.start((list) => published.push(list));
    try {
      fs.rmSync(path.join(fx.devfsRoot, 'cxi1'));
      let error: unknown;
      try {
        plugin.allocate(['1']);
      } catch (err) {
        error = err;
      }
      expect(error).toBeInstanceOf(AllocationError);
      expect((error as AllocationError).grpcCode).toBe(9);
      expect((error as Error).message).toBe(
        `CXI NIC not usable now: ${path.join(fx.devfsRoot, 'cxi1')} does not exist`,
      );
      expect(published.at(-1)!.find((d) => d.id === '1')!.health).toBe('Unhealthy');
    } finally {
      plugin.stop();
    }
  });

  testWithDeviceCgroup(
    'unprivileged (the device cgroup refuses the open, EPERM): Healthy and allocatable, the note logged once per NIC',
    () => {
      fx = fixture();
      // cxi0 and cxi1 as /dev/full clones (1:7), a device no one else here opens.
      for (const nic of ['cxi0', 'cxi1'])
        makeNode(path.join(fx.devfsRoot, nic), { type: 'char', major: 1, minor: 7 });
      const records: Record<string, unknown>[] = [];
      const published: Device[][] = [];
      const plugin = directPlugin(createLogger({ write: (line) => records.push(JSON.parse(line)) }));
      try {
        withDeviceDenied({ major: 1, minor: 7 }, () => {
          plugin.start((list) => published.push(list));
          for (let i = 0; i < 20; i++) plugin.checkHealth();
          expect(plugin.allocate(['0', '1']).devices).toHaveLength(3); // cxi0, cxi1, xpmem
        });
        expect(published.at(-1)!.map((d) => `${d.id}:${d.health}`)).toEqual([
          '0:Healthy',
          '1:Healthy',
          '2:Healthy',
          '10:Healthy',
        ]);
        expect(records.filter((r) => r.level === 'warn')).toEqual([]);
        expect(records.filter((r) => r.note)).toEqual(
          ['cxi0', 'cxi1'].map((nic) =>
            expect.objectContaining({
              level: 'info',
              msg: 'CXI NIC healthy without its device node being opened',
              nic,
              device: path.join(fx.devfsRoot, nic),
              note: 'device cgroup forbids opening it here; checked existence and type only',
            }),
          ),
        );
      } finally {
        plugin.stop();
      }
    },
  );

  test('--cdi: Allocate returns hpe.com/cxi=<N> names from the generated spec, and says when it is stale', async () => {
    fx = fixture();
    const gen = runGenerator([], { env: rootEnv(fx), stdout: () => undefined, stderr: () => undefined });
    expect(gen).toBe(0);
    await start(['--cdi'], { CXI_VIRTUAL_DEVICES: '2' });
    const [a, b] = await kubelet.allocate(RESOURCE, [['10-0', '10-1', '0-1'], ['2-0']]);
    expect(a.cdi_devices).toEqual([{ name: 'hpe.com/cxi=0' }, { name: 'hpe.com/cxi=10' }]);
    expect(b.cdi_devices).toEqual([{ name: 'hpe.com/cxi=2' }]);
    expect([a.devices, a.mounts, a.envs]).toEqual([[], [], {}]);

    addFixtureNic(fx, { number: 5, pciAddress: '0000:c3:00.0', numaNode: 1 });
    await kubelet.waitFor(() => ids().includes('5-0'), 3000, 'NIC 5 to appear');
    expect(await allocateError([['5-0']])).toBe(
      `9 FAILED_PRECONDITION: CDI spec ${path.join(fx.cdiDir, 'hpe.com-cxi.yaml')} has no device for NIC 5 ` +
        `(re-run cxi-cdi-generator --cdi-dir ${fx.cdiDir})`,
    );
  });

  test('bad configuration stops the start with a UsageError naming the flag or env var', async () => {
    fx = fixture();
    const attempt = async (args: string[], env: NodeJS.ProcessEnv = {}) => {
      try {
        await startPlugin(command, [`--device-plugin-dir=${dpDir}`, ...rootFlags(fx), ...args], {
          env,
          logWrite: () => undefined,
        });
      } catch (err) {
        expect(err).toBeInstanceOf(UsageError);
        return (err as Error).message;
      }
      throw new Error('the plugin started');
    };
    expect(await attempt(['--virtual-devices=0'])).toBe(
      'invalid value for --virtual-devices: 0 is below the minimum 1',
    );
    expect(await attempt([], { CXI_VIRTUAL_DEVICES: 'two' })).toBe(
      'invalid value for CXI_VIRTUAL_DEVICES (env): "two" is not an integer',
    );
    expect(await attempt([], { HEALTH_INTERVAL: '10' })).toMatch(
      /^invalid value for HEALTH_INTERVAL \(env\): "10" is not a duration/,
    );
    expect(await attempt([`--cxi-root=${path.join(fx.root, 'nope')}`])).toBe(
      `--cxi-root (CXI_ROOT): ${path.join(fx.root, 'nope')} does not exist`,
    );
    const file = path.join(fx.root, 'file');
    fs.writeFileSync(file, '');
    expect(await attempt([`--devfs-root=${file}`])).toBe(
      `--devfs-root (DEVFS_ROOT): ${file} is not a directory`,
    );
    expect(await attempt(['--resource-name=cxi'])).toMatch(
      /^--resource-name \(CXI_RESOURCE_NAME\): "cxi" has no domain prefix/,
    );
    expect(fs.readdirSync(dpDir)).toEqual(['kubelet.sock']); // nothing was served
  });

  test('a node without CXI NICs registers an empty resource and says why', async () => {
    fx = fixture([]);
    fs.rmSync(path.join(fx.sysfsRoot, 'class'), { recursive: true });
    await start();
    expect(devices()).toEqual([]);
    expect(logged('no CXI NIC to offer')[0].reason).toMatch(
      /class\/cxi does not exist: is the cxi driver loaded\?$/,
    );
  });
});
