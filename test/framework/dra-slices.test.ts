/**
 * SlicePublisher retry rules, with an in-memory API that fails on demand (outages and 409 conflicts
 * are hard to time against a real API server; dra-apiserver.test.ts proves the real writes).
 */
import { silentLogger } from '../../plugins/framework';
import { SlicePublisher, type SliceApi } from '../../plugins/framework/dra/slices';
import { eventually } from '../helpers/tmp';
import { MemoryApi } from './dra-fakes';

const outage = () =>
  Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:6443'), { code: 'ECONNREFUSED' });

function publisher(api: SliceApi) {
  return new SlicePublisher({
    driverName: 'kvm.kdp.example',
    nodeName: 'node-a',
    api,
    log: silentLogger,
    initialBackoffMs: 5,
    maxBackoffMs: 20,
  });
}

test('an API-server outage is retried with backoff until the whole pool is written', async () => {
  const api = new MemoryApi();
  api.failures = [outage(), outage(), outage()];
  const p = publisher(api);
  p.update([{ name: 'a' }, { name: 'b' }]);
  await p.flush();
  expect(p.status()).toMatchObject({ inSync: false, lastError: 'connect ECONNREFUSED 127.0.0.1:6443' });
  await eventually(() => p.status().inSync, 5000, 'slice published after the outage');
  expect(p.status()).toEqual({ inSync: true, generation: 1, devices: 2, lastError: undefined });
  expect([...api.slices.values()].map((s) => s.devices)).toEqual([[{ name: 'a' }, { name: 'b' }]]);
  await p.stop();
});

test('a 409 conflict is retried with a fresh read; the error names the HTTP status', async () => {
  const api = new MemoryApi();
  const p = publisher(api);
  p.update([{ name: 'a' }]);
  await p.flush();
  // A writer that always wins the race once: the replace sees a stale resourceVersion.
  const replace = api.replace.bind(api);
  let raced = false;
  api.replace = async (d, n, u, slice) => {
    if (!raced) {
      raced = true;
      const current = api.slices.get(slice.name)!;
      api.slices.set(slice.name, { ...current, resourceVersion: '99' });
    }
    return replace(d, n, u, slice);
  };
  p.update([{ name: 'b' }]);
  await p.flush();
  expect(p.status().lastError).toBe('HTTP 409: the object has been modified');
  await eventually(() => p.status().inSync, 5000, 'slice written after the conflict');
  expect(p.status().generation).toBe(2);
  expect([...api.slices.values()].map((s) => s.devices)).toEqual([[{ name: 'b' }]]);
  await p.stop();
});

test('more devices than one slice holds are refused whole, never published in part', async () => {
  const api = new MemoryApi();
  const p = publisher(api);
  p.update(Array.from({ length: 129 }, (_, i) => ({ name: `d${i}` })));
  await p.flush();
  expect(p.status().inSync).toBe(false);
  expect(p.status().lastError).toMatch(
    /129 devices do not fit one ResourceSlice .*not publishing a partial pool/,
  );
  expect(api.slices.size).toBe(0);
  await p.stop();
});

test('stale extra slices of the pool are deleted once the new generation is written', async () => {
  const api = new MemoryApi();
  const pool = (generation: number) => ({ name: 'node-a', generation, resourceSliceCount: 2 });
  api.slices.set('old1', { name: 'old1', resourceVersion: '1', pool: pool(4), devices: [{ name: 'x' }] });
  api.slices.set('old2', { name: 'old2', resourceVersion: '1', pool: pool(4), devices: [{ name: 'y' }] });
  const p = publisher(api);
  p.update([{ name: 'x' }, { name: 'y' }]);
  await p.flush();
  expect([...api.slices.values()].map((s) => [s.name, s.pool, s.devices])).toEqual([
    ['old1', { name: 'node-a', generation: 5, resourceSliceCount: 1 }, [{ name: 'x' }, { name: 'y' }]],
  ]);
  await p.stop();
});
