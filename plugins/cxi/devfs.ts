/**
 * Device nodes under the devfs root: a NIC is Healthy when `/dev/cxiN` is a character device that
 * opens read-only (the check upstream makes; an open the device cgroup refuses counts as Healthy, see
 * probeDeviceNode), and `/dev/xpmem` (cross-process memory) is handed out when present.
 */
import * as path from 'path';
import { HEALTHY, probeDeviceNode, type Health } from '../framework';

export const XPMEM_CONTAINER_PATH = '/dev/xpmem';

export interface NodeHealth {
  health: Health;
  /** Why the node is Unhealthy (for logs), starting with its path; absent when Healthy. */
  reason?: string;
  /** Healthy, but not fully checked (e.g. the device cgroup refused the open): log once. */
  note?: string;
}

export function isCharDevice(file: string): boolean {
  return probeDeviceNode(file).health === HEALTHY;
}

/** Present, a character device, and openable (non-blocking, read-only, closed at once). */
export function deviceNodeHealth(file: string): NodeHealth {
  const { health, reason, note } = probeDeviceNode(file, { open: 'read' });
  return { health, ...(reason ? { reason: `${file} ${reason}` } : {}), ...(note ? { note } : {}) };
}

/** `<devfs>/xpmem` when it is a character device, else undefined. */
export function xpmemHostPath(devfsRoot: string): string | undefined {
  const file = path.join(devfsRoot, 'xpmem');
  return isCharDevice(file) ? file : undefined;
}
