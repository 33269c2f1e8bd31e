/** The simulator must refuse what the kubelet refuses, or plugin tests would pass against a lenient fake. */
import * as grpc from '@grpc/grpc-js';
import { services, unary, unixTarget, waitForReady } from '../../simulator/grpc-js-clients';
import { PluginManager, silentLogger } from '../../plugins/framework';
import { KubeletSimulator } from '../../simulator/kubelet';
import { FakePlugin, healthy } from '../helpers/fake-plugin';
import { removeDir, tempDir } from '../helpers/tmp';

let dir: string;
let kubelet: KubeletSimulator;
let client: grpc.Client;

beforeEach(async () => {
  dir = tempDir();
  kubelet = new KubeletSimulator({ devicePluginDir: dir, dialTimeoutMs: 300 });
  await kubelet.start();
  const Registration = services().registration;
  client = new Registration(unixTarget(kubelet.socketPath), grpc.credentials.createInsecure());
  await waitForReady(client, 2000);
});
afterEach(async () => {
  client.close();
  await kubelet.stop();
  removeDir(dir);
});

const register = (req: object) => unary(client, 'Register', req, 2000);

test('refuses an unsupported API version', async () => {
  await expect(
    register({ version: 'v1alpha', endpoint: 'x.sock', resource_name: 'a.io/b' }),
  ).rejects.toMatchObject({
    details: expect.stringContaining('unsupported device plugin API version "v1alpha"'),
  });
});

test('refuses an invalid resource name', async () => {
  await expect(
    register({ version: 'v1beta1', endpoint: 'x.sock', resource_name: 'gpu' }),
  ).rejects.toMatchObject({
    details: expect.stringContaining('invalid resource name'),
  });
  expect(kubelet.rejections.map((r) => r.request.resource_name)).toEqual(['gpu']);
});

test('dials the plugin and asks for its options before accepting', async () => {
  await expect(
    register({ version: 'v1beta1', endpoint: 'nobody.sock', resource_name: 'a.io/b' }),
  ).rejects.toMatchObject({
    details: expect.stringContaining('cannot reach plugin at nobody.sock'),
  });
  expect(kubelet.resource('a.io/b')).toBeUndefined();
});

test('tracks capacity (all devices) and allocatable (healthy, while connected)', async () => {
  const manager = new PluginManager({ devicePluginDir: dir, log: silentLogger });
  const plugin = new FakePlugin('a.io/b', [...healthy('x', 'y'), { id: 'z', health: 'Unhealthy' }]);
  try {
    await manager.addResource(plugin);
    await kubelet.waitForRegistration('a.io/b');
    expect([kubelet.capacity('a.io/b'), kubelet.allocatable('a.io/b')]).toEqual([3, 2]);
    await manager.removeResource('a.io/b');
    await kubelet.waitFor(() => kubelet.allocatable('a.io/b') === 0, 2000, 'stream end');
    expect(kubelet.capacity('a.io/b')).toBe(3); // the kubelet keeps capacity until its grace period ends
  } finally {
    await manager.stop();
  }
});
