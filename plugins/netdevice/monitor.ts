/**
 * Netlink events, through a long-running `ip monitor link route` child: every link event (added,
 * removed, up, down, moved to another namespace) and every default-route change triggers a rescan. The
 * child is restarted, with back-off, whenever it dies; a restart also triggers a rescan, since events
 * may have been lost while it was down.
 */
import { spawn, type ChildProcess } from 'child_process';
import * as readline from 'readline';
import type { Logger } from '../framework';
import { IP_COMMAND } from './ip';

export const MONITOR_ARGS = ['-o', 'monitor', 'label', 'link', 'route'];
const FIRST_RESTART_DELAY_MS = 100;
const MAX_RESTART_DELAY_MS = 30_000;
/** A child that lived this long was healthy: the next restart starts the back-off over. */
const STABLE_AFTER_MS = 10_000;

export interface LinkMonitorOptions {
  /** Called for every relevant event (and after each restart); the caller coalesces. */
  onEvent: () => void;
  log: Logger;
}

/** `[LINK]…` lines always matter; of `[ROUTE]…` lines only default routes do (they decide exclusions). */
export function isRelevantEvent(line: string): boolean {
  if (line.startsWith('[ROUTE]')) return /\bdefault\b/.test(line);
  return line.trim() !== '';
}

export class LinkMonitor {
  private child?: ChildProcess;
  private restartTimer?: NodeJS.Timeout;
  private restartDelayMs = FIRST_RESTART_DELAY_MS;
  private stopped = false;
  /** How many times the child was restarted after dying (metrics for tests and logs). */
  restarts = 0;

  constructor(private readonly opts: LinkMonitorOptions) {}

  /** Process id of the current `ip monitor` child, if one is running. */
  get pid(): number | undefined {
    return this.child?.pid;
  }

  start(): void {
    if (this.stopped || this.child) return;
    const startedAt = Date.now();
    const child = spawn(IP_COMMAND, MONITOR_ARGS, { stdio: ['ignore', 'pipe', 'pipe'] });
    this.child = child;
    let stderr = '';
    child.stderr?.on('data', (chunk: Buffer) => (stderr = (stderr + chunk.toString()).slice(-500)));
    readline.createInterface({ input: child.stdout! }).on('line', (line) => {
      if (isRelevantEvent(line)) this.opts.onEvent();
    });
    let ended = false;
    const onEnd = (code: number | null, signal: NodeJS.Signals | null, error?: Error) => {
      if (ended) return;
      ended = true;
      if (this.child === child) this.child = undefined;
      if (this.stopped) return;
      if (Date.now() - startedAt >= STABLE_AFTER_MS) this.restartDelayMs = FIRST_RESTART_DELAY_MS;
      this.opts.log.warn('link monitor (ip monitor) ended; restarting it, periodic rescans cover the gap', {
        command: `${IP_COMMAND} ${MONITOR_ARGS.join(' ')}`,
        code,
        signal,
        error,
        stderr: stderr.trim() || undefined,
        restartInMs: this.restartDelayMs,
      });
      this.restartTimer = setTimeout(() => {
        this.restarts += 1;
        this.start();
        this.opts.onEvent(); // catch up on whatever happened while no one was listening
      }, this.restartDelayMs);
      this.restartTimer.unref();
      this.restartDelayMs = Math.min(this.restartDelayMs * 2, MAX_RESTART_DELAY_MS);
    };
    child.on('exit', (code, signal) => onEnd(code, signal));
    child.on('error', (err) => onEnd(null, null, err));
  }

  stop(): void {
    this.stopped = true;
    clearTimeout(this.restartTimer);
    this.child?.kill('SIGTERM');
    this.child = undefined;
  }
}
