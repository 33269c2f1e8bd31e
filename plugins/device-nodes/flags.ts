/** Flags the device-node families share, so tdx and kvm spell them the same way. */
import { resourceNameErrors, UsageError, type FlagSpec } from '../framework';

/** Upper bound for --shared-count: the list is sent in full on every change, so keep it sane. */
export const MAX_SHARED_COUNT = 10_000;

export function resourceNameFlag(env: string, defaultName: string): FlagSpec {
  return {
    name: 'resource-name',
    env,
    type: 'string',
    default: defaultName,
    help: 'extended resource name advertised to the kubelet',
  };
}

export const SHARED_COUNT_FLAG: FlagSpec = {
  name: 'shared-count',
  env: 'SHARED_COUNT',
  type: 'int',
  min: 1,
  max: MAX_SHARED_COUNT,
  default: 110,
  help: 'interchangeable device IDs advertised for the one node (how many containers may use it at once)',
};

/** A resource-name flag value, checked the way the kubelet will check it (bad name → exit 2). */
export function checkedResourceName(value: unknown, flag: string): string {
  const name = String(value ?? '');
  const errors = resourceNameErrors(name);
  if (errors.length) throw new UsageError(`invalid value for --${flag}: ${errors.join('; ')}`);
  return name;
}
