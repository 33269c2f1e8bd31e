/**
 * NodePrepareResources / NodeUnprepareResources end to end on real parts: a fake kubelet (protobufjs
 * gRPC clients) calls the driver's sockets, the driver reads claims through a ClaimReader holding
 * ResourceClaims shaped as the API server returns them, asks a real family (kvm, on a mknod'ed
 * /dev/kvm) for container edits, and writes CDI specs checked against the upstream schema.
 */
import * as fs from 'fs';
import * as path from 'path';
import { makeNode } from '../../plugins/device-nodes/fixture';
import { readCdiSpec, silentLogger, type ResourcePlugin } from '../../plugins/framework';
import {
  DraDriver,
  allocationToCdi,
  claimSpecFileName,
  draDeviceName,
  type ClaimReader,
} from '../../plugins/framework/dra/driver';
import { DraKubeletPlugin, draPaths } from '../../plugins/framework/dra/registration';
import { createKvmResource } from '../../plugins/kvm/plugin';
import { cdiSchemaErrors } from '../helpers/cdi-schema';
import { FakePlugin, healthy } from '../helpers/fake-plugin';
import { describeAsRoot } from '../helpers/root';
import { eventually, removeDir, tempDir } from '../helpers/tmp';
import { FakePluginWatcher } from './dra-fake-kubelet';
import { ClaimStore, allocationResult } from './dra-fakes';

const DRIVER = 'kvm.kdp.example';
const NODE = 'node-a';
const result = allocationResult(DRIVER, NODE);

let dir: string;
let store: ClaimStore;
beforeEach(() => {
  dir = tempDir('kdp-drad-');
  store = new ClaimStore();
});
afterEach(() => removeDir(dir));

function newDriver(claims: ClaimReader = store) {
  return new DraDriver({
    driverName: DRIVER,
    nodeName: NODE,
    claims,
    cdiDir: path.join(dir, 'cdi'),
    checkpointFile: draPaths(path.join(dir, 'kubelet'), DRIVER).checkpoint,
    log: silentLogger,
  });
}

describeAsRoot('DRA driver with the kvm family, through the kubelet sockets', () => {
  const UID = '3f1c2a9e-7d2b-4c8e-9a51-0c4f2b6d8e10';
  let driver: DraDriver;
  let plugin: DraKubeletPlugin;
  let kubelet: FakePluginWatcher;

  async function startDriver(claims: ClaimReader = store) {
    driver = newDriver(claims);
    await driver.addResource(
      createKvmResource({
        resourceName: 'kdp.example/kvm',
        devfsRoot: path.join(dir, 'dev'),
        shareCount: 4,
        log: silentLogger,
      }),
    );
    plugin = new DraKubeletPlugin({
      driverName: DRIVER,
      kubeletRootDir: path.join(dir, 'kubelet'),
      handler: driver,
      log: silentLogger,
    });
    await plugin.start();
    const info = await kubelet.register(plugin.paths.registrationSocket);
    return kubelet.dra('v1', info.endpoint);
  }
  async function stopDriver() {
    await plugin.stop();
    await driver.stop();
  }

  beforeEach(() => {
    makeNode(path.join(dir, 'dev', 'kvm'), { type: 'char', major: 10, minor: 232 });
    kubelet = new FakePluginWatcher();
  });
  afterEach(async () => {
    kubelet.close();
    await stopDriver();
  });

  test('prepare: only our results, one schema-valid CDI spec per claim, idempotent, kept over a restart', async () => {
    const dra = await startDriver();
    const claim = store.add('team', 'vm-claim', UID, [
      result('kvm-0', 'vm'),
      result('kvm-3', 'accel/kvm-alt', { shareID: 'a1b2' }),
      result('gpu-0', 'gpu', { driver: 'gpu.example.com' }), // another driver's device
      result('kvm-1', 'vm', { pool: 'node-b' }), // another node's pool
    ]);
    const expected = {
      devices: [
        {
          request_names: ['vm'],
          pool_name: NODE,
          device_name: 'kvm-0',
          cdi_device_ids: [`kdp.example/kvm=${UID}-kvm-0`],
        },
        {
          request_names: ['accel'], // the subrequest suffix is stripped, as the kubelet matches on it
          pool_name: NODE,
          device_name: 'kvm-3',
          cdi_device_ids: [`kdp.example/kvm=${UID}-kvm-3`],
          share_id: 'a1b2',
        },
      ],
      error: '',
    };
    const first = await dra.prepare([claim]);
    expect(first.claims[UID]).toEqual(expected);

    const specFile = path.join(dir, 'cdi', claimSpecFileName('kdp.example/kvm', UID));
    const spec = readCdiSpec(specFile);
    expect(cdiSchemaErrors(spec)).toEqual([]);
    const kvm = path.join(dir, 'dev', 'kvm');
    const edits = { deviceNodes: [{ path: '/dev/kvm', hostPath: kvm, permissions: 'rw' }] };
    expect(spec).toEqual({
      cdiVersion: '0.5.0',
      kind: 'kdp.example/kvm',
      devices: [
        { name: `${UID}-kvm-0`, containerEdits: edits },
        { name: `${UID}-kvm-3`, containerEdits: edits },
      ],
    });
    expect((fs.statSync(specFile).mode & 0o777).toString(8)).toBe('644');

    // The kubelet repeats the call: same answer, from the checkpoint (no second API read).
    expect((await dra.prepare([claim])).claims[UID]).toEqual(expected);
    expect(store.reads).toBe(1);

    // A driver restart: the claim is gone from the API server's view, yet the answer is the same.
    await stopDriver();
    const empty = new ClaimStore();
    const again = await startDriver(empty);
    expect(driver.preparedClaims()).toEqual([UID]);
    expect((await again.prepare([claim])).claims[UID]).toEqual(expected);
    expect(empty.reads).toBe(0);

    // Unprepare removes the spec and the checkpoint entry; a second unprepare is fine too.
    expect((await again.unprepare([claim])).claims).toEqual({ [UID]: { error: '' } });
    expect(fs.existsSync(specFile)).toBe(false);
    expect(driver.preparedClaims()).toEqual([]);
    const checkpoint = JSON.parse(fs.readFileSync(plugin.paths.checkpoint, 'utf8'));
    expect(checkpoint).toEqual({ version: 1, claims: {} });
    expect((await again.unprepare([claim])).claims).toEqual({ [UID]: { error: '' } });
  });

  test('v1beta1 kubelets get the same devices without share_id', async () => {
    await startDriver();
    const info = await kubelet.register(plugin.paths.registrationSocket);
    const claim = store.add('team', 'c', UID, [result('kvm-2', 'vm', { shareID: 's' })]);
    const res = await kubelet.dra('v1beta1', info.endpoint).prepare([claim]);
    expect(res.claims[UID].devices).toEqual([
      {
        request_names: ['vm'],
        pool_name: NODE,
        device_name: 'kvm-2',
        cdi_device_ids: [`kdp.example/kvm=${UID}-kvm-2`],
      },
    ]);
  });

  test("health: the kubelet's NodeWatchResources stream gets every device, and a change at once", async () => {
    driver = newDriver();
    const family = new FakePlugin('kdp.example/dev', healthy('d0', 'd1'));
    await driver.addResource(family);
    plugin = new DraKubeletPlugin({
      driverName: DRIVER,
      kubeletRootDir: path.join(dir, 'kubelet'),
      handler: driver,
      health: driver.healthSource(),
      log: silentLogger,
    });
    await plugin.start();
    const info = await kubelet.register(plugin.paths.registrationSocket);
    expect(info.supported_versions).toEqual(['v1.DRAPlugin', 'v1beta1.DRAPlugin', 'v1.DRAResourceHealth']);
    const watch = kubelet.watchHealth(info.endpoint);
    const entry = (device: string, health: number) => ({
      device: { pool_name: NODE, device_name: device },
      health,
      last_updated_time: expect.any(Number),
      health_check_timeout_seconds: 30,
      message: '',
    });
    await eventually(() => watch.messages.length === 1, 5000, 'first health list');
    expect(watch.messages[0].devices).toEqual([entry('d0', 1), entry('d1', 1)]);
    family.set([...healthy('d0'), { id: 'd1', health: 'Unhealthy' }]);
    await eventually(() => watch.messages.length === 2, 5000, 'health change');
    expect(watch.messages[1].devices).toEqual([entry('d0', 1), entry('d1', 2)]);
    watch.cancel();
  });

  test('a spec deleted behind our back is written again by a repeated prepare', async () => {
    const dra = await startDriver();
    const claim = store.add('team', 'c', UID, [result('kvm-0', 'vm')]);
    await dra.prepare([claim]);
    const specFile = path.join(dir, 'cdi', claimSpecFileName('kdp.example/kvm', UID));
    fs.rmSync(specFile);
    expect((await dra.prepare([claim])).claims[UID].error).toBe('');
    expect(cdiSchemaErrors(readCdiSpec(specFile))).toEqual([]);
  });
});

describe('DRA driver: per-claim errors and the family adapter', () => {
  let driver: DraDriver;
  let family: FakePlugin;

  async function start(plugin: ResourcePlugin) {
    driver = newDriver();
    await driver.addResource(plugin, { cdiKind: 'kdp.example/dev' });
  }
  afterEach(async () => driver && (await driver.stop()));

  test('errors are per claim, name the claim, and leave nothing behind', async () => {
    family = new FakePlugin('kdp.example/dev', [...healthy('d0', 'd1'), { id: 'd2', health: 'Unhealthy' }]);
    await start(family);
    const good = store.add('ns', 'good', 'uid-good', [result('d0', 'r')]);
    const claims = [
      good,
      { namespace: 'ns', name: 'missing', uid: 'uid-missing' },
      { ...store.add('ns', 'recreated', 'uid-new', [result('d1', 'r')]), uid: 'uid-old' },
      store.add('ns', 'pending', 'uid-pending'),
      store.add('ns', 'sick', 'uid-sick', [result('d2', 'r')]),
      store.add('ns', 'gone', 'uid-gone', [result('d9', 'r')]),
      { namespace: 'ns', name: 'evil', uid: '../../etc/passwd' },
    ];
    const res = await driver.prepare(claims);
    expect(res['uid-good'].error).toBe('');
    expect(res['uid-missing'].error).toBe(
      'claim "ns"/"missing" (uid "uid-missing"): not found in the API server',
    );
    expect(res['uid-old'].error).toMatch(/^claim "ns"\/"recreated" .*has UID "uid-new", not "uid-old"/);
    expect(res['uid-pending'].error).toMatch(/"pending".*: not allocated$/);
    expect(res['uid-sick'].error).toMatch(/"sick".*: device d2 is Unhealthy$/);
    expect(res['uid-gone'].error).toMatch(/"gone".*: device d9 is not in pool node-a any more$/);
    expect(res['../../etc/passwd'].error).toMatch(/claim UID that is not a UID/);
    for (const uid of Object.keys(res).filter((u) => u !== 'uid-good')) expect(res[uid].devices).toEqual([]);
    expect(driver.preparedClaims()).toEqual(['uid-good']);
    expect(fs.readdirSync(path.join(dir, 'cdi'))).toEqual([claimSpecFileName('kdp.example/dev', 'uid-good')]);
  });

  test('an error echoing a huge claim name stays bounded', async () => {
    await start(new FakePlugin('kdp.example/dev', healthy('d0')));
    const res = await driver.prepare([{ namespace: 'ns', name: 'x'.repeat(100_000), uid: 'u1' }]);
    expect(res.u1.error.length).toBeLessThan(300);
    expect(res.u1.error).toMatch(/not found in the API server$/);
  });

  test('a family that fails allocate fails only that claim, with its message', async () => {
    family = new FakePlugin('kdp.example/dev', healthy('d0', 'd1'), {
      allocate: (ids) => {
        if (ids[0] === 'd1') throw new Error('d1 is busy');
        return { devices: [{ containerPath: '/dev/d0', hostPath: '/dev/d0', permissions: 'rw' }] };
      },
    });
    await start(family);
    const res = await driver.prepare([
      store.add('ns', 'a', 'ua', [result('d0', 'r')]),
      store.add('ns', 'b', 'ub', [result('d0', 'r'), result('d1', 'r')]),
    ]);
    expect(res.ua.error).toBe('');
    expect(res.ub.error).toMatch(/"b".*: d1 is busy$/);
    expect(driver.preparedClaims()).toEqual(['ua']);
  });

  test('an unwritable CDI dir fails the claim and records nothing', async () => {
    await start(new FakePlugin('kdp.example/dev', healthy('d0')));
    fs.writeFileSync(path.join(dir, 'cdi'), 'not a dir');
    const res = await driver.prepare([store.add('ns', 'a', 'ua', [result('d0', 'r')])]);
    expect(res.ua.error).toMatch(/cannot write CDI spec/);
    expect(driver.preparedClaims()).toEqual([]);
  });

  test('a claim with no results for this driver and node prepares to no devices', async () => {
    await start(new FakePlugin('kdp.example/dev', healthy('d0')));
    const res = await driver.prepare([store.add('ns', 'a', 'ua', [result('d0', 'r', { pool: 'other' })])]);
    expect(res.ua).toEqual({ devices: [], error: '' });
  });

  test('device IDs that are not DNS labels get a stable DRA name; prepare asks the family by its own ID', async () => {
    family = new FakePlugin('kdp.example/dev', healthy('ok-0', 'renderD128', 'dri_card0', '__'));
    await start(family);
    const names = driver.devices().map((d) => [d.device.id, d.name]);
    expect(names).toEqual([
      ['ok-0', 'ok-0'],
      ['renderD128', `renderd128-${draDeviceName('renderD128').slice(-8)}`],
      ['dri_card0', `dri-card0-${draDeviceName('dri_card0').slice(-8)}`],
      ['__', `device-${draDeviceName('__').slice(-8)}`],
    ]);
    for (const [, name] of names) expect(name).toMatch(/^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/);
    expect(draDeviceName('renderD128')).not.toBe(draDeviceName('renderd128'));
    expect(draDeviceName('x'.repeat(100))).toHaveLength(63);
    const res = await driver.prepare([
      store.add('ns', 'a', 'ua', [result(draDeviceName('renderD128'), 'r')]),
    ]);
    expect(res.ua.error).toBe('');
    expect(family.allocations).toEqual([['renderD128']]);
  });

  test('removeResource withdraws a family: its devices leave the pool and it is stopped', async () => {
    family = new FakePlugin('kdp.example/dev', healthy('d0'));
    await start(family);
    const other = new FakePlugin('kdp.example/other', healthy('o0'));
    await driver.addResource(other);
    const seen: string[][] = [];
    driver.onDevicesChanged((all) => seen.push(all.map((d) => d.name)));
    await driver.removeResource('kdp.example/dev');
    await driver.removeResource('kdp.example/none'); // unknown: nothing happens
    expect(family.stopped).toBe(true);
    expect(seen).toEqual([['o0']]);
    expect(driver.sliceDevices()).toEqual([{ name: 'o0' }]);
  });

  test('slice devices: healthy ones only, with the attributes the family gives', async () => {
    const plugin = new FakePlugin('kdp.example/dev', [...healthy('d0'), { id: 'd1', health: 'Unhealthy' }]);
    const withAttributes: ResourcePlugin = Object.assign(plugin, {
      draAttributes: (device: { id: string }) => ({
        attributes: { path: { string: `/dev/${device.id}` }, minor: { int: 0 } },
        capacity: { slots: '4' },
      }),
    });
    await start(withAttributes);
    expect(driver.sliceDevices()).toEqual([
      {
        name: 'd0',
        attributes: { path: { string: '/dev/d0' }, minor: { int: 0 } },
        capacity: { slots: '4' },
      },
    ]);
  });

  test('a corrupt checkpoint stops the start with the file named', () => {
    const file = draPaths(path.join(dir, 'kubelet'), DRIVER).checkpoint;
    fs.mkdirSync(path.dirname(file), { recursive: true });
    fs.writeFileSync(file, '{"version": 7}');
    expect(() => newDriver()).toThrow(`the DRA checkpoint ${file} is not a version-1 checkpoint`);
  });

  test('allocationToCdi: device nodes, bind mounts, env; family CDI names passed on; annotations refused', () => {
    expect(
      allocationToCdi({
        devices: [{ containerPath: '/dev/x', hostPath: '/h/x', permissions: 'rw' }],
        mounts: [
          { containerPath: '/run/a', hostPath: '/var/a', readOnly: true },
          { containerPath: '/run/b', hostPath: '/var/b', readOnly: false },
        ],
        envs: { A: '1' },
        cdiDevices: ['vendor.example/x=all'],
      }),
    ).toEqual({
      edits: {
        env: ['A=1'],
        deviceNodes: [{ path: '/dev/x', hostPath: '/h/x', permissions: 'rw' }],
        mounts: [
          { hostPath: '/var/a', containerPath: '/run/a', type: 'bind', options: ['rbind', 'ro'] },
          { hostPath: '/var/b', containerPath: '/run/b', type: 'bind', options: ['rbind', 'rw'] },
        ],
      },
      extraCdiIds: ['vendor.example/x=all'],
    });
    expect(() => allocationToCdi({ annotations: { a: 'b' } })).toThrow(/annotations/);
  });
});
