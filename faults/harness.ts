/** What the fault cases share: a results table, real plugin processes, /proc sampling, a line fit. */
import { spawn, type ChildProcess } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { NODE_RUNTIME_FLAGS } from '../plugins/catalogue/node-flags';

export const REPO_ROOT = path.resolve(__dirname, '..', '..');
const CLI = path.join(REPO_ROOT, 'bin', 'kube-device-plugins.js');

/** One row of the summary: how many attempts, how many failed, and the case's headline figure. */
export interface CaseResult {
  name: string;
  count: number;
  failures: string[];
  figure: string;
}

export class Case {
  count = 0;
  readonly failures: string[] = [];
  figure = '';
  constructor(readonly name: string) {}

  /** Count one attempt; record `problem` (if any) as a failure. At most 20 failures are kept verbatim. */
  check(problem: string | undefined | false): void {
    this.count += 1;
    if (!problem) return;
    if (this.failures.length < 20) this.failures.push(problem);
    else if (this.failures.length === 20) this.failures.push('… more failures not shown');
  }

  result(): CaseResult {
    return { name: this.name, count: this.count, failures: this.failures, figure: this.figure };
  }
}

export function tempDir(prefix: string): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), prefix));
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

export async function until(predicate: () => boolean, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(5);
  }
}

export interface PluginProcess {
  child: ChildProcess;
  stderr(): string;
  /** Parsed JSON log lines so far. */
  logs(): Record<string, unknown>[];
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/** `node <runtime flags> bin/kube-device-plugins.js <args>`, as the chart runs it; `uid` runs it unprivileged. */
export function startProcess(args: string[], options: { uid?: number } = {}): PluginProcess {
  const argv = [...NODE_RUNTIME_FLAGS, CLI, ...args];
  const child =
    options.uid === undefined
      ? spawn(process.execPath, argv, { stdio: ['ignore', 'ignore', 'pipe'] })
      : spawn(
          'setpriv',
          [`--reuid=${options.uid}`, `--regid=${options.uid}`, '--clear-groups', process.execPath, ...argv],
          { stdio: ['ignore', 'ignore', 'pipe'] },
        );
  let stderr = '';
  child.stderr?.on('data', (c: Buffer) => (stderr += c.toString()));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.on('exit', (code, signal) => resolve({ code, signal })),
  );
  return {
    child,
    stderr: () => stderr,
    logs: () =>
      stderr
        .split('\n')
        .filter((l) => l.startsWith('{'))
        .map((l) => JSON.parse(l) as Record<string, unknown>),
    exited,
  };
}

/** Open file descriptors and resident memory (bytes) of a process, from /proc. */
export function sampleProcess(pid: number): { fds: number; rss: number } {
  const fds = fs.readdirSync(`/proc/${pid}/fd`).length;
  const rssKb = Number(/VmRSS:\s+(\d+)/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0);
  return { fds, rss: rssKb * 1024 };
}

/** Least-squares slope of ys over 0…n-1 (growth per sample). */
export function slope(ys: number[]): number {
  const n = ys.length;
  if (n < 2) return 0;
  const mx = (n - 1) / 2;
  const my = ys.reduce((a, b) => a + b, 0) / n;
  let num = 0;
  let den = 0;
  ys.forEach((y, x) => {
    num += (x - mx) * (y - my);
    den += (x - mx) ** 2;
  });
  return num / den;
}

export const MiB = 1024 * 1024;

export function printTable(results: CaseResult[]): void {
  const rows = [
    ['case', 'count', 'failures', 'figure'],
    ...results.map((r) => [r.name, String(r.count), String(r.failures.length), r.figure]),
  ];
  const widths = rows[0].map((_, i) => Math.max(...rows.map((r) => r[i].length)));
  const line = (r: string[]) => `| ${r.map((c, i) => c.padEnd(widths[i])).join(' | ')} |`;
  console.log(line(rows[0]));
  console.log(`| ${widths.map((w) => '-'.repeat(w)).join(' | ')} |`);
  for (const r of rows.slice(1)) console.log(line(r));
  for (const r of results) for (const f of r.failures) console.log(`  ${r.name}: ${f}`);
}
