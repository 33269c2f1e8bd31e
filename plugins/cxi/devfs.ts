/**
 * Device nodes under the devfs root: a NIC is Healthy when `/dev/cxiN` is a character device that
 * opens (the check upstream makes), and `/dev/xpmem` (cross-process memory) is handed out when present.
 */
import * as fs from 'fs';
import * as path from 'path';
import { HEALTHY, UNHEALTHY, type Health } from '../framework';

export const XPMEM_CONTAINER_PATH = '/dev/xpmem';

export interface NodeHealth {
  health: Health;
  /** Why the node is Unhealthy (for logs); absent when Healthy. */
  reason?: string;
}

export function isCharDevice(file: string): boolean {
  return fs.statSync(file, { throwIfNoEntry: false })?.isCharacterDevice() === true;
}

/** Present, a character device, and openable (non-blocking, read-only, closed at once). */
export function deviceNodeHealth(file: string): NodeHealth {
  const stat = fs.statSync(file, { throwIfNoEntry: false });
  if (!stat) return { health: UNHEALTHY, reason: `${file} is missing` };
  if (!stat.isCharacterDevice()) return { health: UNHEALTHY, reason: `${file} is not a character device` };
  try {
    fs.closeSync(fs.openSync(file, fs.constants.O_RDONLY | fs.constants.O_NONBLOCK));
    return { health: HEALTHY };
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? (err as Error).message;
    return { health: UNHEALTHY, reason: `${file} cannot be opened (${code})` };
  }
}

/** `<devfs>/xpmem` when it is a character device, else undefined. */
export function xpmemHostPath(devfsRoot: string): string | undefined {
  const file = path.join(devfsRoot, 'xpmem');
  return isCharDevice(file) ? file : undefined;
}
