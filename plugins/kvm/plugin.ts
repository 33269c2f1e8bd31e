/**
 * KVM: `<devfs-root>/kvm` shared as `--shared-count` interchangeable IDs (kvm-0 … kvm-<N-1>). Healthy when
 * the node exists, is a char device and opens read-write (closed again at once), re-checked on every
 * inotify event in the devfs root. With CDI on, a spec of kind `<resource name>` with one device `kvm` is
 * kept in the CDI dir and allocations name it fully qualified (`github.com.ihcsim/kvm=kvm`).
 * In DRA mode the node is one device, `kvm`, that many claims may hold at once; a claim's CDI spec is
 * written by the DRA driver, so the family's own spec is off there.
 */
import { DeviceNodeResource, nodeState, type NodeSet, type NodeSharing } from '../device-nodes';
import type { DeviceNodeProbeOptions, Logger } from '../framework';

export const DEFAULT_KVM_RESOURCE = 'github.com.ihcsim/kvm';
/** The node, relative to the devfs root; also its CDI device name and the ID base. */
export const KVM_NODE = 'kvm';

export interface KvmOptions {
  resourceName: string;
  devfsRoot: string;
  shareCount: number;
  /** CDI spec directory; no CDI when undefined. */
  cdiDir?: string;
  log: Logger;
  rescanMs?: number;
  /** `allocations` in DRA mode: one device `kvm` that many claims hold at once. */
  sharing?: NodeSharing;
}

/** The health check, at every scan and again at Allocate: a char device that opens read-write. */
const KVM_PROBE: DeviceNodeProbeOptions = { open: 'read-write' };

export function kvmNodeSet(shareCount: number): NodeSet {
  return {
    // Always reported, so a missing /dev/kvm shows as Unhealthy IDs rather than no KVM at all.
    scan: (devfsRoot) => new Map([[KVM_NODE, nodeState(devfsRoot, KVM_NODE, KVM_PROBE)]]),
    probe: KVM_PROBE,
    watchDirs: [''],
    shareCount,
    indexIds: 'always',
    vanished: 'unhealthy',
    permissions: 'rw',
  };
}

export function createKvmResource(options: KvmOptions): DeviceNodeResource {
  return new DeviceNodeResource(
    {
      resourceName: options.resourceName,
      devfsRoot: options.devfsRoot,
      log: options.log,
      rescanMs: options.rescanMs,
      sharing: options.sharing,
      // The resource name is a valid CDI kind: a DNS-subdomain vendor and a short class name.
      cdi: options.cdiDir ? { dir: options.cdiDir, kind: options.resourceName } : undefined,
    },
    kvmNodeSet(options.shareCount),
  );
}
