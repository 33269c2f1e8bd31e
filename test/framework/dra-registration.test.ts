/**
 * DRA plugin-watcher registration on real unix sockets: a fake kubelet plugin watcher (protobufjs
 * clients) finds the registration socket, negotiates, reports back, and calls the DRA service in
 * both versions; sockets the kubelet deletes are served again.
 */
import * as fs from 'fs';
import * as path from 'path';
import { silentLogger } from '../../plugins/framework';
import {
  DraKubeletPlugin,
  draPaths,
  type DraNodeHandler,
  type WireClaim,
} from '../../plugins/framework/dra/registration';
import { eventually, removeDir, tempDir } from '../helpers/tmp';
import { FakePluginWatcher } from './dra-fake-kubelet';

const DRIVER = 'kvm.kdp.example';

/** Echoes each claim back as one device, so the test sees exactly what reached the handler. */
const echoHandler: DraNodeHandler = {
  async prepare(claims: WireClaim[]) {
    return Object.fromEntries(
      claims.map((c) => [
        c.uid,
        {
          devices: [
            {
              request_names: ['req'],
              pool_name: 'node-a',
              device_name: `${c.namespace}-${c.name}`,
              cdi_device_ids: [`kdp.example/kvm=${c.uid}-kvm`],
              share_id: 'share-1',
            },
          ],
          error: '',
        },
      ]),
    );
  },
  async unprepare(claims: WireClaim[]) {
    return Object.fromEntries(claims.map((c) => [c.uid, { error: c.name === 'bad' ? 'nope' : '' }]));
  },
};

let root: string;
let plugin: DraKubeletPlugin;
let kubelet: FakePluginWatcher;

beforeEach(async () => {
  root = tempDir('kdp-dra-');
  plugin = new DraKubeletPlugin({
    driverName: DRIVER,
    kubeletRootDir: root,
    handler: echoHandler,
    log: silentLogger,
    pollIntervalMs: 100,
  });
  await plugin.start();
  kubelet = new FakePluginWatcher();
});

afterEach(async () => {
  kubelet.close();
  await plugin.stop();
  removeDir(root);
});

test('serves both sockets where the kubelet looks for them', () => {
  expect(plugin.paths).toEqual(draPaths(root, DRIVER));
  expect(plugin.paths.registrationSocket).toBe(path.join(root, 'plugins_registry', `${DRIVER}-reg.sock`));
  expect(plugin.paths.draSocket).toBe(path.join(root, 'plugins', DRIVER, 'dra.sock'));
  expect(fs.statSync(plugin.paths.registrationSocket).isSocket()).toBe(true);
  expect(fs.statSync(plugin.paths.draSocket).isSocket()).toBe(true);
  expect(plugin.status()).toMatchObject({ serving: true, registered: false });
});

test('GetInfo names the driver, its DRA socket and both service versions; the verdict is kept', async () => {
  const info = await kubelet.register(plugin.paths.registrationSocket);
  expect(info).toEqual({
    type: 'DRAPlugin',
    name: DRIVER,
    endpoint: plugin.paths.draSocket,
    supported_versions: ['v1.DRAPlugin', 'v1beta1.DRAPlugin'],
  });
  expect(plugin.status()).toMatchObject({ registered: true, registrationError: undefined });

  await kubelet.register(plugin.paths.registrationSocket, { ok: false, error: 'unsupported versions' });
  expect(plugin.status()).toMatchObject({ registered: false, registrationError: 'unsupported versions' });
});

test.each(['v1', 'v1beta1'] as const)('the kubelet calls the DRA service in %s', async (version) => {
  const info = await kubelet.register(plugin.paths.registrationSocket);
  const dra = kubelet.dra(version, info.endpoint);
  const claims = [
    { namespace: 'ns', uid: 'uid-1', name: 'one' },
    { namespace: 'ns', uid: 'uid-2', name: 'bad' },
  ];
  const prepared = await dra.prepare(claims);
  const device = {
    request_names: ['req'],
    pool_name: 'node-a',
    device_name: 'ns-one',
    cdi_device_ids: ['kdp.example/kvm=uid-1-kvm'],
  };
  // share_id exists only in v1; v1beta1 must not carry it.
  expect(prepared.claims['uid-1']).toEqual({
    devices: [version === 'v1' ? { ...device, share_id: 'share-1' } : device],
    error: '',
  });
  const unprepared = await dra.unprepare(claims);
  expect(unprepared.claims).toEqual({ 'uid-1': { error: '' }, 'uid-2': { error: 'nope' } });
});

test('sockets the kubelet deletes are served again, and the kubelet must register us anew', async () => {
  await kubelet.register(plugin.paths.registrationSocket);
  expect(plugin.status().registered).toBe(true);
  fs.rmSync(plugin.paths.registrationSocket);
  fs.rmSync(plugin.paths.draSocket);
  await eventually(() => plugin.status().serving, 5000, 'sockets served again');
  expect(plugin.status().registered).toBe(false);
  const info = await kubelet.register(plugin.paths.registrationSocket);
  const prepared = await kubelet.dra('v1', info.endpoint).prepare([{ namespace: 'n', uid: 'u', name: 'c' }]);
  expect(prepared.claims.u.error).toBe('');
  expect(plugin.status().registered).toBe(true);
});

test('a whole plugin dir removed is made again', async () => {
  fs.rmSync(plugin.paths.pluginDir, { recursive: true });
  await eventually(() => plugin.status().serving, 5000, 'DRA socket served again');
  expect(fs.statSync(plugin.paths.draSocket).isSocket()).toBe(true);
});

test('a live socket of another driver instance is left alone', async () => {
  const second = new DraKubeletPlugin({
    driverName: DRIVER,
    kubeletRootDir: root,
    handler: echoHandler,
    log: silentLogger,
  });
  await expect(second.start()).rejects.toThrow(/another process serves .*dra\.sock/);
  await second.stop();
  expect(plugin.status().serving).toBe(true);
});

test('stop removes both sockets', async () => {
  await plugin.stop();
  expect(fs.existsSync(plugin.paths.registrationSocket)).toBe(false);
  expect(fs.existsSync(plugin.paths.draSocket)).toBe(false);
});

test('a bad driver name fails at construction, with the reason', () => {
  expect(
    () => new DraKubeletPlugin({ driverName: 'Bad_Name', handler: echoHandler, log: silentLogger }),
  ).toThrow(/driver name "Bad_Name" is not a DNS subdomain/);
});

test('a kubelet root dir too long for a unix socket fails at construction, naming the flag that sets it', () => {
  const deep = path.join(root, 'x'.repeat(120));
  expect(
    () =>
      new DraKubeletPlugin({
        driverName: DRIVER,
        kubeletRootDir: deep,
        handler: echoHandler,
        log: silentLogger,
      }),
  ).toThrow(/over the kernel limit of \d+: .*\(use a shorter --kubelet-root-dir\)/);
});
