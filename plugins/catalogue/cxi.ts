/**
 * The CXI family's settings (`kube-device-plugins cxi` and `cxi-cdi-generator`): one declaration each, from
 * which come the flags and their types, --help, the README table, the chart's `cxi.*` values (values.yaml,
 * values.schema.json) and the CXI DaemonSet's args.
 */
import type { FlagSpec } from './setting';

export const CXI_OFI_ROOT = {
  name: 'ofi-root',
  env: 'OFI_ROOT',
  type: 'string',
  default: '/opt/cray/lib64',
  help: 'directory whose libfabric* files are mounted read-only into containers',
  chart: { key: 'ofiRoot', help: 'Host directory of libfabric', format: 'absolutePath' },
} as const satisfies FlagSpec;

export const CXI_CXI_ROOT = {
  name: 'cxi-root',
  env: 'CXI_ROOT',
  type: 'string',
  default: '/usr/lib64',
  help: 'directory whose libcxi* files are mounted read-only into containers',
  chart: { key: 'cxiRoot', help: 'Host directory of libcxi', format: 'absolutePath' },
} as const satisfies FlagSpec;

export const CXI_SETTINGS = [
  {
    name: 'resource-name',
    env: 'CXI_RESOURCE_NAME',
    type: 'string',
    default: 'beta.hpe.com/cxi',
    help: 'extended resource name the NICs are offered as',
    chart: { key: 'resourceName', help: 'Resource name', format: 'resourceName' },
  },
  {
    name: 'rescan-interval',
    env: 'RESCAN_INTERVAL',
    type: 'duration',
    default: '30s',
    help: 'how often sysfs is scanned again for NICs added or removed (devfs changes also trigger it)',
    chart: { key: 'rescanInterval', help: 'Re-discovery period' },
  },
  {
    name: 'health-interval',
    env: 'HEALTH_INTERVAL',
    type: 'duration',
    default: '10s',
    help: 'how often every /dev/cxiN is checked (present and openable)',
    chart: { key: 'healthInterval', help: 'Health check period' },
  },
  {
    name: 'cdi',
    env: 'CXI_CDI',
    type: 'bool',
    default: false,
    help: 'answer Allocate with hpe.com/cxi=<N> CDI names from the spec cxi-cdi-generator wrote to --cdi-dir',
    chart: {
      key: 'cdi',
      help: 'Return CDI names hpe.com/cxi=<N> and run cxi-cdi-generator as an init container',
    },
  },
  {
    name: 'virtual-devices',
    env: 'CXI_VIRTUAL_DEVICES',
    type: 'int',
    min: 1,
    max: 1000,
    default: 1,
    help: 'device IDs per NIC, so that many pods can share one NIC (IDs N-0 … N-(k-1) when above 1)',
    chart: { key: 'virtualDevices', help: 'IDs per NIC, so several pods share a NIC' },
  },
  CXI_OFI_ROOT,
  CXI_CXI_ROOT,
] as const satisfies readonly FlagSpec[];
