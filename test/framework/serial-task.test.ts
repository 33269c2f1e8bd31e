/** SerialTask: on-demand runs, never two at once, bursts folded into one run. */
import { SerialTask } from '../../plugins/framework';
import { sleep } from '../helpers/tmp';

describe('SerialTask', () => {
  test('a burst of requests is one run; requests during a run are one more run', async () => {
    let runs = 0;
    let release!: () => void;
    const task = new SerialTask(
      () => {
        runs += 1;
        return new Promise<void>((resolve) => (release = resolve));
      },
      5,
      (err) => {
        throw err;
      },
    );
    for (let i = 0; i < 10; i++) task.request();
    await eventuallyTrue(() => runs === 1);
    for (let i = 0; i < 10; i++) task.request(); // while running
    release();
    await eventuallyTrue(() => runs === 2);
    release();
    await sleep(30);
    expect(runs).toBe(2);
    await task.stop();
  });

  test('runNow propagates the error; requested runs report it; stop ends it all', async () => {
    const errors: unknown[] = [];
    let runs = 0;
    const task = new SerialTask(
      async () => {
        runs += 1;
        throw new Error(`run ${runs} failed`);
      },
      1,
      (err) => errors.push(err),
    );
    await expect(task.runNow()).rejects.toThrow('run 1 failed');
    task.request();
    await eventuallyTrue(() => errors.length === 1);
    expect((errors[0] as Error).message).toBe('run 2 failed');
    await task.stop();
    task.request();
    await task.runNow();
    expect(runs).toBe(2);
  });
});

async function eventuallyTrue(predicate: () => boolean): Promise<void> {
  for (let i = 0; i < 200 && !predicate(); i++) await sleep(5);
  expect(predicate()).toBe(true);
}
