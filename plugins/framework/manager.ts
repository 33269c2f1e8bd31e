/**
 * PluginManager: serves every resource on its own socket, registers each with the kubelet, and keeps
 * them registered. The kubelet signals its restart by deleting every socket in the device-plugin dir
 * and creating a new kubelet.sock; an inotify watch on the dir (backed by a slow poll) notices either
 * change and runs `reconcile`, which compares file identities and re-serves / re-registers as needed.
 * Serving work for one resource is serialised on its own queue, so a reconcile never races another;
 * Register calls run beside it (see `register` for why).
 *
 * The rule the kubelet needs is: exactly one Register per kubelet generation. Kubelet 1.37 keeps one
 * client per plugin socket and refuses a second Register for it ("device plugin already connected");
 * worse, the refused call's clean-up drops its record of the live client, so it never notices that
 * plugin go away. So a Register is sent only when
 *   - a kubelet generation (the identity of kubelet.sock) has none from us yet, or
 *   - the kubelet has dropped us: registered, yet no ListAndWatch stream for a grace period (our
 *     socket served again, a broken connection). The grace lets the kubelet finish its own clean-up
 *     of the old client first, which must happen before it can accept us again;
 * and an attempt for a generation that is gone is cancelled before it can send.
 */
import * as fs from 'fs';
import * as path from 'path';
import { GrpcConnection } from './grpc-client';
import type { Logger } from './log';
import { FrameworkMetrics } from './metrics';
import { assertResourceName, assertSocketPath, socketNameFor } from './names';
import { API_VERSION, KUBELET_SOCKET_NAME, registrationService, type WireRegisterRequest } from './proto';
import { assertNotServedElsewhere, ResourceServer } from './resource-server';
import type { ResourceCondition, ResourcePlugin } from './types';

export interface ManagerOptions {
  devicePluginDir: string;
  log: Logger;
  metrics?: FrameworkMetrics;
  /** First retry delay after a failed registration; doubles up to `maxBackoffMs`. */
  initialBackoffMs?: number;
  maxBackoffMs?: number;
  /** Safety-net poll of the socket files, in case an inotify event is lost. */
  pollIntervalMs?: number;
  /** Deadline for one Register call (connect + answer). */
  registerTimeoutMs?: number;
  /**
   * How long a registration may be without a ListAndWatch stream before we take it that the kubelet
   * dropped us and register again: after the stream ended, and (longer) after Register returned.
   */
  restreamGraceMs?: number;
  firstStreamGraceMs?: number;
}

/** One Register attempt, for one kubelet generation; cancelled when that generation is gone. */
interface Attempt {
  kubelet: string;
  cancelled: boolean;
  cancel(): void;
}

interface Entry {
  server: ResourceServer;
  log: Logger;
  /** Identity (inode + ctime) of the socket file we bound; a different or missing file means re-serve. */
  boundIdentity?: string;
  /** The kubelet generation (identity of kubelet.sock) that accepted our Register. */
  registeredWith?: string;
  /** Counts registrations, so a stream watchdog armed for an earlier one knows it is out of date. */
  registration: number;
  /** The Register call in flight, if any (registrations run outside the queue). */
  attempt?: Attempt;
  streamWatchdog?: NodeJS.Timeout;
  /** What is wrong with kubelet.sock (missing, not a socket), so it is said once, not on every event. */
  kubeletProblem?: string;
  registeredOnce: boolean;
  attempts: number;
  retryTimer?: NodeJS.Timeout;
  queue: Promise<void>;
  removed: boolean;
}

export interface ResourceStatus {
  resource: string;
  socket: string;
  registered: boolean;
  streaming: boolean;
  devices: number;
  healthy: number;
  /** What the plugin reports as wrong (`ResourcePlugin.conditions`); empty when all is well. */
  conditions: ResourceCondition[];
}

export class PluginManager {
  readonly metrics: FrameworkMetrics;
  private readonly entries = new Map<string, Entry>();
  private watcher?: fs.FSWatcher;
  private pollTimer?: NodeJS.Timeout;
  private reconcileScheduled = false;
  private stopped = false;
  private readonly opts: Required<Omit<ManagerOptions, 'metrics'>>;

  constructor(options: ManagerOptions) {
    this.metrics = options.metrics ?? new FrameworkMetrics();
    this.opts = {
      initialBackoffMs: 100,
      maxBackoffMs: 5000,
      pollIntervalMs: 5000,
      registerTimeoutMs: 5000,
      restreamGraceMs: 1000,
      firstStreamGraceMs: 5000,
      ...options,
    };
  }

  get devicePluginDir(): string {
    return this.opts.devicePluginDir;
  }

  get kubeletSocket(): string {
    return path.join(this.opts.devicePluginDir, KUBELET_SOCKET_NAME);
  }

  /** Start watching the device-plugin dir. Called by the first addResource as well. */
  start(): void {
    if (this.watcher || this.stopped) return;
    fs.mkdirSync(this.opts.devicePluginDir, { recursive: true });
    this.watch();
    this.pollTimer = setInterval(() => this.scheduleReconcile(), this.opts.pollIntervalMs);
    this.pollTimer.unref();
  }

  /** Start the plugin, serve it, and register it (retrying in the background until the kubelet accepts). */
  async addResource(plugin: ResourcePlugin): Promise<ResourceServer> {
    const resource = plugin.resourceName;
    assertResourceName(resource);
    if (this.entries.has(resource)) throw new Error(`resource ${resource} is already served`);
    const socketPath = path.join(this.opts.devicePluginDir, socketNameFor(resource));
    assertSocketPath(socketPath);
    // Another instance on this dir: refuse before the plugin starts, so nothing of its is touched
    // (not even a CDI spec both would write).
    await assertNotServedElsewhere(socketPath);
    this.start();

    const log = this.opts.log.with({ resource });
    const server = new ResourceServer(plugin, socketPath, log, this.metrics);
    const entry: Entry = {
      server,
      log,
      registeredOnce: false,
      registration: 0,
      attempts: 0,
      queue: Promise.resolve(),
      removed: false,
    };
    this.entries.set(resource, entry);
    server.onStreamEnded = () => this.armStreamWatchdog(entry, this.opts.restreamGraceMs);
    try {
      await plugin.start(server.publish);
      await this.enqueue(entry, () => this.reconcileEntry(entry), true);
    } catch (err) {
      this.entries.delete(resource);
      await server.close();
      // Only a socket we bound is ours to remove: one another instance serves must stay (issue 12, bug 3).
      if (entry.boundIdentity) fs.rmSync(socketPath, { force: true });
      await Promise.resolve(plugin.stop()).catch(() => undefined);
      throw err;
    }
    return server;
  }

  /** Withdraw a resource: its socket goes away, so the kubelet marks its devices unavailable. */
  async removeResource(resource: string): Promise<void> {
    const entry = this.entries.get(resource);
    if (!entry) return;
    entry.removed = true;
    clearTimeout(entry.retryTimer);
    clearTimeout(entry.streamWatchdog);
    entry.attempt?.cancel();
    this.entries.delete(resource);
    await this.enqueue(entry, async () => {
      await entry.server.close();
      fs.rmSync(entry.server.socketPath, { force: true });
      await entry.server.plugin.stop();
    });
    this.metrics.forget(resource);
    entry.log.info('resource withdrawn');
  }

  resources(): string[] {
    return [...this.entries.keys()];
  }

  /** The server of a resource (tests reach the plugin through it). */
  server(resource: string): ResourceServer | undefined {
    return this.entries.get(resource)?.server;
  }

  status(): ResourceStatus[] {
    return [...this.entries.values()].map((e) => {
      const devices = e.server.currentDevices();
      return {
        resource: e.server.resourceName,
        socket: e.server.socketPath,
        registered: e.registeredWith !== undefined,
        streaming: e.server.streaming(),
        devices: devices.length,
        healthy: devices.filter((d) => d.health === 'Healthy').length,
        conditions: conditionsOf(e),
      };
    });
  }

  /**
   * Ready when every resource is registered and the kubelet is streaming its devices. With no resource
   * at all (e.g. a CEX config with no sets) there is nothing to wait for: ready.
   */
  ready(): boolean {
    return this.status().every((s) => s.registered && s.streaming);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.watcher?.close();
    clearInterval(this.pollTimer);
    await Promise.all(this.resources().map((r) => this.removeResource(r)));
  }

  private watch(): void {
    try {
      this.watcher = fs.watch(this.opts.devicePluginDir, (_event, file) => {
        const name = file?.toString();
        if (!name || name === KUBELET_SOCKET_NAME || this.isOurSocket(name)) this.scheduleReconcile();
      });
      this.watcher.on('error', (err) => {
        this.opts.log.warn('watch on device-plugin dir failed; relying on polling until it is back', {
          dir: this.opts.devicePluginDir,
          error: err,
        });
        this.watcher?.close();
        this.watcher = undefined;
        setTimeout(() => !this.stopped && this.start(), this.opts.pollIntervalMs).unref();
      });
    } catch (err) {
      this.opts.log.warn('cannot watch device-plugin dir; polling only', {
        dir: this.opts.devicePluginDir,
        error: err as Error,
      });
    }
  }

  private isOurSocket(name: string): boolean {
    for (const entry of this.entries.values())
      if (path.basename(entry.server.socketPath) === name) return true;
    return false;
  }

  /** Coalesce a burst of events (the kubelet deletes many files at once) into one pass. */
  private scheduleReconcile(): void {
    if (this.reconcileScheduled || this.stopped) return;
    this.reconcileScheduled = true;
    setImmediate(() => {
      this.reconcileScheduled = false;
      for (const entry of this.entries.values()) void this.enqueue(entry, () => this.reconcileEntry(entry));
    });
  }

  /**
   * Run `task` after the entry's earlier ones. Its failure is logged here unless the caller awaits
   * the result and reports it itself (`callerReports`, as addResource's caller does at start-up).
   */
  private enqueue(entry: Entry, task: () => Promise<void>, callerReports = false): Promise<void> {
    const run = entry.queue.then(task, task);
    entry.queue = run.catch((err) => {
      if (!callerReports) entry.log.error('unexpected error while managing resource', { error: err });
    });
    return run;
  }

  private async reconcileEntry(entry: Entry): Promise<void> {
    if (entry.removed || this.stopped) return;
    if (fileIdentity(entry.server.socketPath) !== entry.boundIdentity || entry.boundIdentity === undefined) {
      if (entry.boundIdentity) entry.log.info('our socket was removed (kubelet restart?); serving again');
      await entry.server.serve();
      entry.boundIdentity = fileIdentity(entry.server.socketPath);
      // Serving again ended the kubelet's stream (if it had one): unless a new kubelet takes us
      // first, the watchdog registers again once the kubelet has let go of the old connection.
      if (entry.registeredWith) this.armStreamWatchdog(entry, this.opts.restreamGraceMs);
    }
    const kubelet = this.kubeletIdentity(entry);
    if (kubelet === undefined) {
      entry.registeredWith = undefined;
      entry.attempt?.cancel();
      return; // the watch (or poll) brings us back when kubelet.sock appears
    }
    const inFlight = entry.attempt && !entry.attempt.cancelled ? entry.attempt.kubelet : undefined;
    if (kubelet === entry.registeredWith || kubelet === inFlight) return;
    entry.registeredWith = undefined;
    // Not awaited: the kubelet answers Register only after dialling our socket, and a kubelet that is
    // still clearing the directory may delete the socket we just made. The queue must stay free to
    // serve again at once, or both sides would wait out the dial timeout.
    void this.register(entry, kubelet);
  }

  /** The identity of kubelet.sock when it is a socket we can register with; says once what is wrong. */
  private kubeletIdentity(entry: Entry): string | undefined {
    let problem: string | undefined;
    let identity: string | undefined;
    try {
      const st = fs.statSync(this.kubeletSocket, { bigint: true });
      if (st.isSocket()) identity = `${st.ino}:${st.ctimeNs}`;
      else problem = 'is not a socket (a file left in its place?); waiting for the kubelet to create it';
    } catch {
      problem = 'does not exist (yet); waiting for the kubelet';
    }
    if (problem && problem !== entry.kubeletProblem) {
      const log = problem.startsWith('is not') ? entry.log.warn : entry.log.info;
      log.call(entry.log, `kubelet registration socket ${problem}`, { kubeletSocket: this.kubeletSocket });
    }
    entry.kubeletProblem = problem;
    return identity;
  }

  /**
   * Registered but no ListAndWatch stream after `graceMs`: the kubelet has dropped its client (or
   * never opened the stream). Register once more, if that registration is still the current one.
   */
  private armStreamWatchdog(entry: Entry, graceMs: number): void {
    clearTimeout(entry.streamWatchdog);
    const registration = entry.registration;
    entry.streamWatchdog = setTimeout(() => {
      if (entry.removed || this.stopped || entry.server.streaming()) return;
      if (entry.registration !== registration || entry.registeredWith === undefined) return;
      entry.log.warn('registered, but the kubelet has no ListAndWatch stream open; registering again', {
        waitedMs: graceMs,
      });
      entry.registeredWith = undefined;
      void this.enqueue(entry, () => this.reconcileEntry(entry));
    }, graceMs);
    entry.streamWatchdog.unref();
  }

  /**
   * One Register call for one kubelet generation. kubelet.sock may be a dead file a killed kubelet
   * left behind; the connect keeps retrying the path, and would reach the next kubelet through it. So
   * after connecting we check that kubelet.sock is still the file we meant (same identity before and
   * after the connect means the connect reached it) and only then send, in the same tick: an attempt
   * superseded by a newer generation never sends.
   */
  private async register(entry: Entry, kubelet: string): Promise<void> {
    clearTimeout(entry.retryTimer);
    entry.attempt?.cancel();
    const abort = new AbortController();
    let connection: GrpcConnection | undefined;
    let onCancel: () => void = () => undefined;
    const cancelled = new Promise<never>((_resolve, reject) => {
      onCancel = () => reject(new Error('superseded'));
    });
    cancelled.catch(() => undefined);
    const attempt: Attempt = {
      kubelet,
      cancelled: false,
      cancel() {
        if (attempt.cancelled) return;
        attempt.cancelled = true;
        abort.abort();
        connection?.close();
        onCancel();
      },
    };
    entry.attempt = attempt;
    const request: WireRegisterRequest = {
      version: API_VERSION,
      endpoint: path.basename(entry.server.socketPath),
      resource_name: entry.server.resourceName,
      options: entry.server.options(),
    };
    const live = () => !attempt.cancelled && !entry.removed && !this.stopped;
    try {
      const timeoutMs = this.opts.registerTimeoutMs;
      connection = await Promise.race([
        GrpcConnection.connect(this.kubeletSocket, timeoutMs, abort.signal),
        cancelled,
      ]);
      if (!live()) return;
      if (fileIdentity(this.kubeletSocket) !== kubelet) {
        // We reached a newer kubelet through the old path: that generation gets its own attempt.
        entry.log.debug('kubelet.sock changed while connecting; not registering with the old one');
        this.endAttempt(entry, attempt);
        void this.enqueue(entry, () => this.reconcileEntry(entry));
        return;
      }
      await Promise.race([connection.unary(registrationService.Register, request, timeoutMs), cancelled]);
    } catch (err) {
      if (!live()) return; // superseded: a newer attempt is under way, or we are stopping
      this.endAttempt(entry, attempt);
      this.retryLater(entry, err as Error);
      return;
    } finally {
      connection?.close();
    }
    if (!live()) return;
    this.endAttempt(entry, attempt);
    entry.registeredWith = kubelet;
    entry.registration += 1;
    entry.attempts = 0;
    this.armStreamWatchdog(entry, this.opts.firstStreamGraceMs);
    this.metrics.registrations.inc({ resource: entry.server.resourceName });
    if (entry.registeredOnce) this.metrics.reregistrations.inc({ resource: entry.server.resourceName });
    entry.log.info(entry.registeredOnce ? 're-registered with the kubelet' : 'registered with the kubelet', {
      endpoint: request.endpoint,
    });
    entry.registeredOnce = true;
  }

  private endAttempt(entry: Entry, attempt: Attempt): void {
    if (entry.attempt === attempt) entry.attempt = undefined;
  }

  private retryLater(entry: Entry, err: Error): void {
    entry.attempts += 1;
    const delay = Math.min(this.opts.initialBackoffMs * 2 ** (entry.attempts - 1), this.opts.maxBackoffMs);
    this.metrics.registrationFailures.inc({ resource: entry.server.resourceName });
    entry.log.warn('registration with the kubelet failed; will retry', {
      error: err.message,
      attempt: entry.attempts,
      retryInMs: delay,
    });
    entry.retryTimer = setTimeout(() => void this.enqueue(entry, () => this.reconcileEntry(entry)), delay);
    entry.retryTimer.unref();
  }
}

/** A plugin's conditions; one that throws is reported as a condition rather than breaking /readyz. */
function conditionsOf(entry: Entry): ResourceCondition[] {
  const plugin = entry.server.plugin;
  if (!plugin.conditions) return [];
  try {
    return plugin.conditions();
  } catch (err) {
    return [
      {
        type: 'ConditionsUnavailable',
        message: `the plugin could not report its conditions: ${(err as Error).message}`,
        since: new Date().toISOString(),
      },
    ];
  }
}

/** inode + change time: tells a re-created file from the old one even when the inode number is reused. */
export function fileIdentity(file: string): string | undefined {
  try {
    const st = fs.statSync(file, { bigint: true });
    return `${st.ino}:${st.ctimeNs}`;
  } catch {
    return undefined;
  }
}
