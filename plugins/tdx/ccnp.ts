/**
 * What a TDX workload needs besides the device node: the CCNP socket directory (shared between the CCNP
 * service pods and workloads) and, on kernels with configfs-tsm, the TDX quote report directory.
 */
import * as fs from 'fs';
import * as path from 'path';
import { AllocationError, GrpcStatus, type ContainerAllocation, type Logger } from '../framework';
import { TDX_DEFAULT_UDS_DIR } from '../catalogue/tdx';

export const DEFAULT_UDS_DIR = TDX_DEFAULT_UDS_DIR;
/** Where containers find the CCNP sockets, whatever --uds-dir is on the host. */
export const UDS_CONTAINER_PATH = '/run/ccnp/uds';
/** World-writable (so any pod's CCNP client can create its socket) without the sticky bit, as upstream. */
export const UDS_DIR_MODE = 0o757;
/** configfs-tsm report directory, relative to the sysfs root, and where containers see it. */
export const TSM_REPORT_REL = 'kernel/config/tsm/report';
export const TSM_REPORT_CONTAINER_PATH = '/sys/kernel/config/tsm/report';

/** Create the socket directory with mode 0757 when it is missing; true when it was created. */
export function ensureUdsDir(dir: string): boolean {
  const st = fs.statSync(dir, { throwIfNoEntry: false });
  if (st) {
    if (!st.isDirectory()) throw new Error(`${dir} exists but is not a directory`);
    return false;
  }
  fs.mkdirSync(dir, { recursive: true });
  fs.chmodSync(dir, UDS_DIR_MODE); // mkdir's mode is narrowed by the umask
  return true;
}

/** The read-write mount of the socket directory, re-creating the directory if something removed it. */
export function udsAllocation(udsDir: string, log: Logger): ContainerAllocation {
  try {
    if (ensureUdsDir(udsDir))
      log.warn('CCNP socket directory was missing; created it again', { dir: udsDir });
  } catch (err) {
    throw new AllocationError(
      `cannot prepare the CCNP socket directory: ${(err as Error).message}`,
      GrpcStatus.FAILED_PRECONDITION,
    );
  }
  return { mounts: [{ hostPath: udsDir, containerPath: UDS_CONTAINER_PATH, readOnly: false }] };
}

export function tsmReportDir(sysfsRoot: string): string {
  return path.join(sysfsRoot, TSM_REPORT_REL);
}

/** The read-write mount of the configfs-tsm report directory; refused clearly when the kernel lacks it. */
export function tsmAllocation(sysfsRoot: string): ContainerAllocation {
  const dir = tsmReportDir(sysfsRoot);
  if (!fs.statSync(dir, { throwIfNoEntry: false })?.isDirectory())
    throw new AllocationError(
      `--tsm-report is on but ${dir} does not exist (kernel without configfs-tsm, or configfs not mounted)`,
      GrpcStatus.FAILED_PRECONDITION,
    );
  return { mounts: [{ hostPath: dir, containerPath: TSM_REPORT_CONTAINER_PATH, readOnly: false }] };
}
