/**
 * DRA driver mode, assembled: what a family's `--mode dra` start-up calls. The families are started by
 * the driver (their devices feed both NodePrepareResources and the ResourceSlice), the kubelet sockets
 * are served (DRA service, health, registration), and every device change republishes the slice.
 *
 * The API server is reached through `@kubernetes/client-node` unless `claims` / `sliceApi` are given
 * (tests give in-memory ones).
 */
import type { Logger } from '../log';
import type { FrameworkMetrics } from '../metrics';
import type { ResourcePlugin } from '../types';
import { kubeClaimReader } from './claims';
import { DraDriver, type ClaimReader, type DraResourceOptions } from './driver';
import {
  DEFAULT_KUBELET_ROOT_DIR,
  DraKubeletPlugin,
  draPaths,
  type DraRegistrationStatus,
} from './registration';
import { DraMetrics } from './metrics';
import { SlicePublisher, kubeSliceApi, type SliceApi, type SliceStatus } from './slices';

export {
  allocationToCdi,
  claimSpecFileName,
  draDeviceName,
  DraDriver,
  type ClaimReader,
  type ResourceClaimView,
} from './driver';
export { DraKubeletPlugin, draPaths, driverNameErrors, DEFAULT_KUBELET_ROOT_DIR } from './registration';
export {
  SlicePublisher,
  kubeSliceApi,
  deleteDriverSlices,
  MAX_DEVICES_PER_SLICE,
  type SliceApi,
  type SliceDevice,
} from './slices';
export { kubeClaimReader } from './claims';

export interface DraModeOptions {
  driverName: string;
  nodeName: string;
  resources: { plugin: ResourcePlugin; options?: DraResourceOptions }[];
  cdiDir: string;
  kubeletRootDir?: string;
  log: Logger;
  /** A kubeconfig file for client-node; in-cluster config when undefined. */
  kubeconfig?: string;
  claims?: ClaimReader;
  sliceApi?: SliceApi;
  /** Re-read and repair the slice this often (default 60 s). */
  sliceResyncMs?: number;
  pollIntervalMs?: number;
  /** Registers the `kdp_dra_*` metrics on this registry (the one `/metrics` serves). */
  metrics?: FrameworkMetrics;
}

export interface DraMode {
  driver: DraDriver;
  kubelet: DraKubeletPlugin;
  slices: SlicePublisher;
  status(): { kubelet: DraRegistrationStatus; slices: SliceStatus; preparedClaims: number };
  /** Ready: registered with the kubelet and the slice in sync. */
  ready(): boolean;
  /** Why it is not ready (for `/readyz`), or undefined when it is. */
  unreadyReason(): string | undefined;
  /** Stop serving; `uninstall` also deletes the node's ResourceSlice. Prepared claims stay checkpointed. */
  stop(uninstall?: boolean): Promise<void>;
}

export async function startDraMode(options: DraModeOptions): Promise<DraMode> {
  const kubeletRootDir = options.kubeletRootDir ?? DEFAULT_KUBELET_ROOT_DIR;
  const paths = draPaths(kubeletRootDir, options.driverName);
  const log = options.log.with({ driver: options.driverName, mode: 'dra' });
  // The gauges read the components below at scrape time; a scrape during start-up sees "not yet".
  const live: { status?: () => ReturnType<DraMode['status']> } = {};
  const metrics =
    options.metrics &&
    new DraMetrics(options.metrics, options.driverName, () => {
      const s = live.status?.();
      return {
        registered: s?.kubelet.registered ?? false,
        sliceInSync: s?.slices.inSync ?? false,
        sliceGeneration: s?.slices.generation,
        preparedClaims: s?.preparedClaims ?? 0,
      };
    });
  const driver = new DraDriver({
    driverName: options.driverName,
    nodeName: options.nodeName,
    claims: options.claims ?? kubeClaimReader({ kubeconfig: options.kubeconfig }),
    cdiDir: options.cdiDir,
    checkpointFile: paths.checkpoint,
    log,
    metrics,
  });
  const slices = new SlicePublisher({
    driverName: options.driverName,
    nodeName: options.nodeName,
    api: options.sliceApi ?? kubeSliceApi({ kubeconfig: options.kubeconfig }),
    log,
    resyncMs: options.sliceResyncMs ?? 60_000,
  });
  // Subscribed before the families start, so their first device lists are published too.
  driver.onDevicesChanged(() => slices.update(driver.sliceDevices()));
  const kubelet = new DraKubeletPlugin({
    driverName: options.driverName,
    kubeletRootDir,
    handler: driver,
    health: driver.healthSource(),
    log,
    pollIntervalMs: options.pollIntervalMs,
  });
  try {
    for (const { plugin, options: resourceOptions } of options.resources)
      await driver.addResource(plugin, resourceOptions);
    await kubelet.start();
  } catch (err) {
    // A family that cannot start or a socket that cannot be served: undo what did start, then fail.
    await kubelet.stop();
    await slices.stop();
    await driver.stop();
    throw err;
  }
  const current = () => ({
    kubelet: kubelet.status(),
    slices: slices.status(),
    preparedClaims: driver.preparedClaims().length,
  });
  live.status = current;
  return {
    driver,
    kubelet,
    slices,
    status: current,
    ready: () => unreadyReason(current()) === undefined,
    unreadyReason: () => unreadyReason(current()),
    async stop(uninstall = false) {
      await kubelet.stop();
      await slices.stop(uninstall);
      await driver.stop();
    },
  };
}

function unreadyReason(s: ReturnType<DraMode['status']>): string | undefined {
  if (!s.kubelet.serving)
    return `the kubelet sockets ${s.kubelet.registrationSocket} and ${s.kubelet.draSocket} are not served`;
  if (!s.kubelet.registered)
    return s.kubelet.registrationError
      ? `the kubelet refused the registration: ${s.kubelet.registrationError}`
      : `not registered with the kubelet yet (its plugin watcher has not called ${s.kubelet.registrationSocket})`;
  if (!s.slices.inSync)
    return s.slices.lastError
      ? `the ResourceSlice is not in sync: ${s.slices.lastError}`
      : 'the ResourceSlice is not published yet';
  return undefined;
}
