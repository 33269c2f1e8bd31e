/** `kube-device-plugins devnode`: sets of char/block device nodes, described by a config file. */
import type { PluginCommand } from '../cli/command';
import { draFlags } from '../cli/dra';
import { UsageError } from '../cli/flags';
import { ConfigError } from './config';
import { DevnodeController } from './controller';

export const command: PluginCommand = {
  name: 'devnode',
  summary:
    "Serves the resources listed in --config: each device node matching a resource's glob under --devfs-root " +
    'is a device. The config is reloaded when it changes; a bad config keeps the last good one. ' +
    "With --mode dra: the devices are in the node's ResourceSlice (attribute glob; shareCount > 1: " +
    'one device many claims may hold), and reloads add and withdraw them.',
  dra: true,
  flags: [
    {
      name: 'config',
      env: 'DEVNODE_CONFIG',
      type: 'string',
      required: true,
      help: 'YAML or JSON config: resources: [{ name, glob, containerPath?, permissions?, shareCount? }]',
    },
    ...draFlags('devnode'),
  ],
  async run(ctx) {
    const controller = new DevnodeController({
      configPath: String(ctx.options.config),
      devfsRoot: ctx.common.devfsRoot,
      manager: ctx.resources,
      log: ctx.log,
      sharing: ctx.mode === 'dra' ? 'allocations' : 'ids',
    });
    try {
      await controller.start();
    } catch (err) {
      if (err instanceof ConfigError) throw new UsageError(`invalid --config: ${(err as Error).message}`);
      throw err;
    }
    ctx.onShutdown(() => controller.stop());
  },
};
