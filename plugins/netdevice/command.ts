/** `kube-device-plugins netdevice`: host network interfaces handed to pods through CDI. */
import * as path from 'path';
import {
  resourceNameErrors,
  type PluginCommand,
  type PluginContext,
  UsageError,
  type FlagSpec,
} from '../framework';
import { NetdevicePlugin } from './plugin';
import { CDI_MODES, DEFAULT_RESOURCE_NAME, type CdiMode } from './spec';

const FLAGS: FlagSpec[] = [
  {
    name: 'resource-name',
    env: 'NETDEVICE_RESOURCE_NAME',
    type: 'string',
    default: DEFAULT_RESOURCE_NAME,
    help: 'extended resource the interfaces are advertised as',
  },
  {
    name: 'interfaces',
    env: 'INTERFACES',
    type: 'regex',
    required: true,
    help:
      'regex (unanchored) of the host interfaces to offer, e.g. ^ens[1-9]f[0-9]$; loopback, default-route ' +
      'and bridge/bond/VLAN uplink interfaces are never offered',
  },
  {
    name: 'cdi-mode',
    env: 'CDI_MODE',
    type: 'enum',
    choices: [...CDI_MODES],
    // hooks: what most nodes' runtimes can apply today (runc < 1.4 ignores netDevices silently); see README
    default: 'hooks',
    help:
      'hooks: OCI hooks move the link in and back (any runtime that runs CDI hooks); netdevices: CDI ' +
      'netDevices, the runtime moves it in (runc >= 1.4 or crun >= 1.22 under a CDI 1.1 engine)',
  },
  {
    name: 'hook-dir',
    env: 'HOOK_DIR',
    type: 'string',
    default: '/opt/cdi/bin',
    help: 'host directory holding netdevice-hook.sh (hooks mode); the CDI spec points there',
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
];

interface NetdeviceFlags {
  resourceName: string;
  interfaces: RegExp;
  cdiMode: CdiMode;
  hookDir: string;
  rescanInterval: number;
  moveGracePeriod: number;
}

/** Checks the flag parser cannot make; each failure is a UsageError (exit 2) naming the flag. */
function checkFlags(values: NetdeviceFlags): void {
  const nameErrors = resourceNameErrors(values.resourceName);
  if (nameErrors.length) throw new UsageError(`invalid value for --resource-name: ${nameErrors.join('; ')}`);
  if (values.interfaces.source === '(?:)')
    throw new UsageError('--interfaces (or INTERFACES) must not be empty: name the interfaces to offer');
  if (!path.isAbsolute(values.hookDir))
    throw new UsageError(`invalid value for --hook-dir: "${values.hookDir}" is not an absolute path`);
}

export const command: PluginCommand = {
  name: 'netdevice',
  summary:
    'Hands host network interfaces to pods through CDI: one device per interface matching --interfaces, ' +
    'Healthy while administratively up, moved into the pod by the runtime (netdevices) or by OCI hooks.',
  flags: FLAGS,
  async run(ctx: PluginContext) {
    const values = ctx.options as unknown as NetdeviceFlags;
    checkFlags(values);
    const plugin = new NetdevicePlugin({
      resourceName: values.resourceName,
      interfaces: values.interfaces,
      cdiMode: values.cdiMode,
      hookDir: values.hookDir,
      cdiDir: ctx.common.cdiDir,
      podResourcesSocket: ctx.common.podResourcesSocket,
      rescanIntervalMs: values.rescanInterval,
      moveGraceMs: values.moveGracePeriod,
      log: ctx.log.with({ resource: values.resourceName }),
      metrics: ctx.manager.metrics.registry,
    });
    await ctx.manager.addResource(plugin);
  },
};
