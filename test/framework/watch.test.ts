import * as fs from 'fs';
import * as path from 'path';
import { createLogger, watchDirs, type Watch } from '../../plugins/framework';
import { eventually, removeDir, sleep, tempDir } from '../helpers/tmp';

let dir: string;
let watch: Watch | undefined;
beforeEach(() => (dir = tempDir()));
afterEach(() => {
  watch?.close();
  removeDir(dir);
});

test('a throwing onChange is logged and the watch keeps working (a throw from a timer would end the daemon)', async () => {
  const lines: string[] = [];
  let calls = 0;
  watch = watchDirs({
    dirs: [dir],
    onChange: () => {
      calls += 1;
      if (calls === 1) throw new Error('scan exploded');
    },
    log: createLogger({ write: (l) => lines.push(l) }),
  });
  fs.writeFileSync(path.join(dir, 'a'), '');
  await eventually(() => calls === 1, 2000, 'first change');
  await sleep(20);
  fs.writeFileSync(path.join(dir, 'b'), '');
  await eventually(() => calls === 2, 2000, 'second change');
  expect(JSON.parse(lines[0])).toMatchObject({ level: 'error', error: 'scan exploded' });
});

test('a directory removed and made again is watched again (its old inotify watch died with it)', async () => {
  const child = path.join(dir, 'dri');
  fs.mkdirSync(child);
  let calls = 0;
  watch = watchDirs({ dirs: [dir, child], onChange: () => (calls += 1), pollMs: 0 });
  fs.rmSync(child, { recursive: true });
  fs.mkdirSync(child); // the parent's watch reports this, and the child is watched anew
  await eventually(() => calls >= 1, 2000, 'parent event');
  await sleep(30);
  const before = calls;
  fs.writeFileSync(path.join(child, 'renderD128'), '');
  await eventually(() => calls > before, 2000, 'event from inside the re-made directory');
});

test('log fields that are undefined are left out', () => {
  const lines: string[] = [];
  createLogger({ format: 'text', write: (l) => lines.push(l) }).info('device node found', {
    device: 'kvm',
    devno: undefined,
  });
  expect(lines[0]).toMatch(/device node found device=kvm$/);
});
