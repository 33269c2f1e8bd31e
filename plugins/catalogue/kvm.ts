/**
 * The KVM family's settings (`kube-device-plugins kvm`): the flags and their types, --help, the README table,
 * the chart's `kvm.*` values and the DaemonSet's args. (The DRA flags are the framework's, the same for every
 * family with a DRA mode; the chart sets them from `kvm.mode`.)
 */
import { resourceNameSetting, SHARED_COUNT } from './device-nodes';
import type { FlagSpec } from './setting';

export const KVM_SETTINGS = [
  resourceNameSetting(
    'KVM_RESOURCE_NAME',
    'github.com.ihcsim/kvm',
    'Resource name, e.g. devices.kubevirt.io/kvm',
  ),
  SHARED_COUNT,
  {
    name: 'cdi',
    env: 'CDI',
    type: 'bool',
    default: true,
    help: 'write a CDI spec to --cdi-dir and return the CDI device name in allocations (--cdi=false: off)',
    chart: { key: 'cdi', help: 'Write a CDI spec and return CDI device names' },
  },
] as const satisfies readonly FlagSpec[];
