/**
 * `--mode dra`: the same family runs as a DRA driver. Its resources go to the driver (not to the
 * PluginManager), which publishes their devices in the node's ResourceSlice and prepares claims with
 * the family's own `allocate`. The DRA modules (and `@kubernetes/client-node`) are loaded only here, so
 * device-plugin processes never pay for them.
 */
import type * as http from 'http';
import type { DraDriver, DraMode, DraModeOptions } from '../framework/dra';
import {
  startHttpServer,
  UsageError,
  type FlagValues,
  type FrameworkMetrics,
  type Logger,
  type ResourceHost,
  type ResourcePlugin,
} from '../framework';

export interface DraSettings {
  driverName: string;
  nodeName: string;
  kubeletRootDir: string;
  kubeconfig?: string;
  uninstall: boolean;
}

const DNS_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;

/** The DRA flags, checked (a bad value is a UsageError: exit 2 with the reason). */
export function draSettings(values: FlagValues, draMode: boolean): DraSettings {
  const driverName = String(values.draDriverName ?? '');
  if (driverName.length > 63 || !DNS_SUBDOMAIN.test(driverName))
    throw new UsageError(
      `invalid value for --dra-driver-name: "${driverName}" must be a DNS subdomain of at most 63 characters`,
    );
  const uninstall = values.draUninstall === true;
  const nodeName = String(values.nodeName ?? '');
  if (draMode && !uninstall && !nodeName)
    throw new UsageError(
      '--node-name (or NODE_NAME) is required with --mode dra: the pool and the ResourceSlice are named after the node',
    );
  if (nodeName && (nodeName.length > 253 || !DNS_SUBDOMAIN.test(nodeName)))
    throw new UsageError(`invalid value for --node-name: "${nodeName}" is not a node name (a DNS subdomain)`);
  const kubeletRootDir = String(values.kubeletRootDir ?? '');
  if (!kubeletRootDir.startsWith('/'))
    throw new UsageError(`--kubelet-root-dir must be an absolute path, got "${kubeletRootDir}"`);
  const kubeconfig = String(values.kubeconfig ?? '') || undefined;
  return { driverName, nodeName, kubeletRootDir, kubeconfig, uninstall };
}

function draModule(): typeof import('../framework/dra') {
  // eslint-disable-next-line @typescript-eslint/no-require-imports -- loaded in DRA mode only
  return require('../framework/dra') as typeof import('../framework/dra');
}

/** `--dra-uninstall`: delete the driver's ResourceSlices on every node; returns how many. */
export async function uninstallDra(settings: DraSettings, log: Logger): Promise<number> {
  const deleted = await draModule().deleteDriverSlices(settings.driverName, {
    kubeconfig: settings.kubeconfig,
  });
  log.info('deleted the ResourceSlices of the driver', { driver: settings.driverName, deleted });
  return deleted;
}

/**
 * Where the family's `run` puts its resources in DRA mode: collected until the driver exists (they
 * are then started by `startDraMode`), handed to the driver afterwards (devnode's config reloads).
 */
export class DraResourceHost implements ResourceHost {
  readonly pending: ResourcePlugin[] = [];
  private driver?: DraDriver;

  async addResource(plugin: ResourcePlugin): Promise<void> {
    if (this.driver) await this.driver.addResource(plugin);
    else this.pending.push(plugin);
  }

  async removeResource(resourceName: string): Promise<void> {
    if (this.driver) return this.driver.removeResource(resourceName);
    const index = this.pending.findIndex((p) => p.resourceName === resourceName);
    if (index >= 0) this.pending.splice(index, 1);
  }

  attach(driver: DraDriver): void {
    this.driver = driver;
  }
}

export interface DraRuntimeOptions {
  settings: DraSettings;
  cdiDir: string;
  httpAddr: string;
  log: Logger;
  metrics: FrameworkMetrics;
  /** Runs the family with this host (its `run`); throws UsageError for bad configuration. */
  runFamily(host: ResourceHost): Promise<void>;
  /** Clean-up the family registered (run first at stop). */
  shutdownHooks: (() => Promise<void> | void)[];
  pollIntervalMs?: number;
  /** API-server stand-ins (the demo); client-node when absent. */
  api?: Pick<DraModeOptions, 'claims' | 'sliceApi'>;
}

export interface DraRuntime {
  dra: DraMode;
  http?: http.Server;
  /** Stops serving; the ResourceSlice is kept (a restart must not withdraw the pool). */
  stop(): Promise<void>;
}

export async function startDraRuntime(options: DraRuntimeOptions): Promise<DraRuntime> {
  const { settings, log } = options;
  const host = new DraResourceHost();
  let dra: DraMode | undefined;
  let httpServer: http.Server | undefined;
  const stop = async () => {
    for (const hook of options.shutdownHooks.splice(0).reverse())
      await Promise.resolve(hook()).catch((err) => log.warn('shutdown hook failed', { error: err }));
    await dra?.stop(false);
    await new Promise<void>((resolve) => (httpServer ? httpServer.close(() => resolve()) : resolve()));
    httpServer?.closeAllConnections();
  };
  try {
    if (options.httpAddr)
      httpServer = await startHttpServer(
        options.httpAddr,
        {
          metrics: options.metrics,
          readiness: () => {
            const reason = dra ? dra.unreadyReason() : 'starting';
            const body = {
              ready: !reason,
              mode: 'dra',
              driver: settings.driverName,
              node: settings.nodeName,
              ...(reason ? { reason } : {}),
              ...(dra ? { status: dra.status() } : {}),
            };
            return { ready: !reason, body };
          },
        },
        log,
      );
    await options.runFamily(host);
    dra = await draModule().startDraMode({
      driverName: settings.driverName,
      nodeName: settings.nodeName,
      resources: host.pending.map((plugin) => ({ plugin })),
      cdiDir: options.cdiDir,
      kubeletRootDir: settings.kubeletRootDir,
      kubeconfig: settings.kubeconfig,
      log,
      metrics: options.metrics,
      pollIntervalMs: options.pollIntervalMs,
      ...options.api,
    });
    host.attach(dra.driver);
    // Publish the pool even when no family has a device yet: an empty pool is this node's truth.
    dra.slices.update(dra.driver.sliceDevices());
  } catch (err) {
    await stop();
    throw err;
  }
  log.info('DRA driver started', {
    driver: settings.driverName,
    node: settings.nodeName,
    devices: dra.driver.devices().map((d) => d.name),
  });
  return { dra, http: httpServer, stop };
}
