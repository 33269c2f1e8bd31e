/**
 * DRA mode's view of the device-node families, on real char devices (mknod): the engine's attributes
 * (path, major, minor, resource), each family's own (tdx interface/version, devnode glob), and shared
 * nodes offered as ONE device that many claims may hold (`sharing: 'allocations'`).
 */
import * as path from 'path';
import { DeviceNodeResource } from '../../../plugins/device-nodes';
import { makeNode } from '../../../plugins/device-nodes/fixture';
import { createDevnodeResource } from '../../../plugins/devnode/plugin';
import { createLogger, type Device } from '../../../plugins/framework';
import { createKvmResource } from '../../../plugins/kvm/plugin';
import { createTdxResource, UdsResource } from '../../../plugins/tdx/plugin';
import { describeAsRoot, sandbox, type Sandbox } from './helpers';

const log = createLogger({ write: () => undefined });

describeAsRoot('device-node families in DRA mode: devices and attributes', () => {
  let box: Sandbox;
  let resource: DeviceNodeResource | undefined;
  beforeEach(async () => {
    box = await sandbox();
  });
  afterEach(async () => {
    resource?.stop();
    resource = undefined;
    await box.close();
  });

  function started(r: DeviceNodeResource): Device[] {
    resource = r;
    let devices: Device[] = [];
    r.start((list) => (devices = list));
    return devices;
  }

  function tdx(shareCount: number, mountUds: boolean): DeviceNodeResource {
    return createTdxResource({
      resourceName: 'tdx.intel.com/tdx-guest',
      devfsRoot: box.devfsRoot,
      sysfsRoot: box.sysfsRoot,
      shareCount,
      udsDir: path.join(box.root, 'uds'),
      mountUds,
      tsmReport: false,
      log,
      sharing: 'allocations',
    });
  }

  test('kvm: one device "kvm" shared by many claims, with path, major, minor and resource', () => {
    makeNode(path.join(box.devfsRoot, 'kvm'), { type: 'char', major: 10, minor: 232 });
    const options = { resourceName: 'github.com.ihcsim/kvm', devfsRoot: box.devfsRoot, shareCount: 110, log };
    const devices = started(createKvmResource({ ...options, sharing: 'allocations' }));
    expect(devices).toEqual([{ id: 'kvm', health: 'Healthy' }]);
    expect(resource?.draAttributes(devices[0])).toEqual({
      attributes: {
        path: { string: '/dev/kvm' },
        resource: { string: 'github.com.ihcsim/kvm' },
        major: { int: 10 },
        minor: { int: 232 },
      },
      allowMultipleAllocations: true,
    });
    resource?.stop();
    // Device-plugin mode is unchanged: shareCount interchangeable IDs.
    expect(started(createKvmResource(options))).toHaveLength(110);
  });

  test('tdx: one shared device with its interface and TDX version; the UDS resource too', () => {
    makeNode(path.join(box.devfsRoot, 'tdx_guest'), { type: 'char', major: 10, minor: 123 });
    const devices = started(tdx(110, true));
    expect(devices).toEqual([{ id: 'tdx-guest', health: 'Healthy' }]);
    const info = resource?.draAttributes(devices[0]);
    expect(info?.allowMultipleAllocations).toBe(true);
    expect(info?.attributes).toMatchObject({
      path: { string: '/dev/tdx_guest' },
      interface: { string: 'tdx_guest' },
      version: { version: '1.5.0' },
      major: { int: 10 },
      minor: { int: 123 },
    });
    const uds = new UdsResource('tdx.intel.com/ccnp-uds', box.root, 110, log, 'allocations');
    let udsDevices: Device[] = [];
    uds.start((list) => (udsDevices = list));
    expect(udsDevices).toEqual([{ id: 'ccnp-uds', health: 'Healthy' }]);
    expect(uds.draAttributes().allowMultipleAllocations).toBe(true);
  });

  test('tdx 1.0 node name gives version 1.0.0', () => {
    makeNode(path.join(box.devfsRoot, 'tdx-guest'), { type: 'char', major: 10, minor: 124 });
    const devices = started(tdx(1, false));
    const info = resource?.draAttributes(devices[0]);
    expect(info?.attributes).toMatchObject({
      interface: { string: 'tdx-guest' },
      version: { version: '1.0.0' },
    });
    expect(info?.allowMultipleAllocations).toBeUndefined(); // share count 1: one claim at a time
  });

  test('devnode: the glob it matched, and the container path its config renders', () => {
    makeNode(path.join(box.devfsRoot, 'dri', 'renderD128'), { type: 'char', major: 226, minor: 128 });
    const spec = {
      name: 'example.com/render',
      glob: 'dri/renderD*',
      containerPath: '/dev/dri/{name}',
      permissions: 'rw',
      shareCount: 1,
    };
    const devices = started(createDevnodeResource(spec, box.devfsRoot, log, undefined, 'allocations'));
    expect(devices.map((d) => d.id)).toHaveLength(1);
    expect(resource?.draAttributes(devices[0])).toEqual({
      attributes: {
        path: { string: '/dev/dri/renderD128' },
        resource: { string: 'example.com/render' },
        major: { int: 226 },
        minor: { int: 128 },
        glob: { string: 'dri/renderD*' },
      },
    });
    expect(resource?.draAttributes({ id: 'unknown', health: 'Healthy' })).toEqual({});
  });
});
