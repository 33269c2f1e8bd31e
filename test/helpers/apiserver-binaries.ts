/**
 * kube-apiserver + etcd for the suites that talk to a real API server outside the e2e tier
 * (test/e2e/apiserver/build.sh builds them from the Go module proxy and caches them).
 */
import { execFileSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { REPO_ROOT } from './process';

const BUILD = path.join(REPO_ROOT, 'test', 'e2e', 'apiserver', 'build.sh');
const CACHE = process.env.KDP_E2E_CACHE ?? path.join(os.homedir(), '.cache', 'kdp-e2e-apiserver');

/**
 * Why the suite cannot run here, or undefined. Under CI=true never a reason: CI builds the binaries
 * (minutes, cached afterwards); elsewhere the suite is skipped when they are not cached yet.
 */
export function missingApiserverBinaries(): string | undefined {
  if (process.env.CI === 'true') return undefined;
  const cached = fs.existsSync(CACHE) ? fs.readdirSync(CACHE) : [];
  const need = ['etcd-', 'kube-apiserver-v1.37-'].filter((p) => !cached.some((d) => d.startsWith(p)));
  return need.length
    ? `no cached ${need.map((n) => n.replace(/-$/, '')).join(', ')} in ${CACHE} (build with test/e2e/apiserver/build.sh)`
    : undefined;
}

/** Build (or find cached) one binary; returns its path. */
export function apiserverBinary(name: string): string {
  return execFileSync(BUILD, [name], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] })
    .trim()
    .split('\n')
    .pop()!;
}

/** The binaries `Cluster.start` needs. */
export function apiserverBinaries(): { etcd: string; 'kube-apiserver': string } {
  return { etcd: apiserverBinary('etcd'), 'kube-apiserver': apiserverBinary('kube-apiserver-v1.37') };
}
