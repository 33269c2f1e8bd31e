/** A plugin as the DaemonSet runs it: `node bin/kube-device-plugins.js <plugin> …`, its logs kept in a file. */
import { spawn, type ChildProcess } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';

export const REPO_ROOT = path.resolve(__dirname, '..', '..', '..');
const CLI = path.join(REPO_ROOT, 'bin', 'kube-device-plugins.js');

export class PluginProcess {
  /** Date.now() just before the process was spawned. */
  readonly startedAt: number;
  private readonly child: ChildProcess;
  private readonly exited: Promise<number | null>;
  protected exitCode: number | null | undefined;

  /** `entry`: the CLI file node runs (default the bin, as the image does). */
  constructor(plugin: string, args: string[], env: NodeJS.ProcessEnv, logFile: string, entry = CLI) {
    const log = fs.createWriteStream(logFile, { flags: 'a' });
    log.write(`--- ${new Date().toISOString()} node ${entry} ${plugin} ${args.join(' ')}\n`);
    this.startedAt = Date.now();
    this.child = spawn(process.execPath, [entry, plugin, '--log-level=debug', ...args], {
      cwd: REPO_ROOT,
      env: { PATH: process.env.PATH, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    this.child.stdout!.pipe(log, { end: false });
    this.child.stderr!.pipe(log, { end: false });
    this.exited = new Promise((resolve) =>
      this.child.on('exit', (code, signal) => {
        this.exitCode = code;
        log.write(`--- exited ${code ?? signal}\n`);
        resolve(code);
      }),
    );
  }

  get pid(): number | undefined {
    return this.child.pid;
  }

  get running(): boolean {
    return this.exitCode === undefined;
  }

  /** Stop it with `signal` and wait for the exit (SIGKILL after 10 s); the exit code, null if killed. */
  async stop(signal: NodeJS.Signals = 'SIGTERM'): Promise<number | null> {
    if (!this.running) return this.exitCode ?? null;
    this.child.kill(signal);
    const timer = setTimeout(() => this.child.kill('SIGKILL'), 10_000);
    const code = await this.exited;
    clearTimeout(timer);
    return code;
  }
}
