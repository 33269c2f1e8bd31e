/**
 * Network-device plugin: hands host interfaces to pods through CDI. It runs in the host network namespace to
 * see the links (reading them needs no capability). An init container installs the OCI hook that `hooks` mode
 * names into the host hook dir; it always does, so that switching `cdiMode` needs no second rollout.
 */
import { Construct } from 'constructs';
import { labelMap, NODE_LABELS } from '../../nfd-rules';
import { withDefaults } from '../common';
import { DevicePluginDaemonSet, DevicePluginOptions, HOST_PATHS, HostPathMount } from '../daemonset';
import { NETDEVICE_CDI_MODES, NETDEVICE_SETTINGS } from '../../plugins/catalogue/netdevice';
import { chartArgs, chartDefaults, type ChartDefaults } from '../../plugins/catalogue/setting';

export type NetdeviceCdiMode = (typeof NETDEVICE_CDI_MODES)[number];

/**
 * The plugin's settings are the catalogue's (plugins/catalogue/netdevice.ts): `resourceName`, `interfaces`
 * (regex on the name; the plugin never offers loopback, the default-route link or a bridge/bond uplink),
 * `cdiMode` (`hooks`: our OCI hook moves the link in and back; `netdevices`: CDI 1.1, runc >= 1.4 or
 * crun >= 1.22) and `hookDir` (host directory the hook is installed into).
 */
export interface NetdevicePluginProps
  extends DevicePluginOptions, Partial<ChartDefaults<typeof NETDEVICE_SETTINGS>> {}

export const NETDEVICE_DEFAULTS = {
  ...chartDefaults(NETDEVICE_SETTINGS),
  httpPort: 8085,
  nodeSelector: labelMap(NODE_LABELS.netdevice),
};

const HOOK_SOURCE = '/app/plugins/netdevice/hooks/netdevice-hook.sh';
/** Write beside, then rename: a runtime starting a container never runs a half-written hook. */
const INSTALL_HOOK = [
  'set -eu',
  `install -m 0755 ${HOOK_SOURCE} "$HOOK_DIR/.netdevice-hook.sh.new"`,
  'mv -f "$HOOK_DIR/.netdevice-hook.sh.new" "$HOOK_DIR/netdevice-hook.sh"',
].join('\n');

export class NetdevicePlugin extends Construct {
  readonly daemonSet: DevicePluginDaemonSet;

  constructor(scope: Construct, id: string, props: NetdevicePluginProps = {}) {
    super(scope, id);
    const p = withDefaults(NETDEVICE_DEFAULTS, props);
    const hookDir: HostPathMount = {
      name: 'hook-dir',
      path: p.hookDir,
      type: 'DirectoryOrCreate',
      readOnly: false,
    };
    this.daemonSet = new DevicePluginDaemonSet(this, 'daemonset', {
      ...p,
      plugin: 'netdevice',
      hostNetwork: true,
      args: chartArgs(NETDEVICE_SETTINGS, p),
      // The hook dir read-only too: the plugin checks that the hook it names in CDI specs is there.
      hostPaths: [HOST_PATHS.cdi, HOST_PATHS.podResources, { ...hookDir, readOnly: true }],
      initContainers: [
        {
          name: 'install-hook',
          command: ['/bin/sh', '-c', INSTALL_HOOK],
          env: [{ name: 'HOOK_DIR', value: p.hookDir }],
          hostPaths: [hookDir],
        },
      ],
    });
  }
}
