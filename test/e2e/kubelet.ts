/**
 * A client for one harness process (test/e2e/kubelet/): one kubelet node with the real device manager,
 * topology manager and PodResources server. Requests and responses are JSON lines; every kubelet log
 * record arrives as an event and is kept in `logs`, so checks can be written against what the kubelet
 * itself said ("Got registration request…", "Making allocation request…").
 */
import { spawn, type ChildProcess } from 'child_process';
import * as fs from 'fs';
import * as readline from 'readline';

export interface KubeletLog {
  /** Wall-clock ms (the same clock as Date.now()). */
  t: number;
  level: 'info' | 'error';
  v: number;
  msg: string;
  err?: string;
  kv?: Record<string, string>;
}

export interface RunOptions {
  devices: { containerPath: string; hostPath: string; permissions: string }[];
  mounts: { containerPath: string; hostPath: string; readOnly: boolean }[];
  envs: Record<string, string>;
  annotations: Record<string, string>;
  cdiDevices: string[];
}

export interface AdmittedContainer {
  name: string;
  /** Device IDs per resource, sorted. */
  devices: Record<string, string[]>;
  numaAffinity?: number[];
  preferred: boolean;
  options?: RunOptions;
}

export type Admission =
  | { admitted: true; uid: string; containers: AdmittedContainer[] }
  | { admitted: false; reason: string; message: string };

export interface PodSpec {
  name: string;
  namespace?: string;
  containers: { name: string; resources: Record<string, number> }[];
}

export interface NodeState {
  started: boolean;
  generation: number;
  capacity?: Record<string, number>;
  allocatable?: Record<string, number>;
  healthyDevices?: Record<string, Record<string, { health: string; numa?: number[] }>>;
  /** pod → container → resource → device IDs */
  pods?: Record<string, Record<string, Record<string, string[]>>>;
}

export interface StartOptions {
  dir: string;
  podResourcesSocket: string;
  policy?: 'none' | 'single-numa-node';
  numaNodes?: number;
}

/** What the kubelet logs when a plugin calls Register (pkg/kubelet/cm/devicemanager/plugin/v1beta1). */
export const REGISTER_MSG = 'Got registration request from device plugin with resource';
/** Logged after each ListAndWatch update was applied (manager.go genericDeviceUpdateCallback). */
export const DEVICES_MSG = 'Processed device updates for resource';
/** Logged once per container and resource before the Allocate call (manager.go). */
export const ALLOCATE_MSG = 'Making allocation request for device plugin';
export const PREFERRED_MSG = 'Issuing a GetPreferredAllocation call for container';

interface Waiter {
  match: (log: KubeletLog) => boolean;
  resolve: (log: KubeletLog) => void;
}

export class Kubelet {
  readonly logs: KubeletLog[] = [];
  private nextId = 1;
  private readonly pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();
  private waiters: Waiter[] = [];
  private exited = false;
  private readonly exit: Promise<void>;
  kubernetes = '';

  private constructor(
    private readonly child: ChildProcess,
    private readonly logFile: string,
  ) {
    this.exit = new Promise((resolve) =>
      child.on('exit', (code, signal) => {
        this.exited = true;
        const why = new Error(`the kubelet harness exited (code ${code}, signal ${signal}); see ${logFile}`);
        for (const p of this.pending.values()) p.reject(why);
        this.pending.clear();
        resolve();
      }),
    );
  }

  /** Start the harness binary; resolves once it says it is ready. */
  static async spawn(binary: string, logFile: string): Promise<Kubelet> {
    const child = spawn(binary, [], { stdio: ['pipe', 'pipe', 'pipe'] });
    const kubelet = new Kubelet(child, logFile);
    const log = fs.createWriteStream(logFile);
    child.stderr!.pipe(log);
    const ready = new Promise<void>((resolve, reject) => {
      child.once('error', reject);
      child.once('exit', () => reject(new Error(`the kubelet harness exited at start; see ${logFile}`)));
      readline.createInterface({ input: child.stdout! }).on('line', (line) => {
        log.write(line + '\n');
        const msg = JSON.parse(line) as Record<string, unknown>;
        if (msg.event === 'ready') {
          kubelet.kubernetes = String(msg.kubernetes);
          resolve();
        } else if (msg.event === 'log') kubelet.onLog(msg as unknown as KubeletLog);
        else kubelet.onResponse(msg as { id: number; ok?: boolean; result?: unknown; error?: string });
      });
    });
    await ready;
    return kubelet;
  }

  private onLog(log: KubeletLog): void {
    this.logs.push(log);
    const still: Waiter[] = [];
    for (const w of this.waiters) {
      if (w.match(log)) w.resolve(log);
      else still.push(w);
    }
    this.waiters = still;
  }

  private onResponse(msg: { id: number; ok?: boolean; result?: unknown; error?: string }): void {
    const p = this.pending.get(msg.id);
    if (!p) return;
    this.pending.delete(msg.id);
    if (msg.ok) p.resolve(msg.result);
    else p.reject(new Error(msg.error ?? 'harness error'));
  }

  private request<T>(cmd: string, args?: unknown): Promise<T> {
    if (this.exited) return Promise.reject(new Error(`the kubelet harness has exited; see ${this.logFile}`));
    const id = this.nextId++;
    return new Promise<T>((resolve, reject) => {
      this.pending.set(id, { resolve: resolve as (v: unknown) => void, reject });
      this.child.stdin!.write(JSON.stringify({ id, cmd, args }) + '\n');
    });
  }

  start(options: StartOptions): Promise<{ generation: number; startedAt: number }> {
    return this.request('start', options);
  }

  /** Stop the kubelet; `deadSockets` leaves kubelet.sock (and the PodResources socket) behind, unanswered. */
  stop(deadSockets = true): Promise<{ stopped: boolean; stoppedAt?: number }> {
    return this.request('stop', { deadSockets });
  }

  admit(pod: PodSpec): Promise<Admission> {
    return this.request('admit', { pod });
  }

  remove(name: string): Promise<unknown> {
    return this.request('remove', { name });
  }

  state(): Promise<NodeState> {
    return this.request('state');
  }

  /** Log records matching `match` from time `since` on (inclusive). */
  find(match: (log: KubeletLog) => boolean, since = 0): KubeletLog[] {
    return this.logs.filter((l) => l.t >= since && match(l));
  }

  /** The first record from `since` on matching `match`, waiting up to `timeoutMs` for it. */
  waitForLog(
    match: (log: KubeletLog) => boolean,
    since: number,
    timeoutMs: number,
    what: string,
  ): Promise<KubeletLog> {
    const seen = this.logs.find((l) => l.t >= since && match(l));
    if (seen) return Promise.resolve(seen);
    return new Promise((resolve, reject) => {
      const waiter: Waiter = {
        match: (l) => l.t >= since && match(l),
        resolve: (l) => {
          clearTimeout(timer);
          resolve(l);
        },
      };
      const timer = setTimeout(() => {
        this.waiters = this.waiters.filter((w) => w !== waiter);
        reject(new Error(`timed out after ${timeoutMs} ms waiting for the kubelet to log ${what}`));
      }, timeoutMs);
      this.waiters.push(waiter);
    });
  }

  /** Register calls the kubelet received for `resource` in [from, to). */
  registrations(resource: string, from: number, to = Infinity): KubeletLog[] {
    return this.logs.filter(
      (l) => l.msg === REGISTER_MSG && l.kv?.resourceName === resource && l.t >= from && l.t < to,
    );
  }

  /** Error records naming `resource` (refused registrations, failed connects) since `from`. */
  errorsFor(resource: string, from: number): KubeletLog[] {
    return this.logs.filter(
      (l) =>
        l.level === 'error' && l.t >= from && Object.values(l.kv ?? {}).some((v) => v.includes(resource)),
    );
  }

  /** Close stdin (the harness stops its kubelet and exits) and wait for it; kill it after 5 s. */
  async close(): Promise<void> {
    if (this.exited) return;
    this.child.stdin!.end();
    const timer = setTimeout(() => this.child.kill('SIGKILL'), 5000);
    await this.exit;
    clearTimeout(timer);
  }
}
