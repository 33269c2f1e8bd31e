/**
 * startDraMode: a family's devices reach the ResourceSlice (and follow its changes), the kubelet
 * registers and prepares through the sockets, readiness needs both, and uninstall removes the slice.
 */
import * as path from 'path';
import { silentLogger } from '../../plugins/framework';
import { startDraMode, type DraMode } from '../../plugins/framework/dra';
import { FakePlugin, healthy } from '../helpers/fake-plugin';
import { eventually, removeDir, tempDir } from '../helpers/tmp';
import { FakePluginWatcher } from './dra-fake-kubelet';
import { ClaimStore, MemoryApi, allocationResult } from './dra-fakes';

const DRIVER = 'devnode.kdp.example';
const NODE = 'node-a';

let dir: string;
let mode: DraMode | undefined;
let kubelet: FakePluginWatcher;
beforeEach(() => {
  dir = tempDir('kdp-dram-');
  kubelet = new FakePluginWatcher();
});
afterEach(async () => {
  kubelet.close();
  await mode?.stop();
  mode = undefined;
  removeDir(dir);
});

test('devices → slice, kubelet registration → ready, prepare → CDI, uninstall → no slice', async () => {
  const family = Object.assign(new FakePlugin('kdp.example/dev', healthy('d0', 'd1')), {
    draAttributes: (d: { id: string }) => ({ attributes: { path: { string: `/dev/${d.id}` } } }),
  });
  const sliceApi = new MemoryApi();
  const claims = new ClaimStore();
  mode = await startDraMode({
    driverName: DRIVER,
    nodeName: NODE,
    resources: [{ plugin: family }],
    cdiDir: path.join(dir, 'cdi'),
    kubeletRootDir: path.join(dir, 'kubelet'),
    log: silentLogger,
    claims,
    sliceApi,
  });
  await mode.slices.flush();
  const slice = () => [...sliceApi.slices.values()].map((s) => [s.pool.generation, s.devices]);
  expect(slice()).toEqual([
    [
      1,
      [
        { name: 'd0', attributes: { path: { string: '/dev/d0' } } },
        { name: 'd1', attributes: { path: { string: '/dev/d1' } } },
      ],
    ],
  ]);
  expect(mode.ready()).toBe(false); // not registered yet

  const info = await kubelet.register(mode.kubelet.paths.registrationSocket);
  expect(mode.ready()).toBe(true);

  // A device turning unhealthy leaves the pool at the next generation.
  family.set([...healthy('d0'), { id: 'd1', health: 'Unhealthy' }]);
  await eventually(() => slice()[0]?.[0] === 2, 5000, 'slice generation 2');
  expect(slice()).toEqual([[2, [{ name: 'd0', attributes: { path: { string: '/dev/d0' } } }]]]);

  const claim = claims.add('ns', 'c', 'uid-1', [allocationResult(DRIVER, NODE)('d0', 'dev')]);
  const prepared = await kubelet.dra('v1', info.endpoint).prepare([claim]);
  expect(prepared.claims['uid-1']).toEqual({
    devices: [
      {
        request_names: ['dev'],
        pool_name: NODE,
        device_name: 'd0',
        cdi_device_ids: ['kdp.example/dev=uid-1-d0'],
      },
    ],
    error: '',
  });
  expect(mode.status()).toMatchObject({ preparedClaims: 1, slices: { inSync: true, generation: 2 } });

  await mode.stop(true);
  mode = undefined;
  expect(sliceApi.slices.size).toBe(0);
  expect(family.stopped).toBe(true);
});

test('a family that cannot start fails startDraMode, and what did start is stopped', async () => {
  const good = new FakePlugin('kdp.example/good', healthy('g0'));
  const bad = new FakePlugin('kdp.example/bad', []);
  bad.start = () => {
    throw new Error('no /dev/bad here');
  };
  await expect(
    startDraMode({
      driverName: DRIVER,
      nodeName: NODE,
      resources: [{ plugin: good }, { plugin: bad }],
      cdiDir: path.join(dir, 'cdi'),
      kubeletRootDir: path.join(dir, 'kubelet'),
      log: silentLogger,
      claims: new ClaimStore(),
      sliceApi: new MemoryApi(),
    }),
  ).rejects.toThrow('no /dev/bad here');
  expect(good.stopped).toBe(true);
});
