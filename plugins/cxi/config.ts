/**
 * The CXI flags (each also an env var, as upstream) and their validation: a value that is not a
 * positive integer, a bad duration, or a root directory that does not exist stops the start with a
 * UsageError (exit 2) naming the flag, its env var and the value, never a silent default.
 */
import * as fs from 'fs';
import { resourceNameErrors, UsageError, type FlagSpec } from '../framework';

export const DEFAULT_RESOURCE_NAME = 'beta.hpe.com/cxi';

export const OFI_ROOT_FLAG: FlagSpec = {
  name: 'ofi-root',
  env: 'OFI_ROOT',
  type: 'string',
  default: '/opt/cray/lib64',
  help: 'directory whose libfabric* files are mounted read-only into containers',
};

export const CXI_ROOT_FLAG: FlagSpec = {
  name: 'cxi-root',
  env: 'CXI_ROOT',
  type: 'string',
  default: '/usr/lib64',
  help: 'directory whose libcxi* files are mounted read-only into containers',
};

export const CXI_FLAGS: FlagSpec[] = [
  {
    name: 'resource-name',
    env: 'CXI_RESOURCE_NAME',
    type: 'string',
    default: DEFAULT_RESOURCE_NAME,
    help: 'extended resource name the NICs are offered as',
  },
  {
    name: 'rescan-interval',
    env: 'RESCAN_INTERVAL',
    type: 'duration',
    default: '30s',
    help: 'how often sysfs is scanned again for NICs added or removed (devfs changes also trigger it)',
  },
  {
    name: 'health-interval',
    env: 'HEALTH_INTERVAL',
    type: 'duration',
    default: '10s',
    help: 'how often every /dev/cxiN is checked (present and openable)',
  },
  {
    name: 'cdi',
    env: 'CXI_CDI',
    type: 'bool',
    default: false,
    help: 'answer Allocate with hpe.com/cxi=<N> CDI names from the spec cxi-cdi-generator wrote to --cdi-dir',
  },
  {
    name: 'virtual-devices',
    env: 'CXI_VIRTUAL_DEVICES',
    type: 'int',
    min: 1,
    max: 1000,
    default: 1,
    help: 'device IDs per NIC, so that many pods can share one NIC (IDs N-0 … N-(k-1) when above 1)',
  },
  OFI_ROOT_FLAG,
  CXI_ROOT_FLAG,
];

/** `--flag (ENV)`, how errors name a setting. */
function describeFlag(name: string, env: string): string {
  return `--${name} (${env})`;
}

/** A root the plugin reads must exist and be a directory. */
export function requireDirectory(dir: string, name: string, env: string): void {
  const stat = fs.statSync(dir, { throwIfNoEntry: false });
  if (!stat) throw new UsageError(`${describeFlag(name, env)}: ${dir} does not exist`);
  if (!stat.isDirectory()) throw new UsageError(`${describeFlag(name, env)}: ${dir} is not a directory`);
}

export function requireResourceName(name: string): void {
  const errors = resourceNameErrors(name);
  if (errors.length) throw new UsageError(`--resource-name (CXI_RESOURCE_NAME): ${errors.join('; ')}`);
}
