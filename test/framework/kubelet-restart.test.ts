import * as fs from 'fs';
import * as path from 'path';
import * as grpc from '@grpc/grpc-js';
import { PluginManager, silentLogger, socketNameFor } from '../../plugins/framework';
import {
  CHANNEL_OPTIONS,
  services,
  unary,
  unixTarget,
  waitForReady,
  type WireRegisterRequest,
} from '../../plugins/framework/proto';
import { FakePlugin, healthy } from '../helpers/fake-plugin';
import { eventually, removeDir, tempDir } from '../helpers/tmp';
import { harness, type Harness } from './harness';

const RESOURCE = 'example.com/dev';
let h: Harness;
afterEach(async () => h && (await h.close()));

async function reregistered(previous: number): Promise<void> {
  await h.kubelet.waitFor(
    () =>
      (h.kubelet.resource(RESOURCE)?.registrations ?? 0) > previous && h.kubelet.allocatable(RESOURCE) > 0,
    3000,
    're-registration',
  );
}

test('after a kubelet restart the plugin serves again and re-registers, without polling', async () => {
  h = await harness({ pollIntervalMs: 60_000 }); // only the inotify watch can bring it back in time
  const plugin = new FakePlugin(RESOURCE, healthy('a', 'b'));
  await h.manager.addResource(plugin);
  await h.kubelet.waitForRegistration(RESOURCE);
  await h.kubelet.restart();
  expect(fs.existsSync(path.join(h.dir, socketNameFor(RESOURCE)))).toBe(false);
  await reregistered(1);
  expect(h.kubelet.capacity(RESOURCE)).toBe(2);
  // The device state carried over and updates still flow on the new stream.
  plugin.set(healthy('a'));
  await h.kubelet.waitFor(() => h.kubelet.capacity(RESOURCE) === 1, 2000);
  const rereg = await h.manager.metrics.reregistrations.get();
  expect(rereg.values[0].value).toBe(1);
  await (
    await h.kubelet.allocate(RESOURCE, [['a']])
  )[0];
});

test('survives many restarts in a row, each ending registered', async () => {
  h = await harness({ pollIntervalMs: 60_000 });
  await h.manager.addResource(new FakePlugin(RESOURCE, healthy('a')));
  await h.kubelet.waitForRegistration(RESOURCE);
  for (let i = 1; i <= 15; i++) {
    await h.kubelet.restart();
    await reregistered(i);
  }
  await eventually(() => h.manager.ready(), 2000, 'manager ready');
});

test('only our socket deleted (kubelet.sock kept): the plugin re-serves and registers again', async () => {
  h = await harness({ pollIntervalMs: 60_000 });
  await h.manager.addResource(new FakePlugin(RESOURCE, healthy('a')));
  await h.kubelet.waitForRegistration(RESOURCE);
  fs.rmSync(path.join(h.dir, socketNameFor(RESOURCE)));
  await reregistered(1);
});

test('a late end of the old stream does not tear down the new registration (kubernetes#121994)', async () => {
  h = await harness({ pollIntervalMs: 60_000 });
  const plugin = new FakePlugin(RESOURCE, healthy('a'));
  await h.manager.addResource(plugin);
  await h.kubelet.waitForRegistration(RESOURCE);
  await h.kubelet.restart();
  await reregistered(1);
  // Give any straggling events of the old generation time to arrive, then check we are still live.
  await new Promise((r) => setTimeout(r, 200));
  expect(h.manager.status()[0]).toMatchObject({ registered: true, streaming: true });
  plugin.set(healthy('a', 'b'));
  await h.kubelet.waitFor(() => h.kubelet.allocatable(RESOURCE) === 2, 2000);
});

test('the poll fallback restores registration even with no inotify event', async () => {
  h = await harness({ pollIntervalMs: 100 });
  await h.manager.addResource(new FakePlugin(RESOURCE, healthy('a')));
  await h.kubelet.waitForRegistration(RESOURCE);
  // Make the watch blind: close it, then restart the kubelet; only the poll can notice.
  (h.manager as unknown as { watcher?: fs.FSWatcher }).watcher?.close();
  await h.kubelet.restart();
  await reregistered(1);
});

test('our socket deleted while Register is in flight is served again at once, so the kubelet can dial it', async () => {
  // A kubelet still clearing its directory: it deletes the plugin's fresh socket, then dials it. The
  // plugin must not sit in Register waiting for a kubelet that waits for the plugin.
  const dir = tempDir();
  const registerCalls: number[] = [];
  const server = new grpc.Server();
  server.addService(services().registration.service, {
    Register: (call: grpc.ServerUnaryCall<WireRegisterRequest, object>, cb: grpc.sendUnaryData<object>) => {
      const socket = path.join(dir, call.request.endpoint);
      registerCalls.push(Date.now());
      if (registerCalls.length === 1) fs.rmSync(socket, { force: true });
      const DevicePlugin = services().devicePlugin;
      const client = new DevicePlugin(unixTarget(socket), grpc.credentials.createInsecure(), CHANNEL_OPTIONS);
      waitForReady(client, 4000)
        .then(() => unary(client, 'GetDevicePluginOptions', {}, 2000))
        .then(
          () => cb(null, {}),
          (err: Error) => cb({ code: grpc.status.UNAVAILABLE, details: err.message }),
        )
        .finally(() => client.close());
    },
  });
  await new Promise<void>((resolve, reject) =>
    server.bindAsync(
      unixTarget(path.join(dir, 'kubelet.sock')),
      grpc.ServerCredentials.createInsecure(),
      (err) => (err ? reject(err) : resolve()),
    ),
  );
  const manager = new PluginManager({ devicePluginDir: dir, log: silentLogger, pollIntervalMs: 60_000 });
  try {
    await manager.addResource(new FakePlugin(RESOURCE, healthy('a')));
    // Well inside the kubelet's 4 s dial timeout: nobody waited it out. The re-served socket gets its
    // own Register call beside the first (which the kubelet could still complete, by path).
    await eventually(() => manager.status()[0].registered, 2000, 'registration');
    expect(registerCalls.length).toBeLessThanOrEqual(2);
    expect(fs.statSync(path.join(dir, socketNameFor(RESOURCE))).isSocket()).toBe(true);
  } finally {
    await manager.stop();
    server.forceShutdown();
    removeDir(dir);
  }
});
