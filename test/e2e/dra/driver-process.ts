/**
 * A family in DRA mode as the chart runs it: `node dist/plugins/cli/main.js <family> --mode dra …`, a real
 * process with its own kubeconfig, kubelet root dir and CDI dir, its logs kept in a file.
 */
import { spawn, type ChildProcess } from 'child_process';
import * as fs from 'fs';
import * as http from 'http';
import * as path from 'path';
import { REPO_ROOT } from '../plugin-process';

const CLI = path.join(REPO_ROOT, 'dist', 'plugins', 'cli', 'main.js');

export interface DriverSettings {
  family: string;
  driverName: string;
  nodeName: string;
  kubeconfig: string;
  kubeletRootDir: string;
  cdiDir: string;
  /** host:port of /healthz, /readyz, /metrics. */
  httpAddr: string;
  /** The family's own flags (fixture roots, config). */
  args: string[];
}

export class DriverProcess {
  readonly startedAt = Date.now();
  private readonly child: ChildProcess;
  private readonly exited: Promise<number | null>;
  private exitCode: number | null | undefined;

  constructor(
    readonly settings: DriverSettings,
    logFile: string,
  ) {
    const log = fs.createWriteStream(logFile, { flags: 'a' });
    const s = settings;
    const common = [`--cdi-dir=${s.cdiDir}`, `--http-addr=${s.httpAddr}`, '--log-level=debug', ...s.args];
    const args = [
      s.family,
      '--mode=dra',
      `--dra-driver-name=${s.driverName}`,
      `--node-name=${s.nodeName}`,
      `--kubeconfig=${s.kubeconfig}`,
      `--kubelet-root-dir=${s.kubeletRootDir}`,
      ...common,
    ];
    log.write(`--- ${new Date().toISOString()} node ${CLI} ${args.join(' ')}\n`);
    this.child = spawn(process.execPath, [CLI, ...args], {
      cwd: REPO_ROOT,
      env: { PATH: process.env.PATH },
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

  /** GET /readyz: its status code (0 when nothing answers). */
  readyz(): Promise<number> {
    return new Promise((resolve) => {
      const request = http.get(`http://${this.settings.httpAddr}/readyz`, { timeout: 2000 }, (response) => {
        response.resume();
        resolve(response.statusCode ?? 0);
      });
      request.on('error', () => resolve(0));
      request.on('timeout', () => (request.destroy(), resolve(0)));
    });
  }

  /** Waits until /readyz answers 200 (registered with the kubelet, slice in sync). */
  async waitReady(timeoutMs = 60_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    let last = 0;
    while (Date.now() < deadline) {
      if (!this.running) throw new Error(`the ${this.settings.family} driver exited (${this.exitCode})`);
      last = await this.readyz();
      if (last === 200) return;
      await new Promise((r) => setTimeout(r, 200));
    }
    throw new Error(
      `the ${this.settings.family} driver's /readyz is ${last || 'not answering'} after ${timeoutMs / 1000} s`,
    );
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
