/**
 * The device-node engine the tdx, kvm and devnode families share. A family describes its nodes with a
 * NodeSet (how to find them, how many IDs each is shared as, what a container sees); the engine watches
 * the devfs directories with inotify, rescans on every change, turns nodes into the full device list,
 * logs every health transition, keeps an optional CDI spec in step, and answers Allocate.
 *
 * Host and container paths: a node found at `<devfs-root>/<rel>` is handed to the runtime with that
 * exact host path (the devfs root is assumed to be at the same path on the host, e.g. the host's /dev
 * mounted at /dev, or a fixture directory), and appears in the container at the family's container path
 * (by default the real `/dev/<rel>`).
 */
import * as fs from 'fs';
import * as path from 'path';
import {
  AllocationError,
  listIds,
  echoValue,
  buildCdiSpec,
  CdiSpecKeeper,
  GrpcStatus,
  isValidCdiDeviceName,
  mergeAllocations,
  probeDeviceNode,
  publishOnChange,
  qualifiedCdiName,
  sharedDevices,
  UNHEALTHY,
  watchDirs,
  type CdiSpec,
  type ContainerAllocation,
  type Device,
  type DraAttribute,
  type DraDeviceInfo,
  type DeviceListener,
  type DeviceNodeProbeOptions,
  type Health,
  type Logger,
  type ResourcePlugin,
  type Watch,
} from '../framework';

/** Safety net behind inotify (lost events, a devfs root that is itself replaced). */
export const DEFAULT_RESCAN_MS = 30_000;

/** One node of a resource as a scan found it. */
export interface NodeState {
  /** Path relative to the devfs root, e.g. `kvm` or `dri/renderD128`. */
  rel: string;
  health: Health;
  /** Why the node is Unhealthy (logged, never sent to the kubelet). */
  reason?: string;
  /** A Healthy node that was not fully checked (e.g. the device cgroup refused the open): logged once. */
  note?: string;
  /** `major:minor`, for logs. */
  devno?: string;
  /** The device numbers, when the node is a device (DRA attributes). */
  major?: number;
  minor?: number;
}

/** A node handed to a container: where it is on the host and where the container sees it. */
export interface AllocatedNode {
  key: string;
  rel: string;
  hostPath: string;
  containerPath: string;
}

export interface NodeSet {
  /** The resource's nodes right now, by key (the device-ID base). Called after every change. */
  scan(devfsRoot: string): Map<string, NodeState>;
  /**
   * The probe options the scan uses for a node (kinds, open); Allocate re-checks the nodes it hands out
   * with the same options (a stat, and an open only where these ask for one). Default: the framework's.
   */
  probe?: DeviceNodeProbeOptions;
  /**
   * Directories, relative to the devfs root ('' = the root), whose entries can change the scan; a function
   * when they depend on what is there (asked before every scan).
   */
  watchDirs: string[] | ((devfsRoot: string) => string[]);
  /** How many interchangeable IDs each node is advertised as (≥ 1). */
  shareCount: number;
  /**
   * `always`: IDs are `<key>-<i>` even when shareCount is 1 (tdx-guest-0…); `when-shared`: a node that is
   * not shared is advertised under its plain key (crand0).
   */
  indexIds: 'always' | 'when-shared';
  /** A node that disappears stays listed as Unhealthy (`unhealthy`) or leaves the list (`drop`). */
  vanished: 'unhealthy' | 'drop';
  /** cgroup permissions of the device in the container: r, w and/or m. */
  permissions: string;
  /** Where the container sees a node; default `/dev/<rel>`. */
  containerPath?(rel: string): string;
  /** Extra parts of every allocation (mounts, envs); may throw AllocationError. */
  extras?(nodes: AllocatedNode[]): ContainerAllocation;
  /**
   * DRA mode: the family's own attributes of a node (TDX interface and version, devnode's glob…),
   * beside the engine's `path`, `major`, `minor` and `resource`. Cheap and pure.
   */
  draAttributes?(node: NodeState): Record<string, DraAttribute>;
}

/**
 * How a node shared by several containers (`shareCount` > 1) is offered:
 * - `ids`: as `shareCount` interchangeable device IDs (`kvm-0…`), what the kubelet's device manager needs;
 * - `allocations`: as ONE device (ID = the key) that many DRA claims may hold at once
 *   (`allowMultipleAllocations`). DRA mode; the share count is then not a limit (DRA has none here).
 */
export type NodeSharing = 'ids' | 'allocations';

export interface DeviceNodeResourceOptions {
  resourceName: string;
  devfsRoot: string;
  log: Logger;
  /** Write a CDI spec (kind = `cdi.kind`) with one CDI device per node, and name them in allocations. */
  cdi?: { dir: string; kind: string };
  rescanMs?: number;
  /** Default `ids`; see NodeSharing. */
  sharing?: NodeSharing;
}

const MAX_ID_LENGTH = 63;

export function defaultContainerPath(rel: string): string {
  return `/dev/${rel}`;
}

export class DeviceNodeResource implements ResourcePlugin {
  readonly resourceName: string;
  private readonly log: Logger;
  private nodes = new Map<string, NodeState>();
  private idToKey = new Map<string, string>();
  private publish?: (devices: Device[]) => boolean;
  private watch?: Watch;
  private watchKey = '';
  private readonly cdiKeeper?: CdiSpecKeeper;
  private readonly rejectedKeys = new Set<string>();
  /** Nodes (by path below the devfs root) whose note has been logged. */
  private readonly notedNodes = new Set<string>();
  private started = false;

  constructor(
    private readonly options: DeviceNodeResourceOptions,
    private set: NodeSet,
  ) {
    this.resourceName = options.resourceName;
    this.log = options.log;
    if (options.cdi)
      this.cdiKeeper = new CdiSpecKeeper({ ...options.cdi, log: options.log, pollMs: options.rescanMs });
  }

  /** Why allocations are refused right now (the CDI spec cannot be written), for /readyz. */
  unreadyReason(): string | undefined {
    const problem = this.cdiKeeper?.problem();
    return problem && `CDI spec ${this.cdiKeeper?.file} cannot be written: ${problem}`;
  }

  /** First scan (CDI problems are fatal here, logged later), then watch. */
  start(publish: DeviceListener): void {
    this.publish = publishOnChange(publish);
    this.started = true;
    this.refresh(true);
  }

  stop(): void {
    this.started = false;
    this.cdiKeeper?.close();
    this.watch?.close();
    this.watch = undefined;
    this.watchKey = '';
  }

  /** Switch to a new description (config reload) without re-registering. */
  reconfigure(set: NodeSet): void {
    this.set = set;
    if (this.started) this.refresh();
  }

  /** Rescan and publish the full list when it changed. Runs after every watched change. */
  refresh(strict = false): void {
    if (!this.started) return;
    let found: Map<string, NodeState>;
    try {
      this.ensureWatch(); // before scanning, so no change between scan and watch is lost
      found = this.set.scan(this.options.devfsRoot);
    } catch (err) {
      // A scan (and the watch, which may read the devfs too) runs from a watch callback: throwing there
      // would end the process.
      if (strict) throw err;
      this.log.error('device scan failed; keeping the last list', { error: err as Error });
      return;
    }
    const next = this.validKeys(found);
    if (this.set.vanished === 'unhealthy') {
      for (const [key, old] of this.nodes)
        if (!next.has(key)) next.set(key, { rel: old.rel, health: UNHEALTHY, reason: 'is gone' });
    }
    this.logTransitions(this.nodes, next);
    this.nodes = next;
    this.syncCdi(strict);
    const { devices, idToKey } = this.listDevices();
    this.idToKey = idToKey;
    this.publish?.(devices);
  }

  /** True when IDs carry an index suffix (`<key>-<i>`). */
  private indexed(): boolean {
    if (this.options.sharing === 'allocations') return false;
    return this.set.shareCount > 1 || this.set.indexIds === 'always';
  }

  /**
   * DRA mode: what a user's CEL selector can match on (`device.attributes["<driver>"].path` …): the
   * path the container sees, the device numbers, the resource name, and the family's own attributes.
   */
  draAttributes(device: Device): DraDeviceInfo {
    const key = this.idToKey.get(device.id);
    const node = key === undefined ? undefined : this.nodes.get(key);
    if (!node) return {};
    const attributes: Record<string, DraAttribute> = {
      path: { string: this.containerPath(node.rel) },
      resource: { string: this.resourceName },
      ...(node.major !== undefined ? { major: { int: node.major } } : {}),
      ...(node.minor !== undefined ? { minor: { int: node.minor } } : {}),
      ...this.set.draAttributes?.(node),
    };
    const shared = this.options.sharing === 'allocations' && this.set.shareCount > 1;
    return { attributes, ...(shared ? { allowMultipleAllocations: true } : {}) };
  }

  /** The full list, in key order, and which node each ID stands for. */
  private listDevices(): { devices: Device[]; idToKey: Map<string, string> } {
    const devices: Device[] = [];
    const idToKey = new Map<string, string>();
    for (const key of [...this.nodes.keys()].sort()) {
      const { health } = this.nodes.get(key) as NodeState;
      const ids = this.indexed() ? sharedDevices(key, this.set.shareCount, health) : [{ id: key, health }];
      for (const device of ids) {
        devices.push(device);
        idToKey.set(device.id, key);
      }
    }
    return { devices, idToKey };
  }

  /** Keys that would make IDs the kubelet or a CDI runtime cannot use are left out, with one warning. */
  private validKeys(found: Map<string, NodeState>): Map<string, NodeState> {
    const suffix = this.indexed() ? 1 + String(this.set.shareCount - 1).length : 0;
    const valid = new Map<string, NodeState>();
    for (const [key, node] of found) {
      // A key is the CDI device name as well as the base of the device IDs.
      const problem = !isValidCdiDeviceName(key)
        ? 'has characters other than letters, digits, "-", "_", ".", ":"'
        : key.length + suffix > MAX_ID_LENGTH
          ? `would make device IDs longer than ${MAX_ID_LENGTH} characters`
          : undefined;
      if (!problem) {
        valid.set(key, node);
        continue;
      }
      if (!this.rejectedKeys.has(key))
        this.log.warn('device node skipped: its name cannot be a device ID', {
          device: key,
          path: node.rel,
          problem,
        });
      this.rejectedKeys.add(key);
    }
    return valid;
  }

  private ensureWatch(): void {
    const { devfsRoot } = this.options;
    const rels =
      typeof this.set.watchDirs === 'function' ? this.set.watchDirs(devfsRoot) : this.set.watchDirs;
    const dirs = [...new Set(rels)].map((rel) => path.join(devfsRoot, rel));
    // Re-create the watch whenever a watched directory appeared, vanished or was replaced (removed and made
    // again between two scans: its inotify watch died with the old inode, and nothing else would say so).
    const key = JSON.stringify(dirs.map((d) => [d, dirIdentity(d)]));
    if (key === this.watchKey) return;
    this.watch?.close();
    this.watchKey = key;
    this.watch = watchDirs({
      dirs,
      onChange: () => this.refresh(),
      pollMs: this.options.rescanMs ?? DEFAULT_RESCAN_MS,
      debounceMs: 2,
      log: this.log,
    });
  }

  private logTransitions(before: Map<string, NodeState>, after: Map<string, NodeState>): void {
    for (const [key, node] of after) {
      const old = before.get(key);
      const fields = { device: key, path: path.join(this.options.devfsRoot, node.rel), devno: node.devno };
      if (!old) {
        if (node.health === 'Healthy') this.log.info('device node found', fields);
        else this.log.warn('device node found but unusable', { ...fields, reason: node.reason });
      } else if (old.rel !== node.rel) {
        this.log.info('device node now found at another path', {
          ...fields,
          before: old.rel,
          health: node.health,
        });
      } else if (old.health !== node.health || old.reason !== node.reason) {
        if (node.health === 'Healthy') this.log.info('device node healthy again', fields);
        else this.log.warn('device node unhealthy', { ...fields, reason: node.reason });
      }
      if (node.note && !this.notedNodes.has(node.rel)) {
        this.notedNodes.add(node.rel);
        this.log.info('device node healthy without being opened', { ...fields, note: node.note });
      }
    }
    for (const [key, old] of before) {
      if (!after.has(key))
        this.log.warn('device node removed', {
          device: key,
          path: path.join(this.options.devfsRoot, old.rel),
        });
    }
  }

  private containerPath(rel: string): string {
    return this.set.containerPath?.(rel) ?? defaultContainerPath(rel);
  }

  private allocatedNode(key: string): AllocatedNode {
    const node = this.nodes.get(key) as NodeState;
    return {
      key,
      rel: node.rel,
      hostPath: path.join(this.options.devfsRoot, node.rel),
      containerPath: this.containerPath(node.rel),
    };
  }

  allocate(deviceIds: string[]): ContainerAllocation {
    const keys = [...new Set(deviceIds.map((id) => this.keyFor(id)))];
    const gone = keys.filter((key) => this.nodes.get(key)?.health !== 'Healthy');
    if (gone.length)
      throw new AllocationError(
        `device node(s) ${listIds(gone)} of ${this.resourceName} became unusable; retry`,
        GrpcStatus.FAILED_PRECONDITION,
      );
    const nodes = keys.map((key) => this.allocatedNode(key));
    this.assertNodesUsable(deviceIds, nodes);
    assertDistinctContainerPaths(nodes);
    const base: ContainerAllocation = {
      devices: nodes.map((n) => ({
        containerPath: n.containerPath,
        hostPath: n.hostPath,
        permissions: this.set.permissions,
      })),
    };
    if (this.options.cdi) {
      this.cdiKeeper?.assertWritten();
      base.cdiDevices = keys.map((key) => qualifiedCdiName((this.options.cdi as { kind: string }).kind, key));
    }
    return mergeAllocations(base, this.set.extras?.(nodes) ?? {});
  }

  /**
   * The kubelet offered these IDs from the last scan; a node removed or broken since (in the moment before
   * the watch's rescan, or behind a symlink into a directory nobody watches) would otherwise be handed out
   * and fail later, in the runtime, with a vaguer message. Re-probe each node as the scan does, and on a
   * problem rescan (so the kubelet stops offering it) and fail naming the IDs, the path and why.
   */
  private assertNodesUsable(deviceIds: string[], nodes: AllocatedNode[]): void {
    const problems: string[] = [];
    for (const node of nodes) {
      const probe = probeDeviceNode(node.hostPath, this.set.probe ?? {});
      if (probe.health === 'Healthy') continue;
      const ids = deviceIds.filter((id) => this.idToKey.get(id) === node.key);
      problems.push(
        `device ${listIds([...new Set(ids)])}: ${node.hostPath} ${probe.reason ?? 'is unusable'}`,
      );
    }
    if (!problems.length) return;
    this.log.warn('allocation refused: a device node is not usable any more; rescanning', { problems });
    this.refresh();
    throw new AllocationError(
      `${this.resourceName}: ${problems.join('; ')}; it is no longer offered, retry`,
      GrpcStatus.FAILED_PRECONDITION,
    );
  }

  private keyFor(id: string): string {
    const key = this.idToKey.get(id);
    if (key === undefined)
      throw new AllocationError(
        `unknown device ID ${echoValue(id)} for ${this.resourceName}`,
        GrpcStatus.INVALID_ARGUMENT,
      );
    return key;
  }

  /** The CDI spec for the current nodes (undefined when there are none: a spec needs a device). */
  cdiSpec(): CdiSpec | undefined {
    const cdi = this.options.cdi;
    if (!cdi || this.nodes.size === 0) return undefined;
    return buildCdiSpec({
      kind: cdi.kind,
      devices: [...this.nodes.keys()].sort().map((key) => {
        const node = this.allocatedNode(key);
        return {
          name: key,
          containerEdits: {
            deviceNodes: [
              { path: node.containerPath, hostPath: node.hostPath, permissions: this.set.permissions },
            ],
          },
        };
      }),
    });
  }

  /**
   * Hand the current spec to the keeper, which writes it and keeps it written (retrying a full or
   * read-only dir, rewriting a deleted file). Only an invalid spec throws; at start that is fatal.
   */
  private syncCdi(strict: boolean): void {
    try {
      this.cdiKeeper?.set(this.cdiSpec());
    } catch (err) {
      if (strict) throw err;
      this.log.error('the CDI spec is invalid; not written', { error: err as Error });
    }
  }
}

/**
 * `dev:ino:birth` of a directory (following links), or null when there is none to watch. The birth time
 * tells a re-made directory from the old one where the file system reuses the inode number (ext4 does).
 */
function dirIdentity(dir: string): string | null {
  try {
    const st = fs.statSync(dir, { throwIfNoEntry: false });
    return st?.isDirectory() ? `${st.dev}:${st.ino}:${st.birthtimeMs}` : null;
  } catch {
    return null; // ENOTDIR, ELOOP, EACCES…: nothing we can watch
  }
}

/** Two nodes at one container path would silently shadow each other: refuse, naming them. */
function assertDistinctContainerPaths(nodes: AllocatedNode[]): void {
  const seen = new Map<string, string>();
  for (const node of nodes) {
    const other = seen.get(node.containerPath);
    if (other !== undefined)
      throw new AllocationError(
        `device nodes ${other} and ${node.key} would both appear at ${node.containerPath} in the container; ` +
          'make the container path template distinguish them (e.g. /dev/{name})',
        GrpcStatus.INVALID_ARGUMENT,
      );
    seen.set(node.containerPath, node.key);
  }
}
