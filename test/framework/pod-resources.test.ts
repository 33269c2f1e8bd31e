import { devicesInUse, PodResourcesClient } from '../../plugins/framework';
import { FakePlugin, healthy } from '../helpers/fake-plugin';
import { harness, type Harness } from './harness';

let h: Harness;
afterEach(async () => h && (await h.close()));

test('the PodResources client lists which pod and container hold which devices', async () => {
  h = await harness();
  await h.manager.addResource(new FakePlugin('example.com/dev', healthy('a', 'b', 'c')));
  await h.kubelet.waitForRegistration('example.com/dev');
  await h.kubelet.allocate('example.com/dev', [['a', 'b']], {
    pod: 'web',
    namespace: 'prod',
    container: 'app',
  });
  h.kubelet.assignPod('other.io/x', ['z'], { pod: 'web', namespace: 'prod', container: 'app' });

  const client = new PodResourcesClient(`${h.dir}/pr.sock`);
  try {
    const pods = await client.list();
    expect(pods).toEqual([
      {
        name: 'web',
        namespace: 'prod',
        containers: [
          {
            name: 'app',
            devices: [
              { resourceName: 'example.com/dev', deviceIds: ['a', 'b'] },
              { resourceName: 'other.io/x', deviceIds: ['z'] },
            ],
          },
        ],
      },
    ]);
    expect([...devicesInUse(pods, 'example.com/dev').entries()]).toEqual([
      ['a', { pod: 'web', namespace: 'prod', container: 'app' }],
      ['b', { pod: 'web', namespace: 'prod', container: 'app' }],
    ]);
    expect((await client.get('web', 'prod'))?.containers[0].name).toBe('app');
    await expect(client.get('gone', 'prod')).rejects.toMatchObject({ code: 5 });
    expect(await client.allocatable()).toEqual([
      { resourceName: 'example.com/dev', deviceIds: ['a', 'b', 'c'] },
    ]);
    h.kubelet.removePod('web', 'prod');
    expect(await client.list()).toEqual([]);
  } finally {
    client.close();
  }
});
