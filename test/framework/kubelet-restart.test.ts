import * as fs from 'fs';
import * as path from 'path';
import * as grpc from '@grpc/grpc-js';
import { PluginManager, silentLogger, socketNameFor } from '../../plugins/framework';
import type { WireRegisterRequest } from '../../plugins/framework/proto';
import { CHANNEL_OPTIONS, services, unary, unixTarget, waitForReady } from '../../simulator/grpc-js-clients';
import { FakePlugin, healthy } from '../helpers/fake-plugin';
import { eventually, removeDir, sleep, tempDir } from '../helpers/tmp';
import type { RegisterCall } from '../../simulator/kubelet';
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
    // Well inside the kubelet's 4 s dial timeout: nobody waited it out. The kubelet dials by path, so
    // its one Register completes on the re-served socket: no second Register for the same kubelet.
    await eventually(() => manager.status()[0].registered, 2000, 'registration');
    await sleep(300);
    expect(registerCalls.length).toBe(1);
    expect(fs.statSync(path.join(dir, socketNameFor(RESOURCE))).isSocket()).toBe(true);
  } finally {
    await manager.stop();
    server.forceShutdown();
    removeDir(dir);
  }
});

/** Register calls per kubelet generation, from the simulator's record. */
function callsPerGeneration(calls: RegisterCall[]): Map<number, RegisterCall[]> {
  const byGeneration = new Map<number, RegisterCall[]>();
  for (const call of calls)
    byGeneration.set(call.generation, [...(byGeneration.get(call.generation) ?? []), call]);
  return byGeneration;
}

describe('exactly one Register per kubelet generation (kubelet 1.37 refuses a second)', () => {
  test('a killed kubelet leaves its dead kubelet.sock behind: 20 restarts, one Register each', async () => {
    h = await harness({ pollIntervalMs: 60_000, kubelet: { kubeletVersion: '1.37' } });
    await h.manager.addResource(new FakePlugin(RESOURCE, healthy('a')));
    await h.kubelet.waitForRegistration(RESOURCE);
    for (let i = 1; i <= 20; i++) {
      await h.kubelet.kill({ staleSocket: true });
      await sleep(i % 4 === 0 ? 150 : 5); // sometimes long enough for an attempt on the dead socket
      await h.kubelet.startAfterKill();
      await reregistered(i);
    }
    await sleep(300); // any straggling attempt would land now
    const calls = h.kubelet.registerCalls;
    expect(calls.filter((c) => !c.accepted)).toEqual([]);
    expect(calls).toHaveLength(21);
    for (const [, perGeneration] of callsPerGeneration(calls)) expect(perGeneration).toHaveLength(1);
    expect(h.manager.status()[0]).toMatchObject({ registered: true, streaming: true });
  });

  test('restarts 10 ms apart: never two Register calls for one kubelet, the last one registered', async () => {
    h = await harness({ pollIntervalMs: 60_000, kubelet: { kubeletVersion: '1.37' } });
    await h.manager.addResource(new FakePlugin(RESOURCE, healthy('a')));
    await h.kubelet.waitForRegistration(RESOURCE);
    for (let i = 0; i < 10; i++) {
      await h.kubelet.kill({ staleSocket: i % 2 === 0 });
      await h.kubelet.startAfterKill();
      await sleep(10);
    }
    const last = h.kubelet.generation;
    await h.kubelet.waitFor(
      () => h.kubelet.registerCalls.some((c) => c.generation === last && c.accepted),
      3000,
      'registration with the last kubelet',
    );
    await sleep(300);
    const calls = h.kubelet.registerCalls;
    expect(calls.filter((c) => !c.accepted)).toEqual([]);
    for (const [, perGeneration] of callsPerGeneration(calls)) expect(perGeneration).toHaveLength(1);
    await eventually(() => h.manager.ready(), 2000, 'manager ready');
  });

  test('the kubelet drops our stream while both sockets stay: one Register brings the plugin back', async () => {
    h = await harness({ pollIntervalMs: 60_000, kubelet: { kubeletVersion: '1.37' } });
    await h.manager.addResource(new FakePlugin(RESOURCE, healthy('a')));
    await h.kubelet.waitForRegistration(RESOURCE);
    h.kubelet.dropStream(RESOURCE);
    expect(h.kubelet.allocatable(RESOURCE)).toBe(0);
    await reregistered(1);
    await sleep(1500); // longer than the re-stream grace: no second attempt follows
    expect(h.kubelet.registerCalls.map((c) => c.accepted)).toEqual([true, true]);
    expect(h.manager.status()[0]).toMatchObject({ registered: true, streaming: true });
  });

  test('a plugin that starts while the kubelet still holds a dead client is retried until accepted', async () => {
    h = await harness({ pollIntervalMs: 60_000, kubelet: { kubeletVersion: '1.37' } });
    const first = new PluginManager({ devicePluginDir: h.dir, log: silentLogger, pollIntervalMs: 60_000 });
    await first.addResource(new FakePlugin(RESOURCE, healthy('a')));
    await h.kubelet.waitForRegistration(RESOURCE);
    await first.stop(); // its stream ends: the kubelet forgets the client
    await h.kubelet.waitFor(() => !h.kubelet.resource(RESOURCE)?.connected, 2000, 'disconnect');
    await h.manager.addResource(new FakePlugin(RESOURCE, healthy('a', 'b')));
    await h.kubelet.waitFor(() => h.kubelet.allocatable(RESOURCE) === 2, 3000, 'second plugin');
    expect(h.kubelet.registerCalls.map((c) => c.accepted)).toEqual([true, true]);
  });
});
