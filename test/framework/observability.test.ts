import type * as http from 'http';
import { createLogger, parseListenAddress, startHttpServer } from '../../plugins/framework';
import { FakePlugin, healthy } from '../helpers/fake-plugin';
import { httpGet as get } from '../helpers/http';
import { eventually } from '../helpers/tmp';
import { harness, type Harness } from './harness';

let h: Harness;
let server: http.Server | undefined;
afterEach(async () => {
  await new Promise<void>((r) => (server ? server.close(() => r()) : r()));
  server = undefined;
  if (h) await h.close();
});

test('/healthz, /readyz (503 until registered and streaming) and /metrics', async () => {
  h = await harness({ startKubelet: false });
  server = await startHttpServer('127.0.0.1:0', h.manager, createLogger({ write: () => undefined }));
  const port = (server.address() as { port: number }).port;

  expect(await get(port, '/healthz')).toEqual({ status: 200, body: 'ok\n' });
  await h.manager.addResource(
    new FakePlugin('example.com/dev', [
      { id: 'a', health: 'Healthy' },
      { id: 'b', health: 'Unhealthy' },
    ]),
  );
  const notReady = await get(port, '/readyz');
  expect(notReady.status).toBe(503);
  expect(JSON.parse(notReady.body).resources[0]).toMatchObject({
    resource: 'example.com/dev',
    registered: false,
  });

  await h.kubelet.start();
  await h.kubelet.waitForRegistration('example.com/dev');
  await h.kubelet.allocate('example.com/dev', [['a']]);
  await expect(h.kubelet.allocate('example.com/dev', [['zzz']])).rejects.toBeDefined();
  let ready = await get(port, '/readyz');
  for (let i = 0; ready.status !== 200 && i < 50; i++) ready = await get(port, '/readyz');
  expect(ready.status).toBe(200);

  const metrics = (await get(port, '/metrics')).body;
  expect(metrics).toContain('kdp_registrations_total{resource="example.com/dev"} 1');
  expect(metrics).toContain('kdp_devices{resource="example.com/dev",health="Healthy"} 1');
  expect(metrics).toContain('kdp_devices{resource="example.com/dev",health="Unhealthy"} 1');
  expect(metrics).toContain('kdp_allocations_total{resource="example.com/dev"} 1');
  expect(metrics).toContain(
    'kdp_allocation_errors_total{resource="example.com/dev",reason="invalid_request"} 1',
  );
  expect(metrics).toMatch(/kdp_allocate_duration_seconds_count\{resource="example.com\/dev"\} 2/);
  expect(metrics).toContain('kdp_list_and_watch_streams{resource="example.com/dev"} 1');
  expect((await get(port, '/nope')).status).toBe(404);
});

test('/readyz: not ready until the family has started; then ready even with no resource to register', async () => {
  h = await harness({ startKubelet: false });
  let started = false;
  server = await startHttpServer(
    '127.0.0.1:0',
    h.manager,
    createLogger({ write: () => undefined }),
    () => started,
  );
  const port = (server.address() as { port: number }).port;
  expect((await get(port, '/readyz')).status).toBe(503);
  started = true;
  expect(await get(port, '/readyz')).toEqual({
    status: 200,
    body: JSON.stringify({ ready: true, resources: [] }) + '\n',
  });
});

test('/readyz lists what a plugin reports as wrong, without making it unready', async () => {
  h = await harness();
  server = await startHttpServer('127.0.0.1:0', h.manager, createLogger({ write: () => undefined }));
  const port = (server.address() as { port: number }).port;
  const stuck = {
    type: 'InterfaceNotMoved',
    device: 'a',
    message: 'still on the host',
    since: '2026-12-04T17:00:00.000Z',
  };
  await h.manager.addResource(
    new FakePlugin('example.com/reporting', healthy('a'), { conditions: () => [stuck] }),
  );
  await h.manager.addResource(
    new FakePlugin('example.com/broken', healthy('b'), {
      conditions: () => {
        throw new Error('boom');
      },
    }),
  );
  await h.manager.addResource(new FakePlugin('example.com/quiet', healthy('c')));
  await eventually(() => h.manager.ready(), 5000, 'every resource to be streamed');

  const res = await get(port, '/readyz');
  expect(res.status).toBe(200);
  const byName = Object.fromEntries(
    (JSON.parse(res.body).resources as { resource: string; conditions: unknown[] }[]).map((r) => [
      r.resource,
      r.conditions,
    ]),
  );
  expect(byName).toEqual({
    'example.com/reporting': [stuck],
    'example.com/broken': [
      expect.objectContaining({ type: 'ConditionsUnavailable', message: expect.stringContaining('boom') }),
    ],
    'example.com/quiet': [],
  });
});

test('listen addresses', () => {
  expect(parseListenAddress(':8080')).toEqual({ host: undefined, port: 8080 });
  expect(parseListenAddress('127.0.0.1:9')).toEqual({ host: '127.0.0.1', port: 9 });
  expect(parseListenAddress('[::1]:80')).toEqual({ host: '::1', port: 80 });
  expect(() => parseListenAddress('8080')).toThrow(/must look like/);
  expect(() => parseListenAddress(':99999')).toThrow();
});

test('logs are structured: JSON lines or key=value text, with levels filtered', () => {
  const lines: string[] = [];
  const json = createLogger({ level: 'info', format: 'json', write: (l) => lines.push(l) }).with({
    resource: 'r',
  });
  json.debug('hidden');
  json.warn('registration failed', {
    error: Object.assign(new Error('connect refused'), { code: 'ECONNREFUSED' }),
    attempt: 2,
  });
  expect(lines).toHaveLength(1);
  expect(JSON.parse(lines[0])).toMatchObject({
    level: 'warn',
    msg: 'registration failed',
    resource: 'r',
    error: 'connect refused (ECONNREFUSED)',
    attempt: 2,
  });
  const text: string[] = [];
  createLogger({ format: 'text', write: (l) => text.push(l) }).error('cannot open', {
    path: '/dev/kvm',
    why: 'no such file',
  });
  expect(text[0]).toMatch(/ERROR cannot open path=\/dev\/kvm why="no such file"$/);
});
