/**
 * ResourceSlice publisher: the driver's devices on this node, as ONE pool named after the node, in one
 * ResourceSlice owned by the Node (so it goes when the Node goes) and removed by `remove()` when the
 * driver is uninstalled. Every change of the device list writes the whole pool again with
 * `pool.generation` bumped, so the scheduler never sees a pool half old and half new.
 *
 * The API server may refuse (409 Conflict: someone else wrote the slice) or be away (outage): a sync
 * that fails is retried with backoff (from `initialBackoffMs`, doubling to `maxBackoffMs`), reading
 * the slices afresh each time; it never throws out of the publisher. A slow resync also repairs a
 * slice deleted or edited behind our back.
 *
 * A slice holds at most 128 devices (resource.k8s.io/v1); a larger pool would need several slices
 * with `resourceSliceCount`, which this first version refuses (status says why) rather than publish a
 * partial pool.
 */
import type { Logger } from '../log';
import { SerialTask } from '../serial-task';
import { apiErrorText, lazyKubeClients, type KubeOptions } from './kube';

import type { DraAttribute } from '../types';
export type { DraAttribute } from '../types';

export interface SliceDevice {
  /** A DNS label, unique in the pool. */
  name: string;
  attributes?: Record<string, DraAttribute>;
  /** Quantities, e.g. `{ memory: '16Gi' }`. */
  capacity?: Record<string, string>;
  /** Many claims may hold it at once (an API server without DRAConsumableCapacity drops this). */
  allowMultipleAllocations?: boolean;
}

export interface SliceObject {
  name: string;
  resourceVersion?: string;
  pool: { name: string; generation: number; resourceSliceCount: number };
  devices: SliceDevice[];
}

/** What the publisher needs of the API server; `kubeSliceApi` is the client-node implementation. */
export interface SliceApi {
  /** The Node's UID, for the owner reference. */
  nodeUid(node: string): Promise<string>;
  /** Our slices on this node (driver + node field selectors). */
  list(driver: string, node: string): Promise<SliceObject[]>;
  create(driver: string, node: string, nodeUid: string, slice: Omit<SliceObject, 'name'>): Promise<void>;
  /** Replace with optimistic concurrency (`resourceVersion`): a conflict is an error with code 409. */
  replace(driver: string, node: string, nodeUid: string, slice: SliceObject): Promise<void>;
  delete(name: string): Promise<void>;
}

export const MAX_DEVICES_PER_SLICE = 128;

export interface SlicePublisherOptions {
  driverName: string;
  nodeName: string;
  api: SliceApi;
  log: Logger;
  initialBackoffMs?: number;
  maxBackoffMs?: number;
  /** Re-read and repair the slice this often even without a change. */
  resyncMs?: number;
}

export interface SliceStatus {
  /** The API server holds exactly the devices last given to `update`. */
  inSync: boolean;
  generation?: number;
  devices: number;
  /** Why the last sync failed, while it is being retried. */
  lastError?: string;
}

export class SlicePublisher {
  private desired?: SliceDevice[];
  private published?: string;
  private generation?: number;
  private nodeUid?: string;
  private lastError?: string;
  private failures = 0;
  private retryTimer?: NodeJS.Timeout;
  private resyncTimer?: NodeJS.Timeout;
  private readonly task: SerialTask;
  private stopped = false;

  constructor(private readonly opts: SlicePublisherOptions) {
    this.task = new SerialTask(
      () => this.sync(),
      10,
      () => undefined /* sync catches its own errors */,
    );
  }

  /** The full device list (sorted by name for a stable slice). Publishes soon, retrying until done. */
  update(devices: SliceDevice[]): void {
    this.desired = [...devices].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    this.task.request();
    if (!this.resyncTimer && this.opts.resyncMs) {
      this.resyncTimer = setInterval(() => this.task.request(), this.opts.resyncMs);
      this.resyncTimer.unref();
    }
  }

  /** Resolves once the current device list is on the API server (for tests and start-up). */
  async flush(): Promise<void> {
    await this.task.runNow();
  }

  status(): SliceStatus {
    return {
      inSync: this.desired !== undefined && this.published === key(this.desired),
      generation: this.generation,
      devices: this.desired?.length ?? 0,
      lastError: this.lastError,
    };
  }

  /** Stop publishing; with `removeSlices` also delete our slices (the driver is being uninstalled). */
  async stop(removeSlices = false): Promise<void> {
    this.stopped = true;
    clearTimeout(this.retryTimer);
    clearInterval(this.resyncTimer);
    await this.task.stop();
    if (!removeSlices) return;
    const { api, driverName, nodeName } = this.opts;
    for (const slice of await api.list(driverName, nodeName)) await api.delete(slice.name);
    this.opts.log.info('removed our ResourceSlices', { node: nodeName });
  }

  private async sync(): Promise<void> {
    if (this.stopped || !this.desired) return;
    const desired = this.desired;
    try {
      await this.write(desired);
      this.published = key(desired);
      if (this.lastError) this.opts.log.info('ResourceSlice in sync again', { generation: this.generation });
      this.lastError = undefined;
      this.failures = 0;
    } catch (err) {
      this.published = undefined;
      this.lastError = apiErrorText(err);
      this.failures += 1;
      const base = this.opts.initialBackoffMs ?? 200;
      const delay = Math.min(base * 2 ** (this.failures - 1), this.opts.maxBackoffMs ?? 30_000);
      this.opts.log.warn('cannot publish the ResourceSlice; retrying', {
        error: this.lastError,
        attempt: this.failures,
        retryInMs: delay,
      });
      clearTimeout(this.retryTimer);
      this.retryTimer = setTimeout(() => this.task.request(), delay);
      this.retryTimer.unref();
    }
  }

  private async write(devices: SliceDevice[]): Promise<void> {
    const { api, driverName, nodeName } = this.opts;
    if (devices.length > MAX_DEVICES_PER_SLICE)
      throw new Error(
        `${devices.length} devices do not fit one ResourceSlice (at most ${MAX_DEVICES_PER_SLICE}); not publishing a partial pool`,
      );
    this.nodeUid ??= await api.nodeUid(nodeName);
    const existing = await api.list(driverName, nodeName);
    const [keep, ...extra] = existing;
    const current = Math.max(0, ...existing.map((s) => s.pool.generation));
    const upToDate =
      keep && extra.length === 0 && keep.pool.name === nodeName && key(keep.devices) === key(devices);
    if (upToDate) {
      this.generation = keep.pool.generation;
      return;
    }
    const pool = { name: nodeName, generation: current + 1, resourceSliceCount: 1 };
    if (keep) await api.replace(driverName, nodeName, this.nodeUid, { ...keep, pool, devices });
    else await api.create(driverName, nodeName, this.nodeUid, { pool, devices });
    // Slices beyond the one we keep belong to an older layout: the new generation supersedes them.
    for (const slice of extra) await api.delete(slice.name);
    this.generation = pool.generation;
    this.opts.log.info('published ResourceSlice', { generation: pool.generation, devices: devices.length });
  }
}

/** A canonical form of a device list, to tell whether the API server already holds it. */
function key(devices: SliceDevice[]): string {
  return JSON.stringify(
    devices.map((d) => [
      d.name,
      sortedEntries(d.attributes),
      sortedEntries(d.capacity),
      d.allowMultipleAllocations === true,
    ]),
  );
}

function sortedEntries(record: Record<string, unknown> | undefined): [string, unknown][] {
  return Object.entries(record ?? {}).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
}

// ---- the client-node implementation ----

interface CoreApi {
  readNode(r: { name: string }): Promise<{ metadata?: { uid?: string } }>;
}
interface ResourceSlicesApi {
  listResourceSlice(r: { fieldSelector: string }): Promise<{ items: KubeSlice[] }>;
  createResourceSlice(r: { body: KubeSlice }): Promise<unknown>;
  replaceResourceSlice(r: { name: string; body: KubeSlice }): Promise<unknown>;
  deleteResourceSlice(r: { name: string }): Promise<unknown>;
}

/** client-node's model of a slice: `_int` stands for the API's `int` attribute. */
interface KubeSlice {
  apiVersion?: string;
  kind?: string;
  metadata?: Record<string, unknown> & { name?: string; resourceVersion?: string };
  spec: {
    driver: string;
    nodeName?: string;
    pool: { name: string; generation: number; resourceSliceCount: number };
    devices?: {
      name: string;
      attributes?: Record<string, { string?: string; _int?: number; bool?: boolean; version?: string }>;
      capacity?: Record<string, { value: string }>;
      allowMultipleAllocations?: boolean;
    }[];
  };
}

function toKube(
  driver: string,
  node: string,
  nodeUid: string,
  slice: Omit<SliceObject, 'name'> & { name?: string },
): KubeSlice {
  return {
    apiVersion: 'resource.k8s.io/v1',
    kind: 'ResourceSlice',
    metadata: {
      ...(slice.name ? { name: slice.name } : { generateName: `${node}-${driver}-` }),
      ...(slice.resourceVersion ? { resourceVersion: slice.resourceVersion } : {}),
      ownerReferences: [{ apiVersion: 'v1', kind: 'Node', name: node, uid: nodeUid, controller: true }],
    },
    spec: {
      driver,
      nodeName: node,
      pool: slice.pool,
      devices: slice.devices.map((d) => ({
        name: d.name,
        ...(d.attributes
          ? {
              attributes: Object.fromEntries(
                Object.entries(d.attributes).map(([k, v]) => ('int' in v ? [k, { _int: v.int }] : [k, v])),
              ),
            }
          : {}),
        ...(d.capacity
          ? { capacity: Object.fromEntries(Object.entries(d.capacity).map(([k, v]) => [k, { value: v }])) }
          : {}),
        ...(d.allowMultipleAllocations ? { allowMultipleAllocations: true } : {}),
      })),
    },
  };
}

function fromKube(slice: KubeSlice): SliceObject {
  return {
    name: slice.metadata?.name ?? '',
    resourceVersion: slice.metadata?.resourceVersion,
    pool: slice.spec.pool,
    devices: (slice.spec.devices ?? []).map((d) => {
      const out: SliceDevice = { name: d.name };
      if (d.attributes && Object.keys(d.attributes).length)
        out.attributes = Object.fromEntries(
          Object.entries(d.attributes).map(([k, v]): [string, DraAttribute] => {
            if (v._int !== undefined) return [k, { int: v._int }];
            if (v.bool !== undefined) return [k, { bool: v.bool }];
            if (v.version !== undefined) return [k, { version: v.version }];
            return [k, { string: v.string ?? '' }];
          }),
        );
      if (d.capacity && Object.keys(d.capacity).length)
        out.capacity = Object.fromEntries(Object.entries(d.capacity).map(([k, v]) => [k, v.value]));
      if (d.allowMultipleAllocations) out.allowMultipleAllocations = true;
      return out;
    }),
  };
}

/** The SliceApi through `@kubernetes/client-node`, required lazily (device-plugin mode never loads it). */
export function kubeSliceApi(options: KubeOptions = {}): SliceApi {
  const clients = lazyKubeClients(options);
  let core: CoreApi | undefined;
  let resource: ResourceSlicesApi | undefined;
  const api = () => {
    core ??= clients<CoreApi>((k8s) => k8s.CoreV1Api);
    resource ??= clients<ResourceSlicesApi>((k8s) => k8s.ResourceV1Api);
    return { core, resource };
  };
  return {
    async nodeUid(node) {
      const uid = (await api().core.readNode({ name: node })).metadata?.uid;
      if (!uid) throw new Error(`Node ${node} has no UID`);
      return uid;
    },
    async list(driver, node) {
      const list = await api().resource.listResourceSlice({
        fieldSelector: `spec.driver=${driver},spec.nodeName=${node}`,
      });
      return list.items.map(fromKube);
    },
    async create(driver, node, nodeUid, slice) {
      await api().resource.createResourceSlice({ body: toKube(driver, node, nodeUid, slice) });
    },
    async replace(driver, node, nodeUid, slice) {
      await api().resource.replaceResourceSlice({
        name: slice.name,
        body: toKube(driver, node, nodeUid, slice),
      });
    },
    async delete(name) {
      await api().resource.deleteResourceSlice({ name });
    },
  };
}

/**
 * Uninstall: delete every ResourceSlice of `driver`, on every node (the chart's pre-delete hook runs
 * this once for the cluster). A slice already gone (404) counts as deleted by someone else, not as an
 * error. Returns how many this call deleted; an API error is thrown with a short text.
 */
export async function deleteDriverSlices(driver: string, options: KubeOptions = {}): Promise<number> {
  const api = lazyKubeClients(options)<ResourceSlicesApi>((k8s) => k8s.ResourceV1Api);
  let deleted = 0;
  try {
    const list = await api.listResourceSlice({ fieldSelector: `spec.driver=${driver}` });
    for (const slice of list.items) {
      try {
        await api.deleteResourceSlice({ name: slice.metadata?.name ?? '' });
        deleted++;
      } catch (err) {
        if ((err as { code?: number }).code !== 404) throw err;
      }
    }
  } catch (err) {
    throw new Error(`deleting the ResourceSlices of ${driver}: ${apiErrorText(err)}`);
  }
  return deleted;
}
