/**
 * The TDX family's settings (`kube-device-plugins tdx`): the flags and their types, --help, the README table,
 * the chart's `tdx.*` values and the DaemonSet's args. (The DRA flags are the framework's; the chart sets them
 * from `tdx.mode`.)
 */
import { resourceNameSetting, SHARED_COUNT } from './device-nodes';
import type { FlagSpec } from './setting';

/** Where pods see the CCNP socket directory. */
export const TDX_DEFAULT_UDS_DIR = '/run/ccnp/uds';

export const TDX_SETTINGS = [
  resourceNameSetting('TDX_RESOURCE_NAME', 'tdx.intel.com/tdx-guest', 'Resource name'),
  SHARED_COUNT,
  {
    name: 'uds-dir',
    env: 'UDS_DIR',
    type: 'string',
    default: TDX_DEFAULT_UDS_DIR,
    help: `host directory of the CCNP sockets, mounted read-write at ${TDX_DEFAULT_UDS_DIR} (created mode 0757 when missing)`,
    chart: {
      key: 'udsDir',
      help: 'Host directory of the CCNP sockets, mounted into pods',
      description:
        'Host directory of the CCNP sockets, mounted into pods (--uds-dir). The plugin gets its parent read-write, so it is at least two levels deep: a dedicated directory such as /run/ccnp/uds.',
      format: 'nestedPath',
    },
  },
  {
    name: 'uds-resource-name',
    env: 'UDS_RESOURCE_NAME',
    type: 'string',
    default: '',
    help: 'also offer the socket directory alone as this resource, e.g. tdx.intel.com/ccnp-uds (off when empty)',
    chart: {
      key: 'udsResourceName',
      help: 'Also offer the UDS dir as this resource',
      description:
        'Also offer the UDS dir as this resource (--uds-resource-name), e.g. tdx.intel.com/ccnp-uds ("" = off).',
      format: 'optionalResourceName',
    },
  },
  {
    name: 'tsm-report',
    env: 'TSM_REPORT',
    type: 'bool',
    default: false,
    help: 'also mount <sysfs-root>/kernel/config/tsm/report read-write at /sys/kernel/config/tsm/report',
    chart: {
      key: 'tsmReport',
      help: 'Also mount the configfs-tsm report dir (/sys/kernel/config/tsm/report)',
    },
  },
] as const satisfies readonly FlagSpec[];
