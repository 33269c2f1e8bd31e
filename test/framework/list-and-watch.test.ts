import * as grpc from '@grpc/grpc-js';
import * as path from 'path';
import { socketNameFor } from '../../plugins/framework';
import type { WireDevice } from '../../plugins/framework/proto';
import { services, unixTarget } from '../../simulator/grpc-js-clients';
import { FakePlugin, healthy } from '../helpers/fake-plugin';
import { eventually } from '../helpers/tmp';
import { harness, type Harness } from './harness';

const RESOURCE = 'example.com/dev';
let h: Harness;
afterEach(async () => h && (await h.close()));

/** A second, independent ListAndWatch client (as if a second kubelet connection were open). */
function openStream(dir: string) {
  const DevicePlugin = services().devicePlugin;
  const client = new DevicePlugin(
    unixTarget(path.join(dir, socketNameFor(RESOURCE))),
    grpc.credentials.createInsecure(),
  );
  const lists: WireDevice[][] = [];
  const stream = (
    client as unknown as { ListAndWatch(r: object): grpc.ClientReadableStream<{ devices: WireDevice[] }> }
  ).ListAndWatch({});
  stream.on('data', (msg) => lists.push(msg.devices));
  stream.on('error', () => undefined);
  return { lists, close: () => (stream.cancel(), client.close()) };
}

test('the full list goes out when the stream opens, then again on every change', async () => {
  h = await harness();
  const plugin = new FakePlugin(RESOURCE, [
    { id: 'a', health: 'Healthy', numaNodes: [1] },
    { id: 'b', health: 'Unhealthy' },
  ]);
  await h.manager.addResource(plugin);
  await h.kubelet.waitForRegistration(RESOURCE);
  expect(h.kubelet.resource(RESOURCE)!.devices).toEqual([
    { id: 'a', health: 'Healthy', numaNodes: [1] },
    { id: 'b', health: 'Unhealthy', numaNodes: [] },
  ]);
  expect(h.kubelet.capacity(RESOURCE)).toBe(2);
  expect(h.kubelet.allocatable(RESOURCE)).toBe(1);

  plugin.set([
    { id: 'a', health: 'Unhealthy' },
    { id: 'b', health: 'Healthy' },
    { id: 'c', health: 'Healthy' },
  ]);
  await h.kubelet.waitFor(() => h.kubelet.capacity(RESOURCE) === 3, 2000);
  expect(h.kubelet.resource(RESOURCE)!.devices.map((d) => `${d.id}:${d.health}`)).toEqual([
    'a:Unhealthy',
    'b:Healthy',
    'c:Healthy',
  ]);
});

test('several concurrent streams each receive every update, as full lists', async () => {
  h = await harness();
  const plugin = new FakePlugin(RESOURCE, healthy('a'));
  await h.manager.addResource(plugin);
  await h.kubelet.waitForRegistration(RESOURCE);
  const s1 = openStream(h.dir);
  const s2 = openStream(h.dir);
  try {
    await eventually(() => s1.lists.length === 1 && s2.lists.length === 1, 3000, 'initial lists');
    plugin.set(healthy('a', 'b'));
    plugin.set([
      { id: 'a', health: 'Healthy' },
      { id: 'b', health: 'Unhealthy' },
    ]);
    await eventually(() => s1.lists.length === 3 && s2.lists.length === 3, 3000, 'updates on both streams');
    for (const lists of [s1.lists, s2.lists]) {
      expect(lists.map((l) => l.map((d) => `${d.ID}:${d.health}`))).toEqual([
        ['a:Healthy'],
        ['a:Healthy', 'b:Healthy'],
        ['a:Healthy', 'b:Unhealthy'],
      ]);
    }
    await h.kubelet.waitFor(() => h.kubelet.allocatable(RESOURCE) === 1, 2000);
  } finally {
    s1.close();
    s2.close();
  }
});

test('an invalid list from a plugin (duplicate or over-long IDs) is refused and the last good one kept', async () => {
  h = await harness();
  const plugin = new FakePlugin(RESOURCE, healthy('a'));
  await h.manager.addResource(plugin);
  await h.kubelet.waitForRegistration(RESOURCE);
  plugin.set(healthy('x', 'x'));
  plugin.set(healthy('y'.repeat(64)));
  plugin.set(healthy('a', 'b'));
  await h.kubelet.waitFor(() => h.kubelet.capacity(RESOURCE) === 2, 2000);
  expect(h.kubelet.resource(RESOURCE)!.updates).toBe(2);
});
