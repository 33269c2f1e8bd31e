/**
 * The Go plugins the bench runs beside ours, built from the Go module proxy and cached by the hash of their
 * module files and source, so `npm run bench` builds each once per change (~1 min cold, then free):
 * - the Go floor (bench/go/): a minimal Go device plugin written here;
 * - upstream (bench/upstream/): squat's generic-device-plugin at the version its go.mod pins (a `tool`
 *   line), the generic device-node plugin whose polling figures issue 15 starts from.
 */
import { execFileSync } from 'child_process';
import { createHash } from 'crypto';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';

/** bench/go/ and bench/upstream/ in the sources (this file runs from dist/bench/). */
export const GO_FLOOR_DIR = path.join(__dirname, '..', '..', 'bench', 'go');
export const UPSTREAM_DIR = path.join(__dirname, '..', '..', 'bench', 'upstream');
/** The upstream plugin's main package, named by the `tool` line of bench/upstream/go.mod. */
const UPSTREAM_PACKAGE = 'github.com/squat/generic-device-plugin';

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

/** The Go floor's binary, building it first unless a binary for these exact sources is cached. */
export function goFloorBinary(): string {
  return cachedBuild('go-floor', GO_FLOOR_DIR, ['go.mod', 'go.sum', 'main.go'], '.');
}

/** squat's generic-device-plugin, built the same way from the module proxy. */
export function upstreamBinary(): string {
  return cachedBuild('upstream', UPSTREAM_DIR, ['go.mod', 'go.sum'], UPSTREAM_PACKAGE);
}

function cachedBuild(name: string, dir: string, files: string[], pkg: string): string {
  const hash = createHash('sha256');
  for (const file of files) hash.update(fs.readFileSync(path.join(dir, file)));
  const cacheDir = path.join(
    process.env.XDG_CACHE_HOME ?? path.join(os.homedir(), '.cache'),
    'kube-device-plugins',
    name,
  );
  const binary = path.join(cacheDir, hash.digest('hex').slice(0, 16));
  if (!fs.existsSync(binary)) {
    fs.mkdirSync(cacheDir, { recursive: true });
    console.log(`  building ${pkg === '.' ? dir : pkg} into ${binary}`);
    execFileSync('go', ['build', '-trimpath', '-o', `${binary}.tmp`, pkg], { cwd: dir, stdio: 'inherit' });
    fs.renameSync(`${binary}.tmp`, binary);
  }
  return binary;
}
