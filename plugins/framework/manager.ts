/**
 * PluginManager: serves every resource on its own socket, registers each with the kubelet, and keeps
 * them registered. The kubelet signals its restart by deleting every socket in the device-plugin dir
 * and creating a new kubelet.sock; an inotify watch on the dir (backed by a slow poll) notices either
 * change and runs `reconcile`, which compares file identities and re-serves / re-registers as needed.
 * Serving work for one resource is serialised on its own queue, so a reconcile never races another;
 * Register calls run beside it and only count when they are still for the current kubelet and socket.
 */
import * as fs from 'fs';
import * as path from 'path';
import * as grpc from '@grpc/grpc-js';
import type { Logger } from './log';
import { FrameworkMetrics } from './metrics';
import { assertResourceName, assertSocketPath, socketNameFor } from './names';
import {
  API_VERSION,
  CHANNEL_OPTIONS,
  KUBELET_SOCKET_NAME,
  services,
  unary,
  unixTarget,
  waitForReady,
  type WireRegisterRequest,
} from './proto';
import { ResourceServer } from './resource-server';
import type { ResourcePlugin } from './types';

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
}

interface Entry {
  server: ResourceServer;
  log: Logger;
  /** Identity (inode + ctime) of the socket file we bound; a different or missing file means re-serve. */
  boundIdentity?: string;
  /**
   * What we are registered for: the identities of kubelet.sock and of our socket. A new kubelet, or a
   * socket served again, means register again.
   */
  registeredFor?: string;
  /** The same key for a Register call in flight (registrations run outside the queue). */
  inflight?: string;
  /** Set while kubelet.sock is missing, so that is said once in the log, not on every event. */
  waitingForKubelet?: boolean;
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
    this.start();

    const log = this.opts.log.with({ resource });
    const server = new ResourceServer(plugin, socketPath, log, this.metrics);
    const entry: Entry = {
      server,
      log,
      registeredOnce: false,
      attempts: 0,
      queue: Promise.resolve(),
      removed: false,
    };
    this.entries.set(resource, entry);
    try {
      await plugin.start(server.publish);
      await this.enqueue(entry, () => this.reconcileEntry(entry));
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
        registered: e.registeredFor !== undefined,
        streaming: e.server.streaming(),
        devices: devices.length,
        healthy: devices.filter((d) => d.health === 'Healthy').length,
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

  private enqueue(entry: Entry, task: () => Promise<void>): Promise<void> {
    const run = entry.queue.then(task, task);
    entry.queue = run.catch((err) =>
      entry.log.error('unexpected error while managing resource', { error: err }),
    );
    return run;
  }

  private async reconcileEntry(entry: Entry): Promise<void> {
    if (entry.removed || this.stopped) return;
    if (fileIdentity(entry.server.socketPath) !== entry.boundIdentity || entry.boundIdentity === undefined) {
      if (entry.boundIdentity) entry.log.info('our socket was removed (kubelet restart?); serving again');
      await entry.server.serve();
      entry.boundIdentity = fileIdentity(entry.server.socketPath);
    }
    const kubelet = fileIdentity(this.kubeletSocket);
    if (kubelet === undefined) {
      if (!entry.waitingForKubelet) {
        entry.log.info('waiting for the kubelet: its registration socket does not exist (yet)', {
          kubeletSocket: this.kubeletSocket,
        });
      }
      entry.waitingForKubelet = true;
      entry.registeredFor = undefined;
      return; // the watch (or poll) brings us back when kubelet.sock appears
    }
    entry.waitingForKubelet = false;
    const target = `${kubelet}|${entry.boundIdentity}`;
    if (target === entry.registeredFor || target === entry.inflight) return;
    entry.registeredFor = undefined;
    // Not awaited: the kubelet answers Register only after dialling our socket, and a kubelet that is
    // still clearing the directory may delete the socket we just made. The queue must stay free to
    // serve again at once, or both sides would wait out the dial timeout.
    void this.register(entry, target);
  }

  private async register(entry: Entry, target: string): Promise<void> {
    clearTimeout(entry.retryTimer);
    entry.inflight = target;
    const request: WireRegisterRequest = {
      version: API_VERSION,
      endpoint: path.basename(entry.server.socketPath),
      resource_name: entry.server.resourceName,
      options: entry.server.options(),
    };
    const Registration = services().registration;
    const client = new Registration(
      unixTarget(this.kubeletSocket),
      grpc.credentials.createInsecure(),
      CHANNEL_OPTIONS,
    );
    const current = () => entry.inflight === target && !entry.removed && !this.stopped;
    try {
      await waitForReady(client, this.opts.registerTimeoutMs);
      await unary(client, 'Register', request, this.opts.registerTimeoutMs);
    } catch (err) {
      if (!current()) return; // superseded: a newer attempt is under way
      entry.inflight = undefined;
      entry.attempts += 1;
      const delay = Math.min(this.opts.initialBackoffMs * 2 ** (entry.attempts - 1), this.opts.maxBackoffMs);
      this.metrics.registrationFailures.inc({ resource: entry.server.resourceName });
      entry.log.warn('registration with the kubelet failed; will retry', {
        error: (err as grpc.ServiceError).details || (err as Error).message,
        attempt: entry.attempts,
        retryInMs: delay,
      });
      entry.retryTimer = setTimeout(() => void this.enqueue(entry, () => this.reconcileEntry(entry)), delay);
      entry.retryTimer.unref();
      return;
    } finally {
      client.close();
    }
    if (!current()) return; // our socket was served again meanwhile: the newer attempt registers that one
    entry.inflight = undefined;
    entry.registeredFor = target;
    entry.attempts = 0;
    this.metrics.registrations.inc({ resource: entry.server.resourceName });
    if (entry.registeredOnce) this.metrics.reregistrations.inc({ resource: entry.server.resourceName });
    entry.log.info(entry.registeredOnce ? 're-registered with the kubelet' : 'registered with the kubelet', {
      endpoint: request.endpoint,
    });
    entry.registeredOnce = true;
  }
}

/** inode + change time: tells a re-created file from the old one even when the inode number is reused. */
function fileIdentity(file: string): string | undefined {
  try {
    const st = fs.statSync(file, { bigint: true });
    return `${st.ino}:${st.ctimeNs}`;
  } catch {
    return undefined;
  }
}
