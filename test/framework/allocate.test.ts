import { AllocationError } from '../../plugins/framework';
import { FakePlugin, healthy } from '../helpers/fake-plugin';
import { harnessWith, type Harness } from './harness';

const RESOURCE = 'example.com/dev';
let h: Harness;
afterEach(async () => h && (await h.close()));

async function start(plugin: FakePlugin): Promise<void> {
  h = await harnessWith(plugin);
}

test('one ContainerAllocateResponse per container request, in order, each for its own IDs', async () => {
  const plugin = new FakePlugin(RESOURCE, healthy('a', 'b', 'c'));
  await start(plugin);
  const responses = await h.kubelet.allocate(RESOURCE, [['a'], ['b', 'c']]);
  expect(responses.map((r) => r.devices.map((d) => d.host_path))).toEqual([['/dev/a'], ['/dev/b', '/dev/c']]);
  expect(plugin.allocations).toEqual([['a'], ['b', 'c']]);
});

test('unknown IDs are refused with INVALID_ARGUMENT naming each of them, and the plugin is not called', async () => {
  const plugin = new FakePlugin(RESOURCE, healthy('a'));
  await start(plugin);
  await expect(h.kubelet.allocate(RESOURCE, [['a'], ['nope', '../etc']])).rejects.toMatchObject({
    code: 3,
    details: expect.stringMatching(/unknown device IDs for example.com\/dev: "nope", "..\/etc"/),
  });
  expect(plugin.allocations).toEqual([]);
});

test('unhealthy IDs are refused with FAILED_PRECONDITION naming them', async () => {
  await start(
    new FakePlugin(RESOURCE, [
      { id: 'a', health: 'Healthy' },
      { id: 'sick', health: 'Unhealthy' },
    ]),
  );
  await expect(h.kubelet.allocate(RESOURCE, [['a', 'sick']])).rejects.toMatchObject({
    code: 9,
    details: expect.stringContaining('unhealthy device IDs for example.com/dev: "sick"'),
  });
});

test('a container request with no IDs is refused', async () => {
  await start(new FakePlugin(RESOURCE, healthy('a')));
  await expect(h.kubelet.allocate(RESOURCE, [[]])).rejects.toMatchObject({ code: 3 });
});

test('what the plugin returns is merged: devices, mounts, envs, annotations and CDI names, deduplicated', async () => {
  await start(
    new FakePlugin(RESOURCE, healthy('a', 'b'), {
      allocate: (ids) => ({
        devices: [
          { containerPath: '/dev/x', hostPath: '/dev/x', permissions: 'rw' },
          { containerPath: '/dev/x', hostPath: '/dev/x', permissions: 'rw' },
        ],
        mounts: [{ containerPath: '/run/sock', hostPath: '/run/host-sock', readOnly: false }],
        envs: { IDS: ids.join(',') },
        annotations: { 'example.com/ids': ids.join(',') },
        cdiDevices: ['example.com/dev=a', 'example.com/dev=a'],
      }),
    }),
  );
  const [res] = await h.kubelet.allocate(RESOURCE, [['a', 'b']]);
  expect(res).toEqual({
    devices: [{ container_path: '/dev/x', host_path: '/dev/x', permissions: 'rw' }],
    mounts: [{ container_path: '/run/sock', host_path: '/run/host-sock', read_only: false }],
    envs: { IDS: 'a,b' },
    annotations: { 'example.com/ids': 'a,b' },
    cdi_devices: [{ name: 'example.com/dev=a' }],
  });
});

test('an unqualified CDI name from a plugin becomes an error, not a device the runtime cannot resolve', async () => {
  await start(new FakePlugin(RESOURCE, healthy('a'), { allocate: () => ({ cdiDevices: ['kvm0'] }) }));
  await expect(h.kubelet.allocate(RESOURCE, [['a']])).rejects.toMatchObject({
    code: 13,
    details: expect.stringContaining('kvm0'),
  });
});

test('a plugin error reaches the kubelet with its code and message, and is counted', async () => {
  await start(
    new FakePlugin(RESOURCE, healthy('a'), {
      allocate: () => {
        throw new AllocationError('zcrypt node did not appear', 14);
      },
    }),
  );
  await expect(h.kubelet.allocate(RESOURCE, [['a']])).rejects.toMatchObject({
    code: 14,
    details: 'zcrypt node did not appear',
  });
  const errors = await h.manager.metrics.allocationErrors.get();
  expect(errors.values).toEqual([
    expect.objectContaining({ value: 1, labels: { resource: RESOURCE, reason: 'invalid_request' } }),
  ]);
});

describe('GetPreferredAllocation', () => {
  test('honours must_include, allocation_size and available whatever the plugin prefers', async () => {
    // A careless preference: unknown IDs, too many, missing the must-include one.
    await start(
      new FakePlugin(RESOURCE, healthy('a', 'b', 'c', 'd'), {
        preferredAllocation: () => ['d', 'zzz', 'c', 'b'],
      }),
    );
    const [chosen] = await h.kubelet.preferredAllocation(RESOURCE, [
      { available: ['a', 'b', 'c', 'd'], mustInclude: ['a'], size: 3 },
    ]);
    expect(chosen).toEqual(['a', 'd', 'c']);
    const [small] = await h.kubelet.preferredAllocation(RESOURCE, [{ available: ['b', 'c'], size: 1 }]);
    expect(small).toEqual(['c']);
  });

  test('is refused when the plugin does not offer it', async () => {
    await start(new FakePlugin(RESOURCE, healthy('a')));
    await expect(
      h.kubelet.preferredAllocation(RESOURCE, [{ available: ['a'], size: 1 }]),
    ).rejects.toMatchObject({ code: 12 });
  });

  test('names unknown IDs', async () => {
    await start(new FakePlugin(RESOURCE, healthy('a'), { preferredAllocation: () => [] }));
    await expect(
      h.kubelet.preferredAllocation(RESOURCE, [{ available: ['a', 'ghost'], size: 1 }]),
    ).rejects.toMatchObject({
      code: 3,
      details: expect.stringContaining('"ghost"'),
    });
  });
});

describe('PreStartContainer', () => {
  test('reaches the plugin with the device IDs when offered', async () => {
    const seen: string[][] = [];
    await start(
      new FakePlugin(RESOURCE, healthy('a', 'b'), { preStartContainer: (ids) => void seen.push(ids) }),
    );
    await h.kubelet.preStartContainer(RESOURCE, ['b']);
    expect(seen).toEqual([['b']]);
  });

  test('is refused when not offered', async () => {
    await start(new FakePlugin(RESOURCE, healthy('a')));
    await expect(h.kubelet.preStartContainer(RESOURCE, ['a'])).rejects.toMatchObject({ code: 12 });
  });
});
