/**
 * Hostile and inconsistent requests over the real gRPC socket: every error is bounded in size (a huge
 * trailer used to drop the kubelet's connection and end its ListAndWatch stream), and preferred
 * allocations that cannot be answered as the README promises are refused with INVALID_ARGUMENT.
 */
import * as path from 'path';
import * as grpc from '@grpc/grpc-js';
import { MAX_REQUESTS_IN_FLIGHT } from '../../plugins/framework/resource-server';
import { services, unary, unixTarget } from '../../simulator/grpc-js-clients';
import { FakePlugin, healthy } from '../helpers/fake-plugin';
import { harnessWith, type Harness } from './harness';

const RESOURCE = 'example.com/dev';
/** Every error reply must stay well under the 16 kB a kubelet-side HTTP/2 header list allows. */
const MAX_REPLY = 16 * 1024;
let h: Harness;
afterEach(async () => h && (await h.close()));

async function start(plugin: FakePlugin): Promise<void> {
  h = await harnessWith(plugin);
}

const manyIds = (n: number, prefix = 'nope-') => Array.from({ length: n }, (_, i) => `${prefix}${i}`);

async function errorOf(promise: Promise<unknown>): Promise<{ code: number; details: string }> {
  try {
    await promise;
  } catch (err) {
    return err as { code: number; details: string };
  }
  throw new Error('expected the call to fail');
}

/** The kubelet's stream is intact: still connected, every device still allocatable, a valid call works. */
async function expectStreamIntact(devices: number): Promise<void> {
  expect(h.kubelet.resource(RESOURCE)?.connected).toBe(true);
  expect(h.kubelet.allocatable(RESOURCE)).toBe(devices);
  const [res] = await h.kubelet.allocate(RESOURCE, [['a']]);
  expect(res.devices.map((d) => d.host_path)).toEqual(['/dev/a']);
}

test('10,000 unknown IDs: a bounded INVALID_ARGUMENT naming the first ten, and the stream survives', async () => {
  await start(new FakePlugin(RESOURCE, healthy('a', 'b'), { preStartContainer: () => undefined }));
  const err = await errorOf(h.kubelet.allocate(RESOURCE, [manyIds(10_000)]));
  expect(err.code).toBe(3);
  expect(Buffer.byteLength(err.details)).toBeLessThan(MAX_REPLY);
  expect(err.details).toContain('"nope-0", "nope-1"');
  expect(err.details).toContain('"nope-9" ... and 9990 more');
  expect(err.details).not.toContain('nope-10"');
  await expectStreamIntact(2);

  const preStart = await errorOf(h.kubelet.preStartContainer(RESOURCE, manyIds(10_000)));
  expect(preStart.code).toBe(3);
  expect(Buffer.byteLength(preStart.details)).toBeLessThan(MAX_REPLY);
  expect(preStart.details).toContain('... and 9990 more');
  await expectStreamIntact(2);
});

test('over-long, NUL and non-ASCII IDs are cut and escaped in the reply', async () => {
  await start(new FakePlugin(RESOURCE, healthy('a')));
  const long = 'x'.repeat(100_000);
  const err = await errorOf(
    h.kubelet.allocate(RESOURCE, [[long, 'nul\u0000id', 'caf\u00e9\ud83d', ...manyIds(50)]]),
  );
  expect(err.code).toBe(3);
  expect(Buffer.byteLength(err.details)).toBeLessThan(MAX_REPLY);
  expect(err.details).toContain(`"${'x'.repeat(64)}"...(100000 chars)`);
  expect(err.details).toContain('nul\\u0000id');
  expect(err.details).toContain('... and 43 more');
  await expectStreamIntact(1);
});

test('unhealthy IDs in bulk are bounded too', async () => {
  const sick = manyIds(300, 'sick-').map((id) => ({ id, health: 'Unhealthy' as const }));
  await start(new FakePlugin(RESOURCE, [...healthy('a'), ...sick]));
  const err = await errorOf(h.kubelet.allocate(RESOURCE, [sick.map((d) => d.id)]));
  expect(err.code).toBe(9);
  expect(err.details).toContain('... and 290 more');
  expect(Buffer.byteLength(err.details)).toBeLessThan(MAX_REPLY);
});

test('a plugin error of any size reaches the kubelet bounded', async () => {
  await start(
    new FakePlugin(RESOURCE, healthy('a', 'b'), {
      allocate: (ids) => {
        if (ids.includes('b')) throw new Error(`boom ${'\u00e9'.repeat(200_000)}`);
        return {};
      },
    }),
  );
  const err = await errorOf(h.kubelet.allocate(RESOURCE, [['b']]));
  expect(err.code).toBe(13);
  expect(err.details).toMatch(/^boom (\\u00e9)+.*\.\.\. \(\d+ more characters\)$/);
  expect(Buffer.byteLength(err.details)).toBeLessThan(MAX_REPLY);
  expect(h.kubelet.allocatable(RESOURCE)).toBe(2);
});

describe('GetPreferredAllocation on inconsistent input: INVALID_ARGUMENT naming the problem', () => {
  const cases: [string, { available: string[]; mustInclude?: string[]; size: number }, RegExp][] = [
    [
      'must_include outside available',
      { available: ['a'], mustInclude: ['b'], size: 1 },
      /not in available_deviceIDs: "b"/,
    ],
    [
      'must_include larger than allocation_size',
      { available: ['a', 'b', 'c'], mustInclude: ['a', 'b', 'c'], size: 1 },
      /must_include_deviceIDs has 3 IDs, more than allocation_size 1/,
    ],
    [
      'duplicate available IDs',
      { available: ['a', 'a', 'b'], size: 1 },
      /available_deviceIDs lists IDs twice: "a"/,
    ],
    [
      'duplicate must_include IDs',
      { available: ['a', 'b'], mustInclude: ['a', 'a'], size: 2 },
      /must_include_deviceIDs lists IDs twice: "a"/,
    ],
    [
      'size above available',
      { available: ['a', 'b'], size: 3 },
      /allocation_size 3 is more than the 2 available IDs/,
    ],
    ['size 0', { available: ['a'], size: 0 }, /allocation_size 0 must be at least 1/],
    [
      '10,000 unknown IDs',
      { available: manyIds(10_000), size: 1 },
      /unknown device IDs: .* \.\.\. and 9990 more/,
    ],
  ];
  test.each(cases)('%s', async (_name, request, problem) => {
    await start(
      new FakePlugin(RESOURCE, healthy('a', 'b', 'c'), { preferredAllocation: (r) => r.available }),
    );
    const err = await errorOf(
      h.kubelet.preferredAllocation(RESOURCE, [{ available: ['a'], size: 1 }, request]),
    );
    expect(err.code).toBe(3);
    expect(err.details).toMatch(/container request 1: /);
    expect(err.details).toMatch(problem);
    expect(Buffer.byteLength(err.details)).toBeLessThan(MAX_REPLY);
    await expectStreamIntact(3);
  });

  test('every consistent request gets every must-include ID, only available IDs, exactly size of them', async () => {
    // A plugin that prefers badly: unknown IDs, repeats, and far too many.
    await start(
      new FakePlugin(RESOURCE, healthy('a', 'b', 'c', 'd'), {
        preferredAllocation: () => ['d', 'zz', 'd', 'c', 'b', 'a'],
      }),
    );
    const all = ['a', 'b', 'c', 'd'];
    for (let mask = 1; mask < 16; mask++) {
      const available = all.filter((_, i) => mask & (1 << i));
      for (let size = 1; size <= available.length; size++) {
        for (const mustInclude of [[], available.slice(0, Math.min(size, 1)), available.slice(0, size)]) {
          const [chosen] = await h.kubelet.preferredAllocation(RESOURCE, [{ available, mustInclude, size }]);
          expect(chosen).toHaveLength(size);
          expect(new Set(chosen).size).toBe(size);
          for (const id of chosen) expect(available).toContain(id);
          for (const id of mustInclude) expect(chosen).toContain(id);
        }
      }
    }
  });
});

test('beyond MAX_REQUESTS_IN_FLIGHT calls being worked on, RESOURCE_EXHAUSTED at once; the rest complete', async () => {
  let release!: () => void;
  const gate = new Promise<void>((resolve) => (release = resolve));
  await start(new FakePlugin(RESOURCE, healthy('a'), { allocate: () => gate.then(() => ({})) }));
  const socket = path.join(h.dir, h.kubelet.resource(RESOURCE)!.endpoint);
  // 16 streams per connection: five connections (no shared subchannel) to get past the process-wide cap.
  const clients = Array.from(
    { length: 5 },
    () =>
      new (services().devicePlugin)(unixTarget(socket), grpc.credentials.createInsecure(), {
        'grpc.use_local_subchannel_pool': 1,
      }),
  );
  const calls = clients.flatMap((client) =>
    Array.from({ length: 15 }, () =>
      unary(client, 'Allocate', { container_requests: [{ devices_ids: ['a'] }] }, 20_000).then(
        () => 'ok',
        (err: grpc.ServiceError) => `${err.code}: ${err.details}`,
      ),
    ),
  );
  const refused = await Promise.race(calls); // the first answer is a refusal: the others wait at the gate
  expect(refused).toBe(`8: too many requests in flight (${MAX_REQUESTS_IN_FLIGHT}); retry`);
  release();
  const outcomes = await Promise.all(calls);
  clients.forEach((c) => c.close());
  expect(outcomes.filter((o) => o === 'ok')).toHaveLength(MAX_REQUESTS_IN_FLIGHT);
  expect(outcomes.filter((o) => o.startsWith('8: '))).toHaveLength(75 - MAX_REQUESTS_IN_FLIGHT);
});
