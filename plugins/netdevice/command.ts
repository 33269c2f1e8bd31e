/** `kube-device-plugins netdevice`: host network interfaces handed to pods through CDI. */
import * as path from 'path';
import { NETDEVICE_SETTINGS } from '../catalogue/netdevice';
import { definePlugin, resourceNameErrors, UsageError, type SettingValues } from '../framework';
import { NetdevicePlugin } from './plugin';

type NetdeviceFlags = SettingValues<typeof NETDEVICE_SETTINGS>;

/** Checks the flag parser cannot make; each failure is a UsageError (exit 2) naming the flag. */
function checkFlags(values: NetdeviceFlags): void {
  const nameErrors = resourceNameErrors(values.resourceName);
  if (nameErrors.length) throw new UsageError(`invalid value for --resource-name: ${nameErrors.join('; ')}`);
  if (values.interfaces.source === '(?:)')
    throw new UsageError('--interfaces (or INTERFACES) must not be empty: name the interfaces to offer');
  if (!path.isAbsolute(values.hookDir))
    throw new UsageError(`invalid value for --hook-dir: "${values.hookDir}" is not an absolute path`);
}

export const command = definePlugin({
  name: 'netdevice',
  summary:
    'Hands host network interfaces to pods through CDI: one device per interface matching --interfaces, ' +
    'Healthy while administratively up, moved into the pod by the runtime (netdevices) or by OCI hooks.',
  flags: NETDEVICE_SETTINGS,
  async run(ctx) {
    const values = ctx.options;
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
});
