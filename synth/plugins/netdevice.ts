/**
 * Network-device plugin: hands host interfaces to pods through CDI. It runs in the host network namespace to
 * see the links (reading them needs no capability). An init container installs the OCI hook that `hooks` mode
 * names into the host hook dir; it always does, so that switching `cdiMode` needs no second rollout.
 */
import { Construct } from 'constructs';
import { labelMap, NODE_LABELS } from '../../nfd-rules';
import { withDefaults } from '../common';
import { DevicePluginDaemonSet, DevicePluginOptions, HOST_PATHS, HostPathMount } from '../daemonset';

export type NetdeviceCdiMode = 'netdevices' | 'hooks';

export interface NetdevicePluginProps extends DevicePluginOptions {
  /** Default `networking.k8s.io/netdevice`. */
  readonly resourceName?: string;
  /**
   * Interfaces offered (regex on the name). The plugin never offers loopback, the default-route link or a
   * bridge/bond uplink. Default `^(eth|ens|enp)[0-9].*`.
   */
  readonly interfaces?: string;
  /** `hooks` (default: our OCI hook moves the link in and back) or `netdevices` (CDI 1.1; runc >= 1.4 or crun >= 1.22). */
  readonly cdiMode?: NetdeviceCdiMode;
  /** Host directory the hook is installed into. Default `/opt/cdi/bin`. */
  readonly hookDir?: string;
}

export const NETDEVICE_DEFAULTS = {
  resourceName: 'networking.k8s.io/netdevice',
  interfaces: '^(eth|ens|enp)[0-9].*',
  // hooks works with the runc most distributions ship (< 1.4 ignores netDevices silently): see README.
  cdiMode: 'hooks' as NetdeviceCdiMode,
  hookDir: '/opt/cdi/bin',
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
      args: [
        `--resource-name=${p.resourceName}`,
        `--interfaces=${p.interfaces}`,
        `--cdi-mode=${p.cdiMode}`,
        `--hook-dir=${p.hookDir}`,
      ],
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
