/**
 * A DRA driver's two kubelet sockets, as the kubelet's plugin watcher expects them
 * (k8s.io/dynamic-resource-allocation/kubeletplugin does the same in Go):
 *
 *   <kubeletRootDir>/plugins_registry/<driver>-reg.sock  the `Registration` service: GetInfo names the
 *       driver, its DRA socket and the DRA service versions it serves; the kubelet then reports the
 *       outcome through NotifyRegistrationStatus.
 *   <kubeletRootDir>/plugins/<driver>/dra.sock  the DRA node service (NodePrepareResources /
 *       NodeUnprepareResources), for both v1 and v1beta1 (kubelets 1.32–1.33 speak only v1beta1).
 *
 * The DRA socket is served first, so the kubelet never learns of an endpoint that does not answer yet.
 * Either socket is served again if its file is deleted (a kubelet restart, a cleaned-up dir); a new
 * registration socket means the kubelet registers us anew, so `registered` drops until it says so.
 */
import * as fs from 'fs';
import * as path from 'path';
import type { ResponseStream } from '../grpc-server';
import type { Logger } from '../log';
import { limited } from '../resource-server';
import { SerialTask } from '../serial-task';
import {
  DRA_HEALTH_SERVICE_V1,
  DRA_PLUGIN_TYPE,
  DRA_SERVICE_V1,
  DRA_SERVICE_V1BETA1,
  HealthStatus,
  draServices,
} from './api';
import { UnixEndpoint, type ServiceSet } from './endpoint';

export const DEFAULT_KUBELET_ROOT_DIR = '/var/lib/kubelet';

// Wire shapes of the DRA node service (proto field names; v1beta1 is v1 without share_id).
export interface WireClaim {
  namespace: string;
  uid: string;
  name: string;
}
export interface WireDraDevice {
  request_names: string[];
  pool_name: string;
  device_name: string;
  cdi_device_ids: string[];
  share_id?: string;
}
export interface WirePrepareResult {
  devices: WireDraDevice[];
  error: string;
}
export interface WireUnprepareResult {
  error: string;
}

/** What the DRA service does; errors per claim go in the results, a thrown error fails the whole call. */
export interface DraNodeHandler {
  prepare(claims: WireClaim[]): Promise<Record<string, WirePrepareResult>>;
  unprepare(claims: WireClaim[]): Promise<Record<string, WireUnprepareResult>>;
}

/** Device health for the kubelet's `DRAResourceHealth` stream (shown in pod status). */
export interface DraHealthSource {
  snapshot(): { pool: string; device: string; healthy: boolean; message?: string }[];
  /** Calls `listener` after every change; returns the unsubscribe function. */
  onChange(listener: () => void): () => void;
}

/**
 * The kubelet marks a device's health Unknown when it hears nothing for `health_check_timeout_seconds`
 * (30 s when 0), so the full list goes out on every change and again at this interval.
 */
export const HEALTH_TIMEOUT_SECONDS = 30;
export const HEALTH_RESEND_MS = 10_000;

export interface DraPaths {
  registrationSocket: string;
  /** The driver's own dir under the kubelet's `plugins` dir: its DRA socket and checkpoint live here. */
  pluginDir: string;
  draSocket: string;
  checkpoint: string;
}

/** A DRA driver name is a DNS subdomain of at most 63 characters (ResourceSlice.spec.driver). */
const DRIVER_NAME = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;

export function driverNameErrors(name: string): string[] {
  if (name.length === 0 || name.length > 63) return [`driver name "${name}" must be 1-63 characters`];
  if (!DRIVER_NAME.test(name))
    return [`driver name "${name}" is not a DNS subdomain (lower-case alphanumerics, '-' and '.')`];
  return [];
}

export function draPaths(kubeletRootDir: string, driverName: string): DraPaths {
  const pluginDir = path.join(kubeletRootDir, 'plugins', driverName);
  return {
    registrationSocket: path.join(kubeletRootDir, 'plugins_registry', `${driverName}-reg.sock`),
    pluginDir,
    draSocket: path.join(pluginDir, 'dra.sock'),
    checkpoint: path.join(pluginDir, 'checkpoint.json'),
  };
}

export interface DraKubeletPluginOptions {
  driverName: string;
  kubeletRootDir?: string;
  handler: DraNodeHandler;
  log: Logger;
  /** Safety-net poll of the socket files, in case an inotify event is lost or a dir was re-made. */
  pollIntervalMs?: number;
  /** Serve `v1.DRAResourceHealth` from this source (and advertise it); no health service without. */
  health?: DraHealthSource;
  healthResendMs?: number;
}

export interface DraRegistrationStatus {
  driver: string;
  registrationSocket: string;
  draSocket: string;
  /** Both sockets are bound and still ours. */
  serving: boolean;
  /** The kubelet's last NotifyRegistrationStatus said yes (and no socket was re-made since). */
  registered: boolean;
  /** Why the kubelet refused us, from its last NotifyRegistrationStatus. */
  registrationError?: string;
}

export class DraKubeletPlugin {
  readonly paths: DraPaths;
  private readonly registration: UnixEndpoint;
  private readonly dra: UnixEndpoint;
  private readonly reconciler: SerialTask;
  private readonly watchers = new Map<string, fs.FSWatcher>();
  private pollTimer?: NodeJS.Timeout;
  private registered = false;
  private registrationError?: string;
  private stopped = false;
  /** Open health streams, ended at stop so the server need not wait out its shutdown grace. */
  private readonly healthStreams = new Set<ResponseStream>();

  constructor(private readonly opts: DraKubeletPluginOptions) {
    const errors = driverNameErrors(opts.driverName);
    if (errors.length) throw new Error(errors.join('; '));
    this.paths = draPaths(opts.kubeletRootDir ?? DEFAULT_KUBELET_ROOT_DIR, opts.driverName);
    const log = opts.log.with({ driver: opts.driverName });
    this.dra = new UnixEndpoint(this.paths.draSocket, () => this.draImplementation(), log);
    this.registration = new UnixEndpoint(
      this.paths.registrationSocket,
      () => this.registrationImplementation(),
      log,
    );
    this.registration.onServed = () => {
      this.registered = false; // a new socket: the kubelet has to find and register us again
    };
    this.reconciler = new SerialTask(
      () => this.reconcile(),
      20,
      (err) => log.error('cannot serve the DRA sockets; retrying on the next poll', { error: err as Error }),
    );
  }

  /** Serve both sockets (errors such as an unwritable dir are thrown), then keep them served. */
  async start(): Promise<void> {
    await this.reconciler.runNow();
    this.pollTimer = setInterval(() => this.reconciler.request(), this.opts.pollIntervalMs ?? 5000);
    this.pollTimer.unref();
  }

  status(): DraRegistrationStatus {
    return {
      driver: this.opts.driverName,
      registrationSocket: this.paths.registrationSocket,
      draSocket: this.paths.draSocket,
      serving: this.dra.serving() && this.registration.serving(),
      registered: this.registered,
      registrationError: this.registrationError,
    };
  }

  /** Withdraw: the registration socket goes first, so the kubelet stops calling before the service ends. */
  async stop(): Promise<void> {
    this.stopped = true;
    clearInterval(this.pollTimer);
    await this.reconciler.stop();
    for (const watcher of this.watchers.values()) watcher.close();
    this.watchers.clear();
    for (const call of this.healthStreams) call.end();
    await this.registration.close(true);
    await this.dra.close(true);
  }

  private async reconcile(): Promise<void> {
    if (this.stopped) return;
    await this.dra.ensure();
    await this.registration.ensure();
    this.watchDirs();
  }

  /** Watch both socket dirs; a dir deleted and made again needs a new watch, which the poll sets up. */
  private watchDirs(): void {
    for (const dir of [path.dirname(this.paths.registrationSocket), this.paths.pluginDir]) {
      if (this.watchers.has(dir)) continue;
      try {
        const watcher = fs.watch(dir, () => this.reconciler.request());
        const forget = () => {
          watcher.close();
          if (this.watchers.get(dir) === watcher) this.watchers.delete(dir);
          this.reconciler.request();
        };
        watcher.on('error', forget);
        watcher.on('close', () => this.watchers.get(dir) === watcher && this.watchers.delete(dir));
        this.watchers.set(dir, watcher);
      } catch {
        // the dir is gone for a moment: the next poll serves again and watches the new dir
      }
    }
  }

  private registrationImplementation(): ServiceSet {
    const log = this.opts.log.with({ driver: this.opts.driverName });
    return [
      [
        draServices.registration,
        {
          GetInfo: () => {
            log.debug('kubelet asked for plugin info');
            return {
              type: DRA_PLUGIN_TYPE,
              name: this.opts.driverName,
              endpoint: this.paths.draSocket,
              supported_versions: [
                DRA_SERVICE_V1,
                DRA_SERVICE_V1BETA1,
                ...(this.opts.health ? [DRA_HEALTH_SERVICE_V1] : []),
              ],
            };
          },
          NotifyRegistrationStatus: (request: { plugin_registered: boolean; error: string }) => {
            const { plugin_registered, error } = request;
            this.registered = plugin_registered;
            this.registrationError = plugin_registered ? undefined : error || 'refused without a reason';
            if (plugin_registered) log.info('registered with the kubelet');
            else log.error('the kubelet refused the registration', { error: this.registrationError });
            return {};
          },
        },
      ],
    ];
  }

  private draImplementation(): ServiceSet {
    const { handler } = this.opts;
    const implementation = {
      NodePrepareResources: (request: { claims: WireClaim[] }) =>
        limited(async () => ({ claims: await handler.prepare(request.claims) })),
      NodeUnprepareResources: (request: { claims: WireClaim[] }) =>
        limited(async () => ({ claims: await handler.unprepare(request.claims) })),
    };
    // One implementation for both versions: the messages are the same, v1beta1 lacks only share_id.
    const services: ServiceSet = [
      [draServices.draV1, implementation],
      [draServices.draV1beta1, implementation],
    ];
    const health = this.opts.health;
    if (health)
      services.push([
        draServices.health,
        {
          NodeWatchResources: (_request: unknown, call: ResponseStream) => this.watchHealth(call, health),
        },
      ]);
    return services;
  }

  /** The full device health list now, after every change, and every HEALTH_RESEND_MS until the kubelet hangs up. */
  private watchHealth(call: ResponseStream, health: DraHealthSource): void {
    const log = this.opts.log.with({ driver: this.opts.driverName });
    const send = () => {
      const now = Math.floor(Date.now() / 1000);
      call.write({
        devices: health.snapshot().map((d) => ({
          device: { pool_name: d.pool, device_name: d.device },
          health: d.healthy ? HealthStatus.values.HEALTHY : HealthStatus.values.UNHEALTHY,
          last_updated_time: now,
          health_check_timeout_seconds: HEALTH_TIMEOUT_SECONDS,
          message: d.message ?? '',
        })),
      });
    };
    const unsubscribe = health.onChange(send);
    const timer = setInterval(send, this.opts.healthResendMs ?? HEALTH_RESEND_MS);
    timer.unref();
    this.healthStreams.add(call);
    const done = () => {
      if (!this.healthStreams.delete(call)) return;
      unsubscribe();
      clearInterval(timer);
      log.info('health stream closed');
    };
    call.onClose(done);
    log.info('health stream opened');
    send();
  }
}
