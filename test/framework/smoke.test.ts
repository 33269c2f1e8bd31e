import { PluginManager, silentLogger } from '../../plugins/framework';
import { KubeletSimulator } from '../../simulator/kubelet';
import { FakePlugin, healthy } from '../helpers/fake-plugin';
import { removeDir, tempDir } from '../helpers/tmp';

test('a plugin registers, streams its devices and serves Allocate', async () => {
  const dir = tempDir();
  const kubelet = new KubeletSimulator({ devicePluginDir: dir });
  await kubelet.start();
  const manager = new PluginManager({ devicePluginDir: dir, log: silentLogger });
  try {
    await manager.addResource(new FakePlugin('example.com/dev', healthy('a', 'b')));
    await kubelet.waitForRegistration('example.com/dev');
    expect(kubelet.capacity('example.com/dev')).toBe(2);
    const [res] = await kubelet.allocate('example.com/dev', [['a']]);
    expect(res.devices).toEqual([{ container_path: '/dev/a', host_path: '/dev/a', permissions: 'rw' }]);
  } finally {
    await manager.stop();
    await kubelet.stop();
    removeDir(dir);
  }
});
