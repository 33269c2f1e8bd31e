/**
 * Is a device node usable? It must exist and be the right kind of node and, where the family asks for it,
 * open (read-only or read-write). The open is non-blocking (a slow driver cannot stall the event loop) and
 * never makes the node a controlling terminal; it is closed at once in every path, so probing never leaks a
 * file descriptor.
 *
 * An open refused with EPERM is the container's device cgroup, not the device: an unprivileged plugin pod
 * may not open device nodes, while the kubelet grants access to the pods that are given the device. Such a
 * node is Healthy, with a `note` saying that only its existence and type were checked (log it once per node,
 * not on every scan). Every other open error (ENXIO, ENODEV, EACCES, EIO…) makes it Unhealthy.
 */
import * as fs from 'fs';
import { HEALTHY, UNHEALTHY, type Health } from './types';

export type DeviceNodeKind = 'char' | 'block';

export interface DeviceNodeProbeOptions {
  /** Node kinds that count as the device (default: char only). */
  kinds?: DeviceNodeKind[];
  /** Also require that the node opens, read-only or read-write (then close it). Default: no open. */
  open?: 'read' | 'read-write';
}

export interface DeviceNodeProbe {
  health: Health;
  /** Why the node is Unhealthy, for the operator. */
  reason?: string;
  /** A Healthy node that was not fully checked, and why (log once per node). */
  note?: string;
  kind?: DeviceNodeKind;
  major?: number;
  minor?: number;
}

/** The note of a node whose open the device cgroup refused. */
export const DEVICE_CGROUP_NOTE = 'device cgroup forbids opening it here; checked existence and type only';

export function probeDeviceNode(file: string, options: DeviceNodeProbeOptions = {}): DeviceNodeProbe {
  const kinds = options.kinds ?? ['char'];
  let st: fs.BigIntStats | undefined;
  try {
    st = fs.statSync(file, { bigint: true, throwIfNoEntry: false });
  } catch (err) {
    return unhealthy(`cannot be examined: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`); // ELOOP, EACCES…
  }
  if (!st) {
    let dangling = false;
    try {
      dangling = fs.lstatSync(file, { throwIfNoEntry: false })?.isSymbolicLink() === true;
    } catch {
      // gone or unreadable between the two calls: "does not exist" is the truth a moment ago
    }
    return unhealthy(dangling ? 'is a symlink to nothing' : 'does not exist');
  }
  const kind: DeviceNodeKind | undefined = st.isCharacterDevice()
    ? 'char'
    : st.isBlockDevice()
      ? 'block'
      : undefined;
  if (!kind || !kinds.includes(kind))
    return unhealthy(`is ${describe(st)}, not a ${kinds.join(' or ')} device node`);
  const numbers = deviceNumbers(st.rdev);
  if (options.open) {
    const error = openError(file, options.open);
    if (error?.code === 'EPERM') return { health: HEALTHY, note: DEVICE_CGROUP_NOTE, kind, ...numbers };
    if (error) {
      const mode = options.open === 'read' ? 'read-only' : 'read-write';
      return { ...unhealthy(`cannot be opened ${mode}: ${error.text}`), kind, ...numbers };
    }
  }
  return { health: HEALTHY, kind, ...numbers };
}

function unhealthy(reason: string): DeviceNodeProbe {
  return { health: UNHEALTHY, reason };
}

/** Open and close again; the error when the open fails. */
function openError(file: string, mode: 'read' | 'read-write'): { code?: string; text: string } | undefined {
  const access = mode === 'read' ? fs.constants.O_RDONLY : fs.constants.O_RDWR;
  let fd: number;
  try {
    fd = fs.openSync(file, access | fs.constants.O_NONBLOCK | fs.constants.O_NOCTTY);
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    // "ENXIO: no such device or address, open '/dev/x'" → "ENXIO (no such device or address)"
    const what = e.message.split(',')[0].replace(`${e.code}: `, '');
    return { code: e.code, text: e.code ? `${e.code} (${what})` : e.message };
  }
  try {
    fs.closeSync(fd);
  } catch {
    // Linux releases the descriptor even when close reports an error: nothing leaks, nothing to report.
  }
  return undefined;
}

function describe(st: fs.BigIntStats): string {
  if (st.isCharacterDevice()) return 'a char device';
  if (st.isBlockDevice()) return 'a block device';
  if (st.isDirectory()) return 'a directory';
  if (st.isFIFO()) return 'a FIFO';
  if (st.isSocket()) return 'a socket';
  return 'a regular file';
}

/** Linux dev_t encoding (glibc's gnu_dev_major / gnu_dev_minor). */
export function deviceNumbers(rdev: bigint): { major: number; minor: number } {
  const major = ((rdev >> 8n) & 0xfffn) | ((rdev >> 32n) & ~0xfffn);
  const minor = (rdev & 0xffn) | ((rdev >> 12n) & ~0xffn);
  return { major: Number(major), minor: Number(minor) };
}
