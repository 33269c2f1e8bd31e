import * as fs from 'fs';
import * as path from 'path';
import { devicesInUse, PodResourcesClient, PodResourcesSocketMissingError } from '../../plugins/framework';
import { FakePlugin, healthy } from '../helpers/fake-plugin';
import { removeDir, tempDir } from '../helpers/tmp';
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

test('a missing PodResources socket fails every call at once, naming it; a silent one still waits', async () => {
  const dir = tempDir('kdp-pr-');
  const missing = path.join(dir, 'nowhere', 'pr.sock');
  const client = new PodResourcesClient(missing, 10_000);
  try {
    const started = Date.now();
    for (const call of [() => client.list(), () => client.get('web', 'prod'), () => client.allocatable()]) {
      const error = await call().then(
        () => undefined,
        (err: unknown) => err,
      );
      expect(error).toBeInstanceOf(PodResourcesSocketMissingError);
      expect(error).toMatchObject({
        message: `PodResources socket ${missing} does not exist`,
        code: 'ENOENT',
        socketPath: missing,
      });
    }
    expect(Date.now() - started).toBeLessThan(1000); // not the 10 s timeout

    // A file that is there but answers nothing (say, a kubelet restarting): the timeout applies.
    const silent = path.join(dir, 'silent.sock');
    fs.writeFileSync(silent, '');
    const waiting = new PodResourcesClient(silent, 300);
    try {
      const before = Date.now();
      const error = await waiting.list().then(
        () => undefined,
        (err: unknown) => err,
      );
      expect(error).toBeInstanceOf(Error);
      expect(error).not.toBeInstanceOf(PodResourcesSocketMissingError);
      expect(Date.now() - before).toBeGreaterThanOrEqual(250);
    } finally {
      waiting.close();
    }
  } finally {
    client.close();
    removeDir(dir);
  }
});

test('the PodResources client reconnects after the kubelet restarts (its connection was dropped)', async () => {
  h = await harness();
  h.kubelet.assignPod('other.io/x', ['z'], { pod: 'web', namespace: 'prod', container: 'app' });
  const client = new PodResourcesClient(`${h.dir}/pr.sock`);
  try {
    expect((await client.list()).map((p) => p.name)).toEqual(['web']);
    await h.kubelet.stop(); // the server goes away and closes our connection
    await h.kubelet.start();
    h.kubelet.assignPod('other.io/x', ['y'], { pod: 'db', namespace: 'prod', container: 'app' });
    expect((await client.list()).map((p) => p.name).sort()).toEqual(['db', 'web']);
  } finally {
    client.close();
  }
});
