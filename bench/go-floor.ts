/**
 * The Go floor (bench/go/): a minimal Go device plugin built from the Go module proxy, cached by the hash
 * of its go.mod, go.sum and source, so `npm run bench` builds it once per change (~1 min cold, then free).
 */
import { execFileSync } from 'child_process';
import { createHash } from 'crypto';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';

/** bench/go/ in the sources (this file runs from dist/bench/). */
export const GO_FLOOR_DIR = path.join(__dirname, '..', '..', 'bench', 'go');

function hasGo(): boolean {
  try {
    execFileSync('go', ['version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

export function goFloorUnavailable(): string | undefined {
  return hasGo() ? undefined : 'no Go toolchain on PATH to build bench/go/';
}

/** The built binary, building it first unless a binary for these exact sources is cached. */
export function goFloorBinary(): string {
  const hash = createHash('sha256');
  for (const file of ['go.mod', 'go.sum', 'main.go'])
    hash.update(fs.readFileSync(path.join(GO_FLOOR_DIR, file)));
  const cacheDir = path.join(
    process.env.XDG_CACHE_HOME ?? path.join(os.homedir(), '.cache'),
    'kube-device-plugins',
    'go-floor',
  );
  const binary = path.join(cacheDir, hash.digest('hex').slice(0, 16));
  if (!fs.existsSync(binary)) {
    fs.mkdirSync(cacheDir, { recursive: true });
    console.log(`  building the Go floor (bench/go/) into ${binary}`);
    execFileSync('go', ['build', '-trimpath', '-o', `${binary}.tmp`, '.'], {
      cwd: GO_FLOOR_DIR,
      stdio: 'inherit',
    });
    fs.renameSync(`${binary}.tmp`, binary);
  }
  return binary;
}
