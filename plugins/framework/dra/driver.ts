/**
 * The DRA node service: NodePrepareResources / NodeUnprepareResources for the devices of one driver on
 * one node, served from the same family code as device-plugin mode. The family (a ResourcePlugin)
 * publishes its devices and answers `allocate(ids)` exactly as it does for the kubelet's Allocate; the
 * adapter here turns that answer into CDI container edits.
 *
 * For each claim the kubelet names, prepare:
 *   1. answers from the checkpoint when the claim is already prepared (the kubelet repeats calls, and
 *      a restarted driver must give the same answer);
 *   2. reads the ResourceClaim from the API server and checks its UID (a claim deleted and re-created
 *      under the same name is a different claim);
 *   3. takes only the allocation results for this driver and this node's pool;
 *   4. writes ONE CDI spec per claim (per CDI kind, normally one) holding only that claim's devices,
 *      named `<claimUID>-<device>`, and records it in the checkpoint before answering.
 * Unprepare removes the specs and the checkpoint entry; an unknown claim is already unprepared.
 * Errors are per claim (the `error` field), name the claim and are bounded in size.
 */
import { createHash } from 'crypto';
import * as fs from 'fs';
import * as path from 'path';
import { buildCdiSpec, qualifiedCdiName, writeCdiSpec, type CdiContainerEdits, type CdiSpec } from '../cdi';
import { capMessage, echoValue } from '../echo';
import type { Logger } from '../log';
import { HEALTHY, type ContainerAllocation, type Device, type ResourcePlugin } from '../types';
import type {
  DraHealthSource,
  DraNodeHandler,
  WireClaim,
  WireDraDevice,
  WirePrepareResult,
  WireUnprepareResult,
} from './registration';
import type { SliceDevice } from './slices';
import type { DraMetrics } from './metrics';

// ---- the API server side: only what prepare needs of a ResourceClaim ----

export interface AllocationResult {
  driver: string;
  pool: string;
  device: string;
  /** The request name; `<request>/<subrequest>` for a prioritized-list alternative. */
  request: string;
  shareID?: string;
}

export interface ResourceClaimView {
  metadata?: { uid?: string; namespace?: string; name?: string };
  status?: { allocation?: { devices?: { results?: AllocationResult[] } } };
}

/** Reads ResourceClaims; undefined when the claim does not exist. Other failures throw. */
export interface ClaimReader {
  read(namespace: string, name: string): Promise<ResourceClaimView | undefined>;
}

// ---- ContainerAllocation → CDI container edits (the only translation between the two modes) ----

/**
 * What a family hands a container, as CDI edits. CDI names a family returns (its own spec, when it
 * keeps one) are passed on beside ours; container annotations have no CDI form, so a family that
 * needs them cannot serve DRA yet and says so per claim.
 */
export function allocationToCdi(allocation: ContainerAllocation): {
  edits: CdiContainerEdits;
  extraCdiIds: string[];
} {
  if (Object.keys(allocation.annotations ?? {}).length)
    throw new Error('the family returned container annotations, which CDI (and so DRA) cannot express');
  const edits: CdiContainerEdits = {};
  const env = Object.entries(allocation.envs ?? {}).map(([k, v]) => `${k}=${v}`);
  if (env.length) edits.env = env;
  if (allocation.devices?.length)
    edits.deviceNodes = allocation.devices.map((d) => ({
      path: d.containerPath,
      hostPath: d.hostPath,
      permissions: d.permissions,
    }));
  if (allocation.mounts?.length)
    edits.mounts = allocation.mounts.map((m) => ({
      hostPath: m.hostPath,
      containerPath: m.containerPath,
      type: 'bind',
      options: ['rbind', m.readOnly ? 'ro' : 'rw'],
    }));
  return { edits, extraCdiIds: allocation.cdiDevices ?? [] };
}

// ---- the checkpoint ----

interface PreparedClaim {
  namespace: string;
  name: string;
  /** The CDI spec files written for this claim (absolute paths), with their content for a rewrite. */
  specs: { file: string; spec: CdiSpec }[];
  devices: WireDraDevice[];
}

interface Checkpoint {
  version: 1;
  claims: Record<string, PreparedClaim>;
}

function loadCheckpoint(file: string, log: Logger): Checkpoint {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { version: 1, claims: {} };
    throw new Error(`cannot read the DRA checkpoint ${file}: ${(err as Error).message}`);
  }
  const parsed = JSON.parse(text) as Checkpoint;
  if (parsed?.version !== 1 || typeof parsed.claims !== 'object' || parsed.claims === null)
    throw new Error(
      `the DRA checkpoint ${file} is not a version-1 checkpoint; move it aside to start afresh`,
    );
  log.info('loaded DRA checkpoint', { file, claims: Object.keys(parsed.claims).length });
  return parsed;
}

/** Write to a temp file, then rename: a crash leaves the old checkpoint or the new one, never half. */
function saveCheckpoint(file: string, checkpoint: Checkpoint): void {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  const temp = `${file}.${process.pid}.tmp`;
  try {
    const fd = fs.openSync(temp, 'w', 0o600);
    try {
      fs.writeSync(fd, JSON.stringify(checkpoint));
      fs.fsyncSync(fd);
    } finally {
      fs.closeSync(fd);
    }
    fs.renameSync(temp, file);
  } catch (err) {
    fs.rmSync(temp, { force: true });
    throw new Error(`cannot write the DRA checkpoint ${file}: ${(err as Error).message}`);
  }
}

// ---- the driver ----

/** Kubernetes UIDs are UUIDs; this is looser, but no `/`, `.` or other path characters. */
const CLAIM_UID = /^[A-Za-z0-9][-A-Za-z0-9]{0,127}$/;

/** A DRA device name is a DNS label (ResourceSlice validation). */
const DEVICE_NAME = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;

/**
 * The DRA name of a family's device ID. An ID that is a DNS label is its own name (kvm, tdx-guest,
 * crand0); any other (devnode's `renderD128`, `dri_card0`) is lowercased, every other character run
 * made a `-`, and suffixed with a hash of the ID, so two IDs never share a name and a name is stable
 * across restarts (the checkpoint and allocated claims refer to it).
 */
export function draDeviceName(id: string): string {
  if (DEVICE_NAME.test(id) && id.length <= 63) return id;
  const hash = createHash('sha256').update(id).digest('hex').slice(0, 8);
  const base = id
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '-')
    .slice(0, 63 - hash.length - 1)
    .replace(/^-+|-+$/g, '');
  return `${base || 'device'}-${hash}`;
}

export interface DraResourceOptions {
  /** CDI kind of the per-claim specs, `<vendor>/<class>`; the resource name by default. */
  cdiKind?: string;
}

export interface DraDriverOptions {
  driverName: string;
  /** This node's name; it is also the name of the one pool this driver publishes. */
  nodeName: string;
  claims: ClaimReader;
  cdiDir: string;
  /** `<kubeletRootDir>/plugins/<driver>/checkpoint.json` (see draPaths). */
  checkpointFile: string;
  log: Logger;
  metrics?: DraMetrics;
}

interface Family {
  plugin: ResourcePlugin;
  cdiKind: string;
  /** By DRA device name (see draDeviceName); each Device keeps the family's own ID. */
  devices: Map<string, Device>;
}

/** One device of the driver: its DRA name, the family's device and the family. */
export interface DraDeviceEntry {
  name: string;
  device: Device;
  plugin: ResourcePlugin;
}

/** Called with every device of every family whenever any of them changed (for the slice publisher). */
export type DraDevicesListener = (devices: DraDeviceEntry[]) => void;

export class DraDriver implements DraNodeHandler {
  private readonly families: Family[] = [];
  private readonly checkpoint: Checkpoint;
  /** Prepare and unprepare run one at a time: they share the checkpoint and the spec files. */
  private queue: Promise<unknown> = Promise.resolve();
  private readonly listeners = new Set<DraDevicesListener>();

  constructor(private readonly opts: DraDriverOptions) {
    this.checkpoint = loadCheckpoint(opts.checkpointFile, opts.log);
  }

  get poolName(): string {
    return this.opts.nodeName;
  }

  /** Start a family and keep its published devices. Device names must be unique over the driver. */
  async addResource(plugin: ResourcePlugin, options: DraResourceOptions = {}): Promise<void> {
    const family: Family = { plugin, cdiKind: options.cdiKind ?? plugin.resourceName, devices: new Map() };
    this.families.push(family);
    await plugin.start((devices) => this.publish(family, devices));
  }

  /**
   * Stop a family and withdraw its devices (a devnode resource dropped from the config). Claims
   * already prepared keep their specs until the kubelet unprepares them.
   */
  async removeResource(resourceName: string): Promise<void> {
    const index = this.families.findIndex((f) => f.plugin.resourceName === resourceName);
    if (index < 0) return;
    const [family] = this.families.splice(index, 1);
    await family.plugin.stop();
    this.notify();
  }

  async stop(): Promise<void> {
    await this.queue.catch(() => undefined);
    for (const family of this.families) await family.plugin.stop();
  }

  /** Every device the driver offers, for ResourceSlices. */
  devices(): DraDeviceEntry[] {
    return this.families.flatMap((f) =>
      [...f.devices].map(([name, device]) => ({ name, device, plugin: f.plugin })),
    );
  }

  /**
   * The pool as ResourceSlice devices: the healthy ones (an unhealthy device must not be allocated),
   * with the attributes their family gives.
   */
  sliceDevices(): SliceDevice[] {
    return this.devices()
      .filter(({ device }) => device.health === HEALTHY)
      .map(({ name, device, plugin }) => ({ name, ...plugin.draAttributes?.(device) }));
  }

  /** Device health for the kubelet's DRAResourceHealth stream. */
  healthSource(): DraHealthSource {
    return {
      snapshot: () =>
        this.devices().map(({ name, device }) => ({
          pool: this.poolName,
          device: name,
          healthy: device.health === HEALTHY,
        })),
      onChange: (listener) => this.onDevicesChanged(() => listener()),
    };
  }

  onDevicesChanged(listener: DraDevicesListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Claims prepared now (UIDs), for status and tests. */
  preparedClaims(): string[] {
    return Object.keys(this.checkpoint.claims);
  }

  private publish(family: Family, devices: Device[]): void {
    const log = this.opts.log.with({ resource: family.plugin.resourceName });
    const taken = new Set(this.families.filter((f) => f !== family).flatMap((f) => [...f.devices.keys()]));
    const accepted = new Map<string, Device>();
    for (const device of devices) {
      const name = draDeviceName(device.id);
      if (taken.has(name) || accepted.has(name))
        log.error('device name is already used in this driver; left out', { device: device.id, name });
      else accepted.set(name, { ...device });
    }
    family.devices = accepted;
    this.notify();
  }

  private notify(): void {
    const all = this.devices();
    for (const listener of this.listeners) listener(all);
  }

  prepare(claims: WireClaim[]): Promise<Record<string, WirePrepareResult>> {
    return this.serialised('prepare', async () => {
      const out: Record<string, WirePrepareResult> = {};
      for (const claim of claims) {
        try {
          out[claim.uid] = { devices: await this.prepareClaim(claim), error: '' };
        } catch (err) {
          const message = capMessage(`claim ${describe(claim)}: ${(err as Error).message}`);
          this.opts.log.error('cannot prepare claim', { claim: describe(claim), error: message });
          out[claim.uid] = { devices: [], error: message };
        }
      }
      return out;
    });
  }

  unprepare(claims: WireClaim[]): Promise<Record<string, WireUnprepareResult>> {
    return this.serialised('unprepare', async () => {
      const out: Record<string, WireUnprepareResult> = {};
      for (const claim of claims) {
        try {
          this.unprepareClaim(claim);
          out[claim.uid] = { error: '' };
        } catch (err) {
          const message = capMessage(`claim ${describe(claim)}: ${(err as Error).message}`);
          this.opts.log.error('cannot unprepare claim', { claim: describe(claim), error: message });
          out[claim.uid] = { error: message };
        }
      }
      return out;
    });
  }

  /** One call at a time; its duration (queueing included, as the kubelet sees it) and failed claims counted. */
  private serialised<T extends Record<string, { error: string }>>(
    op: 'prepare' | 'unprepare',
    work: () => Promise<T>,
  ): Promise<T> {
    const driver = this.opts.driverName;
    const stopTimer = this.opts.metrics?.prepareSeconds.startTimer({ driver, op });
    const run = this.queue.then(work, work);
    this.queue = run.catch(() => undefined);
    return run.then((out) => {
      stopTimer?.();
      const failed = Object.values(out).filter((r) => r.error).length;
      if (failed) this.opts.metrics?.claimErrors.inc({ driver, op }, failed);
      return out;
    });
  }

  private async prepareClaim(claim: WireClaim): Promise<WireDraDevice[]> {
    if (!claim.namespace || !claim.name)
      throw new Error('the kubelet sent a claim without namespace or name');
    // The UID names files: anything but a UID's characters could point outside the CDI dir.
    if (!CLAIM_UID.test(claim.uid)) throw new Error('the kubelet sent a claim UID that is not a UID');
    const done = this.checkpoint.claims[claim.uid];
    if (done) {
      // A repeated call: same answer. Specs someone deleted meanwhile are written again.
      for (const { file, spec } of done.specs)
        if (!fs.existsSync(file)) writeCdiSpec(path.dirname(file), spec, path.basename(file));
      return done.devices;
    }

    const object = await this.opts.claims.read(claim.namespace, claim.name);
    if (!object) throw new Error('not found in the API server');
    if (object.metadata?.uid !== claim.uid)
      throw new Error(
        `the API server has UID ${JSON.stringify(object.metadata?.uid)}, not ${JSON.stringify(claim.uid)} (deleted and re-created?)`,
      );
    const results = object.status?.allocation?.devices?.results;
    if (!results) throw new Error('not allocated');
    const ours = results.filter((r) => r.driver === this.opts.driverName && r.pool === this.poolName);

    // Per CDI kind: the devices of this claim, each prepared by its family.
    const specs = new Map<string, CdiSpec['devices']>();
    const devices: WireDraDevice[] = [];
    for (const result of ours) {
      const family = this.families.find((f) => f.devices.has(result.device));
      const device = family?.devices.get(result.device);
      if (!family || !device)
        throw new Error(`device ${result.device} is not in pool ${this.poolName} any more`);
      if (device.health !== HEALTHY) throw new Error(`device ${result.device} is ${device.health}`);
      // The family is asked by its own ID, exactly as the kubelet's Allocate would ask it.
      const { edits, extraCdiIds } = allocationToCdi(await family.plugin.allocate([device.id]));
      const cdiName = `${claim.uid}-${result.device}`;
      const kindDevices = specs.get(family.cdiKind) ?? [];
      // One device may serve several requests of the claim: its spec entry is written once.
      if (!kindDevices.some((d) => d.name === cdiName))
        kindDevices.push({ name: cdiName, containerEdits: edits });
      specs.set(family.cdiKind, kindDevices);
      devices.push({
        request_names: [baseRequest(result.request)],
        pool_name: result.pool,
        device_name: result.device,
        cdi_device_ids: [qualifiedCdiName(family.cdiKind, cdiName), ...extraCdiIds],
        ...(result.shareID ? { share_id: result.shareID } : {}),
      });
    }

    const written: PreparedClaim['specs'] = [];
    try {
      for (const [kind, kindDevices] of specs) {
        const spec = buildCdiSpec({ kind, devices: kindDevices });
        const fileName = claimSpecFileName(kind, claim.uid);
        written.push({ file: writeCdiSpec(this.opts.cdiDir, spec, fileName), spec });
      }
      this.checkpoint.claims[claim.uid] = {
        namespace: claim.namespace,
        name: claim.name,
        specs: written,
        devices,
      };
      saveCheckpoint(this.opts.checkpointFile, this.checkpoint);
    } catch (err) {
      // Nothing half-prepared stays behind: the kubelet will call again.
      delete this.checkpoint.claims[claim.uid];
      for (const { file } of written) fs.rmSync(file, { force: true });
      throw err;
    }
    this.opts.log.info('prepared claim', {
      claim: describe(claim),
      devices: devices.map((d) => d.device_name),
      ignoredResults: results.length - ours.length,
    });
    return devices;
  }

  private unprepareClaim(claim: WireClaim): void {
    const done = this.checkpoint.claims[claim.uid];
    if (!done) return; // never prepared here, or already unprepared: nothing to undo
    for (const { file } of done.specs) fs.rmSync(file, { force: true });
    delete this.checkpoint.claims[claim.uid];
    try {
      saveCheckpoint(this.opts.checkpointFile, this.checkpoint);
    } catch (err) {
      this.checkpoint.claims[claim.uid] = done; // still recorded on disk: keep saying so
      throw err;
    }
    this.opts.log.info('unprepared claim', { claim: describe(claim) });
  }
}

/** The spec file of one claim: `<vendor>-<class>_<claimUID>.yaml`, unique per claim and kind. */
export function claimSpecFileName(kind: string, claimUID: string): string {
  return `${kind.replace('/', '-')}_${claimUID}.yaml`;
}

/** `req/sub` → `req`: the kubelet matches containers' claim requests by the top-level name. */
function baseRequest(request: string): string {
  const slash = request.indexOf('/');
  return slash < 0 ? request : request.slice(0, slash);
}

/** The claim as logs and errors name it; every part is the kubelet's input, so quoted and cut. */
function describe(claim: WireClaim): string {
  return `${echoValue(claim.namespace)}/${echoValue(claim.name)} (uid ${echoValue(claim.uid)})`;
}
