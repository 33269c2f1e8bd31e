/**
 * The kubelet side of the DRA tier: the Go harness in ./kubelet (the kubelet's real DRA manager and
 * plugin manager, k8s.io/kubernetes v1.37.2), built once and cached like the device-plugin harness, run
 * as a child process. It reports JSON lines on stdout (see kubelet/main.go); this class keeps them all
 * (the kubelet's log records go to a file) and lets a scenario wait for one.
 */
import { spawn, type ChildProcess } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import * as readline from 'readline';
import { ensureHarness, type BuiltHarness, type KubeletVersion } from '../harness-build';
import { REPO_ROOT } from '../plugin-process';

export const DRA_HARNESS: KubeletVersion = {
  minor: '1.37',
  modfile: 'go.mod',
  tags: [],
  dir: path.join(REPO_ROOT, 'test', 'e2e', 'dra', 'kubelet'),
  name: 'dra-1.37',
};

export function ensureDraHarness(): Promise<BuiltHarness> {
  return ensureHarness(DRA_HARNESS);
}

export interface HarnessEvent {
  event: string;
  at: number;
  pod?: string;
  uid?: string;
  error?: string;
  cdi?: Record<string, string[]>;
  prepareMs?: number;
  unprepareMs?: number;
  rpcMs?: Record<string, number>;
  msg?: string;
  level?: string;
  kv?: Record<string, string>;
  [key: string]: unknown;
}

export class KubeletDra {
  readonly events: HarnessEvent[] = [];
  private readonly child: ChildProcess;
  private readonly exited: Promise<number | null>;
  private waiters: (() => void)[] = [];
  private exitCode: number | null | undefined;

  constructor(binary: string, args: { kubeconfig: string; node: string; root: string }, logFile: string) {
    const log = fs.createWriteStream(logFile, { flags: 'a' });
    this.child = spawn(
      binary,
      [`--kubeconfig=${args.kubeconfig}`, `--node=${args.node}`, `--root=${args.root}`],
      { stdio: ['pipe', 'pipe', 'pipe'] },
    );
    this.child.stderr!.pipe(log, { end: false });
    readline.createInterface({ input: this.child.stdout! }).on('line', (line) => {
      log.write(line + '\n');
      let event: HarnessEvent;
      try {
        event = { ...(JSON.parse(line) as HarnessEvent), at: Date.now() };
      } catch {
        return;
      }
      this.events.push(event);
      for (const wake of this.waiters.splice(0)) wake();
    });
    this.exited = new Promise((resolve) =>
      this.child.on('exit', (code) => {
        this.exitCode = code;
        for (const wake of this.waiters.splice(0)) wake();
        resolve(code);
      }),
    );
  }

  get pid(): number | undefined {
    return this.child.pid;
  }

  /** The first event from index `from` on that matches, waiting up to `timeoutMs` for it. */
  async waitFor(
    what: string,
    match: (e: HarnessEvent) => boolean,
    timeoutMs = 60_000,
    from = 0,
  ): Promise<HarnessEvent> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const found = this.events.slice(from).find(match);
      if (found) return found;
      if (this.exitCode !== undefined)
        throw new Error(`kubelet harness exited (${this.exitCode}) before ${what}`);
      const left = deadline - Date.now();
      if (left <= 0) {
        const failures = this.events
          .slice(from)
          .filter((e) => e.event.endsWith('Failed') || e.level === 'error')
          .slice(-3)
          .map((e) => e.error ?? `${e.msg} ${e.err ?? ''}`);
        throw new Error(
          `no ${what} in ${timeoutMs / 1000} s${failures.length ? `; last errors: ${failures.join(' | ')}` : ''}`,
        );
      }
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.waiters.push(() => (clearTimeout(timer), resolve()));
      });
    }
  }

  /** The kubelet's "Registered DRA plugin" record for `driver`, after event index `from`. */
  registered(driver: string, from = 0, timeoutMs = 60_000): Promise<HarnessEvent> {
    return this.waitFor(
      `registration of ${driver}`,
      (e) => e.msg === 'Registered DRA plugin' && e.kv?.driverName === driver,
      timeoutMs,
      from,
    );
  }

  async stop(): Promise<void> {
    if (this.exitCode !== undefined) return;
    this.child.stdin!.end(); // the harness stops when its stdin closes
    const timer = setTimeout(() => this.child.kill('SIGKILL'), 10_000);
    await this.exited;
    clearTimeout(timer);
  }
}
