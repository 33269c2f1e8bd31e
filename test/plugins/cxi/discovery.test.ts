/** Discovery of NICs, device-node health, library files and device IDs, on fixture trees. */
import * as fs from 'fs';
import * as path from 'path';
import { AllocationError } from '../../../plugins/framework';
import { deviceNodeHealth, xpmemHostPath } from '../../../plugins/cxi/devfs';
import { kubeletDevices, nicOfId, nicsOfIds } from '../../../plugins/cxi/ids';
import { cxiLibraries, libraryFiles } from '../../../plugins/cxi/libraries';
import { discoverNics } from '../../../plugins/cxi/sysfs';
import { addFixtureNic, makeCharDevice } from '../../../simulator/devices/cxi';
import { describeAsRoot, fixture, fixtureLibraries, FIXTURE_LIBRARIES, type FixtureHandle } from './helpers';

let fx: FixtureHandle;
afterEach(() => fx?.cleanup());

describeAsRoot('CXI discovery', () => {
  test('finds the HPE NICs of every NUMA node, numbered whole (cxi10 is 10), with their attributes', () => {
    fx = fixture();
    const { nics, classDirFound } = discoverNics(fx.sysfsRoot);
    expect(classDirFound).toBe(true);
    expect(nics.map((n) => n.number)).toEqual([0, 1, 2, 10]);
    expect(nics[0]).toEqual({
      name: 'cxi0',
      number: 0,
      pciAddress: '0000:41:00.0',
      pciDeviceId: '0x0501',
      numaNode: 0,
      localCpuList: '0-31',
      cassiniVersion: '2',
      speed: '200000',
    });
    // cxi10 lacks properties/ and local_cpulist: still a NIC, without those facts.
    expect(nics[3]).toEqual({
      name: 'cxi10',
      number: 10,
      pciAddress: '0000:c2:00.0',
      pciDeviceId: '0x0501',
      numaNode: 1,
    });
  });

  test('skips a non-HPE vendor and an entry whose vendor file is missing, saying why', () => {
    fx = fixture();
    const { skipped } = discoverNics(fx.sysfsRoot);
    expect(skipped).toEqual([
      { entry: 'cxi3', reason: 'vendor 0x15b3 is not HPE (0x17db)' },
      { entry: 'cxi4', reason: expect.stringMatching(/^cannot read .*cxi4\/device\/vendor$/) },
    ]);
  });

  test('missing uevent, numa_node -1 and a missing device/cxi dir degrade gracefully', () => {
    fx = fixture([
      { number: 7, pciAddress: '0000:07:00.0', numaNode: -1, missing: ['uevent', 'cxi-dir'] },
      { number: 12, pciAddress: '0000:08:00.0', missing: ['numa_node', 'device'] },
    ]);
    const { nics } = discoverNics(fx.sysfsRoot);
    expect(nics).toEqual([
      // No device/cxi entry: the number comes from the class entry's own name.
      {
        name: 'cxi7',
        number: 7,
        pciDeviceId: '0x0501',
        localCpuList: '0-31',
        cassiniVersion: '2',
        speed: '200000',
      },
      {
        name: 'cxi12',
        number: 12,
        pciAddress: '0000:08:00.0',
        localCpuList: '0-31',
        cassiniVersion: '2',
        speed: '200000',
      },
    ]);
  });

  test('an entry not named cxiN takes its number from device/cxi/cxiN; a number seen twice is skipped', () => {
    fx = fixture([]);
    addFixtureNic(fx, { number: 11, entry: 'cxi11', pciAddress: '0000:09:00.0', numaNode: 0 });
    // A second entry whose device/cxi dir names cxi11 as well: the number is taken, so it is skipped.
    const other = path.join(fx.sysfsRoot, 'class', 'cxi', 'hsn-alias');
    fs.symlinkSync(fs.readlinkSync(path.join(fx.sysfsRoot, 'class', 'cxi', 'cxi11')), other);
    const { nics, skipped } = discoverNics(fx.sysfsRoot);
    expect(nics.map((n) => n.number)).toEqual([11]);
    expect(skipped).toEqual([{ entry: 'hsn-alias', reason: 'NIC number 11 is already taken by cxi11' }]);
  });

  test('no class/cxi directory means no NIC, reported as such', () => {
    fx = fixture([]);
    fs.rmSync(path.join(fx.sysfsRoot, 'class'), { recursive: true });
    expect(discoverNics(fx.sysfsRoot)).toEqual({ nics: [], skipped: [], classDirFound: false });
  });
});

describeAsRoot('CXI device nodes', () => {
  test('Healthy only when present, a character device, and openable', () => {
    fx = fixture();
    const node = path.join(fx.devfsRoot, 'cxi0');
    expect(deviceNodeHealth(node)).toEqual({ health: 'Healthy' });
    makeCharDevice(node, false);
    expect(deviceNodeHealth(node)).toEqual({
      health: 'Unhealthy',
      reason: `${node} cannot be opened read-only: ENXIO (no such device or address)`,
    });
    fs.rmSync(node);
    expect(deviceNodeHealth(node)).toEqual({ health: 'Unhealthy', reason: `${node} does not exist` });
    fs.writeFileSync(node, '');
    expect(deviceNodeHealth(node)).toEqual({
      health: 'Unhealthy',
      reason: `${node} is a regular file, not a char device node`,
    });
  });

  test('/dev/xpmem is used only when it is a character device', () => {
    fx = fixture([]);
    expect(xpmemHostPath(fx.devfsRoot)).toBe(path.join(fx.devfsRoot, 'xpmem'));
    fs.rmSync(path.join(fx.devfsRoot, 'xpmem'));
    expect(xpmemHostPath(fx.devfsRoot)).toBeUndefined();
  });
});

describeAsRoot('CXI libraries', () => {
  test('every libcxi*/libfabric* file or link to one; not directories, dangling links or other libraries', () => {
    fx = fixture([]);
    expect(libraryFiles(fx.ofiRoot, 'libfabric').map((f) => path.basename(f))).toEqual(FIXTURE_LIBRARIES.ofi);
    expect(cxiLibraries(fx.cxiRoot, fx.ofiRoot)).toEqual(fixtureLibraries(fx));
    expect(libraryFiles(path.join(fx.root, 'nowhere'), 'libcxi')).toEqual([]);
  });

  test('a looping link is left out like a dangling one, not thrown (it would fail every Allocate)', () => {
    fx = fixture([]);
    fs.symlinkSync('libcxi.so.loop', path.join(fx.cxiRoot, 'libcxi.so.loop'));
    expect(cxiLibraries(fx.cxiRoot, fx.ofiRoot)).toEqual(fixtureLibraries(fx));
  });
});

describe('CXI device IDs', () => {
  const nics = [
    { number: 0, health: 'Healthy' as const, numaNode: 0 },
    { number: 10, health: 'Unhealthy' as const },
  ];

  test('one ID per NIC is the NIC number, with its NUMA node', () => {
    expect(kubeletDevices(nics, 1)).toEqual([
      { id: '0', health: 'Healthy', numaNodes: [0] },
      { id: '10', health: 'Unhealthy' },
    ]);
  });

  test('k virtual IDs per NIC are N-0 … N-(k-1), each with its NIC health and NUMA node', () => {
    expect(kubeletDevices(nics, 2)).toEqual([
      { id: '0-0', health: 'Healthy', numaNodes: [0] },
      { id: '0-1', health: 'Healthy', numaNodes: [0] },
      { id: '10-0', health: 'Unhealthy' },
      { id: '10-1', health: 'Unhealthy' },
    ]);
    expect(nicOfId('10-1', 2)).toBe(10);
    expect(nicOfId('10-2', 2)).toBeUndefined();
    expect(nicOfId('10', 2)).toBeUndefined();
    expect(nicOfId('10-1', 1)).toBeUndefined();
    expect(nicOfId('01', 1)).toBeUndefined();
  });

  test('IDs map to their distinct physical NICs; a malformed ID is INVALID_ARGUMENT naming it', () => {
    expect(nicsOfIds(['10-1', '0-0', '10-0'], 2)).toEqual([0, 10]);
    let error: unknown;
    try {
      nicsOfIds(['0', 'cxi1', '-3'], 1);
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(AllocationError);
    expect((error as AllocationError).grpcCode).toBe(3);
    expect((error as Error).message).toBe('malformed CXI device IDs: "cxi1", "-3"');
  });
});
