/** Settings the device-node families (tdx, kvm) share, so that both spell them the same way. */
import type { FlagSpec } from './setting';

/** Upper bound for --shared-count: the list is sent in full on every change, so keep it sane. */
export const MAX_SHARED_COUNT = 10_000;

export const SHARED_COUNT = {
  name: 'shared-count',
  env: 'SHARED_COUNT',
  type: 'int',
  min: 1,
  max: MAX_SHARED_COUNT,
  default: 110,
  help: 'interchangeable device IDs advertised for the one node (how many containers may use it at once)',
  chart: {
    key: 'sharedCount',
    help: 'Interchangeable IDs advertised for the one device: how many pods per node may use it',
  },
} as const satisfies FlagSpec;

/** A family's --resource-name: its env var, default and what the chart says of it. */
export function resourceNameSetting<const Env extends string, const Default extends string>(
  env: Env,
  defaultName: Default,
  chartHelp: string,
) {
  return {
    name: 'resource-name',
    env,
    type: 'string',
    default: defaultName,
    help: 'extended resource name advertised to the kubelet',
    chart: { key: 'resourceName', help: chartHelp, format: 'resourceName' },
  } as const satisfies FlagSpec;
}
