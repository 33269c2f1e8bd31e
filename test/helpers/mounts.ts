/** Small tmpfs mounts for fault tests (ENOSPC, EROFS); root only. Every mount is undone by `unmountAll`. */
import { execFileSync } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';

const mounted: string[] = [];
let fillers = 0;

/** Mount a tmpfs of `size` (e.g. '64k') at `dir` (made if missing), optionally read-only. */
export function mountTmpfs(dir: string, size = '64k', readOnly = false): void {
  fs.mkdirSync(dir, { recursive: true });
  execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${size}${readOnly ? ',ro' : ''}`, 'tmpfs', dir]);
  mounted.push(dir);
}

/** Remount a mounted tmpfs read-only or read-write. */
export function remount(dir: string, readOnly: boolean): void {
  execFileSync('mount', ['-o', `remount,${readOnly ? 'ro' : 'rw'}`, dir]);
}

/** Fill a file system until ENOSPC; returns the filler file (remove it to free the space). */
export function fill(dir: string): string {
  const filler = path.join(dir, `filler-${fillers++}`);
  const fd = fs.openSync(filler, 'w');
  const chunk = Buffer.alloc(4096, 1);
  try {
    for (;;) fs.writeSync(fd, chunk);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOSPC') throw err;
  } finally {
    fs.closeSync(fd);
  }
  return filler;
}

export function unmountAll(): void {
  for (const dir of mounted.splice(0).reverse()) execFileSync('umount', ['-l', dir]);
}
