/**
 * TDX guest (replaces Intel's CCNP device plugin). The guest device is `<devfs-root>/tdx_guest` (TDX 1.5,
 * the mainline name) or `<devfs-root>/tdx-guest` (TDX 1.0), preferred in that order; `tdx-attest` alone is
 * the deprecated interface and is refused. The node is shared as `--shared-count` IDs tdx-guest-0 … and
 * is watched: gone → every ID Unhealthy, back → Healthy. No node yet → no IDs until it appears.
 */
import * as fs from 'fs';
import * as path from 'path';
import {
  DeviceNodeResource,
  nodeState,
  type NodeSet,
  type NodeSharing,
  type NodeState,
} from '../device-nodes';
import {
  HEALTHY,
  mergeAllocations,
  sharedDevices,
  type ContainerAllocation,
  type DeviceListener,
  type DeviceNodeProbeOptions,
  type DraDeviceInfo,
  type Logger,
  type ResourcePlugin,
} from '../framework';
import { tsmAllocation, udsAllocation, UDS_CONTAINER_PATH } from './ccnp';

export const DEFAULT_TDX_RESOURCE = 'tdx.intel.com/tdx-guest';
/** Guest device names, in order of preference. */
export const TDX_NODES = ['tdx_guest', 'tdx-guest'];
export const DEPRECATED_TDX_NODE = 'tdx-attest';
/** ID base: tdx-guest-0 … whichever node name the kernel uses. */
export const TDX_KEY = 'tdx-guest';
/** The TDX module version each guest interface belongs to (semver, for DRA `version` attributes). */
export const TDX_INTERFACE_VERSIONS: Record<string, string> = { tdx_guest: '1.5.0', 'tdx-guest': '1.0.0' };

export interface TdxOptions {
  resourceName: string;
  devfsRoot: string;
  sysfsRoot: string;
  shareCount: number;
  udsDir: string;
  /** Mount the socket dir with the device (false when it is offered as its own resource). */
  mountUds: boolean;
  tsmReport: boolean;
  log: Logger;
  rescanMs?: number;
  /** `allocations` in DRA mode: one device `tdx-guest` that many claims hold at once. */
  sharing?: NodeSharing;
}

/**
 * The guest device node under the devfs root (relative name), if any: the first name in order of
 * preference that is a char device; failing that, the first that exists at all (a dangling link, a
 * regular file…), so it is reported Unhealthy with the reason. A broken `tdx_guest` entry therefore
 * never hides a working `tdx-guest` node.
 */
export function findTdxNode(devfsRoot: string): string | undefined {
  const isChar = (name: string) => {
    try {
      return fs.statSync(path.join(devfsRoot, name), { throwIfNoEntry: false })?.isCharacterDevice() === true;
    } catch {
      return false; // ELOOP, EACCES…: not usable
    }
  };
  const exists = (name: string) => fs.lstatSync(path.join(devfsRoot, name), { throwIfNoEntry: false });
  return TDX_NODES.find(isChar) ?? TDX_NODES.find(exists);
}

/** True when only the deprecated tdx-attest interface is there. */
export function onlyDeprecatedNode(devfsRoot: string): boolean {
  return !findTdxNode(devfsRoot) && fs.existsSync(path.join(devfsRoot, DEPRECATED_TDX_NODE));
}

/** The health check, at every scan and again at Allocate: a char device (not opened). */
const TDX_PROBE: DeviceNodeProbeOptions = {};

export function tdxNodeSet(options: TdxOptions): NodeSet {
  let warnedDeprecated = false;
  const scan = (devfsRoot: string): Map<string, NodeState> => {
    const node = findTdxNode(devfsRoot);
    if (node) return new Map([[TDX_KEY, nodeState(devfsRoot, node, TDX_PROBE)]]);
    if (onlyDeprecatedNode(devfsRoot) && !warnedDeprecated) {
      warnedDeprecated = true;
      options.log.error('only the deprecated TDX interface is present; it is not supported', {
        path: path.join(devfsRoot, DEPRECATED_TDX_NODE),
      });
    }
    return new Map();
  };
  return {
    scan,
    probe: TDX_PROBE,
    watchDirs: [''],
    shareCount: options.shareCount,
    indexIds: 'always',
    vanished: 'unhealthy',
    permissions: 'rw',
    // CEL: device.attributes["tdx.kube-device-plugins.io"].interface == "tdx_guest", or .version >= semver("1.5.0").
    draAttributes: (node) => ({
      interface: { string: node.rel },
      ...(TDX_INTERFACE_VERSIONS[node.rel] ? { version: { version: TDX_INTERFACE_VERSIONS[node.rel] } } : {}),
    }),
    extras: () =>
      mergeAllocations(
        options.mountUds ? udsAllocation(options.udsDir, options.log) : {},
        options.tsmReport ? tsmAllocation(options.sysfsRoot) : {},
      ),
  };
}

export function createTdxResource(options: TdxOptions): DeviceNodeResource {
  return new DeviceNodeResource(
    {
      resourceName: options.resourceName,
      devfsRoot: options.devfsRoot,
      log: options.log,
      rescanMs: options.rescanMs,
      sharing: options.sharing,
    },
    tdxNodeSet(options),
  );
}

/**
 * The CCNP socket directory as a resource of its own (--uds-resource-name): `<short name>-<i>` IDs,
 * always Healthy (the plugin creates the directory), each allocation a read-write mount of it.
 */
export class UdsResource implements ResourcePlugin {
  constructor(
    readonly resourceName: string,
    private readonly udsDir: string,
    private readonly shareCount: number,
    private readonly log: Logger,
    /** `allocations` (DRA mode): one device, `<short name>`, that many claims hold at once. */
    private readonly sharing: NodeSharing = 'ids',
  ) {}

  start(publish: DeviceListener): void {
    const base = this.resourceName.slice(this.resourceName.indexOf('/') + 1);
    publish(
      this.sharing === 'allocations'
        ? [{ id: base, health: HEALTHY }]
        : sharedDevices(base, this.shareCount, HEALTHY),
    );
  }

  draAttributes(): DraDeviceInfo {
    return {
      attributes: { path: { string: UDS_CONTAINER_PATH }, resource: { string: this.resourceName } },
      ...(this.sharing === 'allocations' && this.shareCount > 1 ? { allowMultipleAllocations: true } : {}),
    };
  }

  stop(): void {}

  allocate(): ContainerAllocation {
    return udsAllocation(this.udsDir, this.log);
  }
}
