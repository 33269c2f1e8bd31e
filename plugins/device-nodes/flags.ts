/** Flags the device-node families share, so tdx and kvm spell them the same way. */
import { resourceNameErrors, UsageError } from '../framework';

export { MAX_SHARED_COUNT, SHARED_COUNT as SHARED_COUNT_FLAG } from '../catalogue/device-nodes';

/** A resource-name flag value, checked the way the kubelet will check it (bad name → exit 2). */
export function checkedResourceName(value: unknown, flag: string): string {
  const name = String(value ?? '');
  const errors = resourceNameErrors(name);
  if (errors.length) throw new UsageError(`invalid value for --${flag}: ${errors.join('; ')}`);
  return name;
}
