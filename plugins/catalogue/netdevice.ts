/**
 * The netdevice family's settings (`kube-device-plugins netdevice`): one declaration each, from which come the
 * flags and their types, --help, the README table, the chart's `netdevice.*` values and the DaemonSet's args.
 */
import type { FlagSpec } from './setting';

/** How the interface gets into the pod: the runtime (CDI netDevices) or our OCI hooks. */
export const NETDEVICE_CDI_MODES = ['netdevices', 'hooks'] as const;

export const NETDEVICE_SETTINGS = [
  {
    name: 'resource-name',
    env: 'NETDEVICE_RESOURCE_NAME',
    type: 'string',
    default: 'networking.k8s.io/netdevice',
    help: 'extended resource the interfaces are advertised as',
    chart: { key: 'resourceName', help: 'Resource name', format: 'resourceName' },
  },
  {
    name: 'interfaces',
    env: 'INTERFACES',
    type: 'regex',
    required: true,
    help:
      'regex (unanchored) of the host interfaces to offer, e.g. ^ens[1-9]f[0-9]$; loopback, default-route ' +
      'and bridge/bond/VLAN uplink interfaces are never offered',
    chart: {
      key: 'interfaces',
      help: 'Regex of the interfaces offered',
      description:
        'Regex of the interfaces offered (--interfaces; the optional NFD rule matches with it too, so RE2 syntax). Loopback, the default-route link and bridge/bond uplinks are never offered.',
      default: '^(eth|ens|enp)[0-9].*',
    },
  },
  {
    name: 'cdi-mode',
    env: 'CDI_MODE',
    type: 'enum',
    choices: NETDEVICE_CDI_MODES,
    // hooks: what most nodes' runtimes can apply today (runc < 1.4 ignores netDevices silently); see README
    default: 'hooks',
    help:
      'hooks: OCI hooks move the link in and back (any runtime that runs CDI hooks); netdevices: CDI ' +
      'netDevices, the runtime moves it in (runc >= 1.4 or crun >= 1.22 under a CDI 1.1 engine)',
    chart: {
      key: 'cdiMode',
      help: 'How the interface gets into the pod',
      description:
        'How the interface gets into the pod (--cdi-mode): hooks (our OCI hook moves the link in and back; any runtime that runs CDI hooks) or netdevices ' +
        '(CDI netDevices; the runtime moves it in: runc >= 1.4 or crun >= 1.22 under a CDI 1.1 engine).',
    },
  },
  {
    name: 'hook-dir',
    env: 'HOOK_DIR',
    type: 'string',
    default: '/opt/cdi/bin',
    help: 'host directory holding netdevice-hook.sh (hooks mode); the CDI spec points there',
    chart: {
      key: 'hookDir',
      help: 'Host directory the init container installs the OCI hook into',
      format: 'absolutePath',
    },
  },
  {
    name: 'rescan-interval',
    env: 'NETDEVICE_RESCAN_INTERVAL',
    type: 'duration',
    default: '10s',
    help: 'full rescan period, the fallback for lost netlink events',
  },
  {
    name: 'move-grace-period',
    env: 'NETDEVICE_MOVE_GRACE_PERIOD',
    type: 'duration',
    default: '2m',
    help:
      'how long an allocated interface may stay on the host (image pull, init containers) before it is ' +
      'reported as not moved by the runtime and kept Unhealthy',
  },
] as const satisfies readonly FlagSpec[];
