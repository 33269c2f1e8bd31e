/**
 * One devnode resource: every node its glob matches under the devfs root is a device (ID = the node's
 * path with `/` as `_`, or `<node>-<i>` when shared). Healthy when it is a char or block device; a node
 * that disappears leaves the list, a new one joins it, both within one inotify event.
 */
import {
  compileGlob,
  DeviceNodeResource,
  globWatchDirs,
  scanGlob,
  type KeyCollision,
  type NodeSet,
  type NodeSharing,
} from '../device-nodes';
import type { DeviceNodeProbeOptions, Logger } from '../framework';
import { renderContainerPath, type DevnodeResourceSpec } from './config';

/** The health check, at every scan and again at Allocate: a char or block device (not opened). */
const DEVNODE_PROBE: DeviceNodeProbeOptions = { kinds: ['char', 'block'] };

export function devnodeNodeSet(spec: DevnodeResourceSpec, log?: Logger): NodeSet {
  const glob = compileGlob(spec.glob);
  // Two paths with one ID: the first by path is served, the other hidden; said once per pair, not per scan.
  const warned = new Set<string>();
  const onCollision = ({ key, kept, hidden }: KeyCollision) => {
    const pair = JSON.stringify([kept, hidden]);
    if (warned.has(pair)) return;
    warned.add(pair);
    log?.warn('device node skipped: another node has the same device ID', {
      device: key,
      path: hidden,
      kept,
    });
  };
  return {
    scan: (devfsRoot) => scanGlob(devfsRoot, glob, DEVNODE_PROBE, onCollision),
    probe: DEVNODE_PROBE,
    // Every directory the glob looks into: the fixed ones down to the first wildcard (creating any of them
    // is seen at once) and each directory a wildcard segment matches (bus/usb/*/* hot-plug within a bus).
    watchDirs: (devfsRoot) => globWatchDirs(devfsRoot, glob),
    shareCount: spec.shareCount,
    indexIds: 'when-shared',
    vanished: 'drop',
    permissions: spec.permissions,
    containerPath: (rel) => renderContainerPath(spec.containerPath, rel),
    // DRA: which config entry a node came from, beside the engine's path, major, minor and resource.
    draAttributes: () => ({ glob: { string: spec.glob } }),
  };
}

export function createDevnodeResource(
  spec: DevnodeResourceSpec,
  devfsRoot: string,
  log: Logger,
  rescanMs?: number,
  sharing?: NodeSharing,
): DeviceNodeResource {
  return new DeviceNodeResource(
    { resourceName: spec.name, devfsRoot, log, rescanMs, sharing },
    devnodeNodeSet(spec, log),
  );
}
