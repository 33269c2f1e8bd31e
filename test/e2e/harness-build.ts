/**
 * Builds the Go harness (test/e2e/kubelet/) once per kubelet version and caches the binary under
 * `$KDP_E2E_CACHE` (default ~/.cache/kdp-e2e), keyed by sha256 of `go version`, the version's
 * go.mod/go.sum, the build tags and every Go source: a warm run does not rebuild. A cold build of
 * k8s.io/kubernetes' kubelet packages takes minutes on 2 cores; Go's own build cache (GOCACHE) makes
 * a rebuild after a source change much faster.
 */
import { execFileSync, spawn } from 'child_process';
import * as crypto from 'crypto';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { REPO_ROOT } from './plugin-process';

export interface KubeletVersion {
  /** e.g. 1.37: the minor this build links. */
  minor: string;
  /** go.mod of this build (-modfile) and its build tags. */
  modfile: string;
  tags: string[];
  /** The harness's Go module dir (default HARNESS_DIR) and the cache entry's prefix (default the minor). */
  dir?: string;
  name?: string;
}

export const KUBELET_VERSIONS: KubeletVersion[] = [
  { minor: '1.37', modfile: 'go.mod', tags: [] },
  { minor: '1.36', modfile: 'go.1.36.mod', tags: ['kube136'] },
];

export const HARNESS_DIR = path.join(REPO_ROOT, 'test', 'e2e', 'kubelet');

export function cacheRoot(): string {
  return process.env.KDP_E2E_CACHE || path.join(os.homedir(), '.cache', 'kdp-e2e');
}

function goVersion(): string {
  try {
    return execFileSync('go', ['version'], { encoding: 'utf8' }).trim();
  } catch (err) {
    throw new Error(`the e2e tier needs Go (go version failed: ${(err as Error).message})`);
  }
}

export function cacheKey(v: KubeletVersion): string {
  const hash = crypto.createHash('sha256');
  hash.update(goVersion() + '\0' + v.tags.join(',') + '\0');
  const sum = v.modfile.replace(/\.mod$/, '.sum');
  const dir = v.dir ?? HARNESS_DIR;
  const sources = fs
    .readdirSync(dir)
    .filter((f) => f.endsWith('.go'))
    .sort();
  for (const file of [v.modfile, sum, ...sources]) {
    hash.update(file + '\0');
    hash.update(fs.readFileSync(path.join(dir, file)));
    hash.update('\0');
  }
  return hash.digest('hex').slice(0, 16);
}

export interface BuiltHarness {
  binary: string;
  built: boolean;
  seconds: number;
}

/** The cached harness binary for `v`, building it first when the cache has none. */
export async function ensureHarness(v: KubeletVersion): Promise<BuiltHarness> {
  const dir = path.join(cacheRoot(), `${v.name ?? v.minor}-${cacheKey(v)}`);
  const binary = path.join(dir, 'harness');
  if (fs.existsSync(binary)) {
    console.log(`kubelet ${v.minor} harness: cached ${binary}`);
    return { binary, built: false, seconds: 0 };
  }
  fs.mkdirSync(dir, { recursive: true });
  const args = ['build', `-modfile=${v.modfile}`, '-o', binary + '.tmp'];
  if (v.tags.length > 0) args.push(`-tags=${v.tags.join(',')}`);
  args.push('.');
  console.log(`kubelet ${v.minor} harness: building (go ${args.join(' ')}); a cold build takes minutes…`);
  const started = Date.now();
  await new Promise<void>((resolve, reject) => {
    // GOTOOLCHAIN=local: build with the installed Go, never download another toolchain.
    const child = spawn('go', args, {
      cwd: v.dir ?? HARNESS_DIR,
      stdio: 'inherit',
      env: { ...process.env, GOTOOLCHAIN: 'local' },
    });
    child.on('error', reject);
    child.on('exit', (code) =>
      code === 0 ? resolve() : reject(new Error(`go build for kubelet ${v.minor} failed (exit ${code})`)),
    );
  });
  fs.renameSync(binary + '.tmp', binary);
  const seconds = (Date.now() - started) / 1000;
  console.log(`kubelet ${v.minor} harness: built in ${seconds.toFixed(0)} s → ${binary}`);
  return { binary, built: true, seconds };
}
