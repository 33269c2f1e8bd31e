/**
 * Is a device node usable? It must exist, be the right kind of node, and (where the family asks for it,
 * e.g. KVM) open read-write. The open is closed at once in every path, so probing never leaks a file
 * descriptor; it is non-blocking so a slow driver cannot stall the event loop on open.
 */
import * as fs from 'fs';
import { HEALTHY, UNHEALTHY, type Health } from '../framework';

export type NodeKind = 'char' | 'block';

export interface ProbeOptions {
  /** Node kinds that count as the device (default: char only). */
  kinds?: NodeKind[];
  /** Also require that the node opens read-write (then closes it). */
  openReadWrite?: boolean;
}

export interface NodeProbe {
  health: Health;
  /** Why the node is Unhealthy, for the operator. */
  reason?: string;
  kind?: NodeKind;
  major?: number;
  minor?: number;
}

export function probeNode(file: string, options: ProbeOptions = {}): NodeProbe {
  const kinds = options.kinds ?? ['char'];
  let st: fs.BigIntStats | undefined;
  try {
    st = fs.statSync(file, { bigint: true, throwIfNoEntry: false });
  } catch (err) {
    return unhealthy(`cannot be examined: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`); // ELOOP, EACCES…
  }
  if (!st) {
    const dangling = fs.lstatSync(file, { throwIfNoEntry: false })?.isSymbolicLink();
    return unhealthy(dangling ? 'is a symlink to nothing' : 'does not exist');
  }
  const kind: NodeKind | undefined = st.isCharacterDevice()
    ? 'char'
    : st.isBlockDevice()
      ? 'block'
      : undefined;
  if (!kind || !kinds.includes(kind))
    return unhealthy(`is ${describe(st)}, not a ${kinds.join(' or ')} device node`);
  const numbers = deviceNumbers(st.rdev);
  if (options.openReadWrite) {
    const error = openError(file);
    if (error) return { ...unhealthy(`cannot be opened read-write: ${error}`), kind, ...numbers };
  }
  return { health: HEALTHY, kind, ...numbers };
}

function unhealthy(reason: string): NodeProbe {
  return { health: UNHEALTHY, reason };
}

/** Open read-write and close again; the error text when that fails. */
function openError(file: string): string | undefined {
  let fd: number | undefined;
  try {
    fd = fs.openSync(file, fs.constants.O_RDWR | fs.constants.O_NONBLOCK | fs.constants.O_NOCTTY);
    return undefined;
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    const text = e.code ? `${e.code} (${e.message.split(',')[0]})` : e.message;
    // In a container, EPERM on a device node is the device cgroup, not the device.
    return e.code === 'EPERM' ? `${text}; is the plugin container allowed to open it (privileged)?` : text;
  } finally {
    if (fd !== undefined) fs.closeSync(fd);
  }
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
