/**
 * The devnode family's settings (`kube-device-plugins devnode`). Its one flag names the config file; the chart
 * writes that file from `devnode.config` into a ConfigMap and passes its path, so no Helm value maps to a flag.
 */
import type { FlagSpec } from './setting';

export const DEVNODE_SETTINGS = [
  {
    name: 'config',
    env: 'DEVNODE_CONFIG',
    type: 'string',
    required: true,
    help: 'YAML or JSON config: resources: [{ name, glob, containerPath?, permissions?, shareCount? }]',
  },
] as const satisfies readonly FlagSpec[];
