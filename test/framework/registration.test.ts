import * as fs from 'fs';
import * as path from 'path';
import {
  MAX_SOCKET_NAME_LENGTH,
  PluginManager,
  createLogger,
  silentLogger,
  socketNameFor,
} from '../../plugins/framework';
import { FakePlugin, healthy } from '../helpers/fake-plugin';
import { removeDir, sleep, tempDir } from '../helpers/tmp';
import { harness, type Harness } from './harness';

const RESOURCE = 'example.com/dev';
let h: Harness;
afterEach(async () => h && (await h.close()));

test('registers with version v1beta1, its socket file name and the resource name', async () => {
  h = await harness();
  await h.manager.addResource(new FakePlugin(RESOURCE, healthy('a')));
  await h.kubelet.waitForRegistration(RESOURCE);
  const res = h.kubelet.resource(RESOURCE)!;
  expect(res.endpoint).toBe(socketNameFor(RESOURCE));
  expect(fs.statSync(path.join(h.dir, res.endpoint)).isSocket()).toBe(true);
  expect(h.kubelet.rejections).toEqual([]);
  expect(h.manager.status()).toEqual([
    expect.objectContaining({ resource: RESOURCE, registered: true, streaming: true, devices: 1 }),
  ]);
});

test('options offered to the kubelet reflect what the plugin implements', async () => {
  h = await harness();
  await h.manager.addResource(new FakePlugin('example.com/plain', healthy('a')));
  await h.manager.addResource(
    new FakePlugin('example.com/rich', healthy('a'), {
      preferredAllocation: () => [],
      preStartContainer: () => undefined,
    }),
  );
  await h.kubelet.waitForRegistration('example.com/plain');
  await h.kubelet.waitForRegistration('example.com/rich');
  expect(h.kubelet.resource('example.com/plain')!.options).toEqual({
    pre_start_required: false,
    get_preferred_allocation_available: false,
  });
  expect(h.kubelet.resource('example.com/rich')!.options).toEqual({
    pre_start_required: true,
    get_preferred_allocation_available: true,
  });
});

test('an invalid resource name fails locally with the reason, before any socket is made', async () => {
  h = await harness();
  for (const bad of [
    'nodomain',
    'kubernetes.io/foo',
    'Example.com/dev',
    'example.com/-dev',
    'requests.example.com/x',
  ]) {
    await expect(h.manager.addResource(new FakePlugin(bad, healthy('a')))).rejects.toThrow(
      /invalid extended resource name/,
    );
  }
  expect(fs.readdirSync(h.dir).filter((f) => f.startsWith('kdp-'))).toEqual([]);
});

test('a socket path over the kernel limit is refused with a clear error', async () => {
  const base = tempDir();
  const dir = path.join(base, 'x'.repeat(90));
  const manager = new PluginManager({ devicePluginDir: dir, log: silentLogger });
  try {
    await expect(manager.addResource(new FakePlugin(RESOURCE, healthy('a')))).rejects.toThrow(
      /over the kernel limit of 107/,
    );
  } finally {
    await manager.stop();
    removeDir(base);
  }
});

test('a stale socket file left by an earlier run is replaced', async () => {
  h = await harness();
  const stale = path.join(h.dir, socketNameFor(RESOURCE));
  fs.writeFileSync(stale, 'stale');
  await h.manager.addResource(new FakePlugin(RESOURCE, healthy('a')));
  await h.kubelet.waitForRegistration(RESOURCE);
  expect(fs.statSync(stale).isSocket()).toBe(true);
});

test('with no kubelet at start, it serves and registers as soon as kubelet.sock appears', async () => {
  h = await harness({ startKubelet: false, pollIntervalMs: 60_000 });
  await h.manager.addResource(new FakePlugin(RESOURCE, healthy('a', 'b')));
  await sleep(100);
  expect(h.manager.ready()).toBe(false);
  expect(h.manager.status()[0]).toMatchObject({ registered: false });
  await h.kubelet.start(); // the inotify watch, not the (60 s) poll, must notice this
  await h.kubelet.waitForRegistration(RESOURCE, 3000);
  expect(h.kubelet.capacity(RESOURCE)).toBe(2);
});

test('when the kubelet refuses, registration is retried with backoff and counted', async () => {
  h = await harness({ registerTimeoutMs: 50 });
  // A kubelet socket file that nobody answers on: every attempt fails until the kubelet is back.
  await h.kubelet.kill({ staleSocket: true });
  expect(fs.statSync(path.join(h.dir, 'kubelet.sock')).isSocket()).toBe(true);
  await h.manager.addResource(new FakePlugin(RESOURCE, healthy('a')));
  await sleep(300);
  const failures = await h.manager.metrics.registrationFailures.get();
  expect(failures.values[0]?.value ?? 0).toBeGreaterThanOrEqual(2);
  await h.kubelet.startAfterKill();
  await h.kubelet.waitForRegistration(RESOURCE, 3000);
});

test('a kubelet.sock that is not a socket is reported once as such, and never dialled', async () => {
  const lines: string[] = [];
  h = await harness({ log: createLogger({ write: (line) => lines.push(line) }) });
  await h.kubelet.stop();
  fs.rmSync(path.join(h.dir, 'kubelet.sock'), { force: true });
  fs.writeFileSync(path.join(h.dir, 'kubelet.sock'), '');
  await h.manager.addResource(new FakePlugin(RESOURCE, healthy('a')));
  fs.utimesSync(path.join(h.dir, 'kubelet.sock'), new Date(), new Date()); // an event: looked at again
  await sleep(200);
  const warnings = lines.map((l) => JSON.parse(l)).filter((r) => /is not a socket/.test(r.msg));
  expect(warnings).toHaveLength(1);
  expect(warnings[0]).toMatchObject({ level: 'warn', kubeletSocket: path.join(h.dir, 'kubelet.sock') });
  const failures = await h.manager.metrics.registrationFailures.get();
  expect(failures.values[0]?.value ?? 0).toBe(0);
  fs.rmSync(path.join(h.dir, 'kubelet.sock'));
  await h.kubelet.start();
  await h.kubelet.waitForRegistration(RESOURCE, 3000);
});

test('resources can be added and removed at run time', async () => {
  h = await harness();
  await h.manager.addResource(new FakePlugin('example.com/one', healthy('a')));
  const two = new FakePlugin('example.com/two', healthy('b'));
  await h.manager.addResource(two);
  await h.kubelet.waitForRegistration('example.com/two');
  await h.manager.removeResource('example.com/two');
  expect(two.stopped).toBe(true);
  expect(fs.existsSync(path.join(h.dir, socketNameFor('example.com/two')))).toBe(false);
  await h.kubelet.waitFor(() => h.kubelet.allocatable('example.com/two') === 0, 3000, 'two withdrawn');
  expect(h.manager.resources()).toEqual(['example.com/one']);
  await expect(h.manager.addResource(new FakePlugin('example.com/one', healthy('c')))).rejects.toThrow(
    /already served/,
  );
});

test('stop removes every socket it created', async () => {
  h = await harness();
  await h.manager.addResource(new FakePlugin('example.com/one', healthy('a')));
  await h.manager.addResource(new FakePlugin('example.com/two', healthy('a')));
  await h.manager.stop();
  expect(fs.readdirSync(h.dir).filter((f) => f.startsWith('kdp-'))).toEqual([]);
});

afterAll(() => removeDir(''));

test('a long (valid) resource name gets a short, unique socket name and registers under the default dir length', async () => {
  h = await harness();
  const long = `${'a'.repeat(60)}.example.com/${'d'.repeat(63)}`;
  const sibling = `${'a'.repeat(60)}.example.com/${'d'.repeat(62)}e`;
  expect(socketNameFor(long).length).toBeLessThanOrEqual(MAX_SOCKET_NAME_LENGTH);
  expect(socketNameFor(long)).not.toBe(socketNameFor(sibling));
  expect(socketNameFor('example.com/dev')).toBe('kdp-example.com_dev.sock');
  expect(`/var/lib/kubelet/device-plugins/${socketNameFor(long)}`.length).toBeLessThanOrEqual(107);
  await h.manager.addResource(new FakePlugin(long, healthy('a')));
  await h.kubelet.waitForRegistration(long);
  expect(h.kubelet.resource(long)!.endpoint).toBe(socketNameFor(long));
});
