/**
 * The flags of the families that have a DRA mode (kvm, tdx, devnode): data only, so a family's command
 * lists them without loading the DRA runtime (./dra/, loaded by the CLI in DRA mode only).
 */
import type { FlagSpec } from './flags';
/** The domain of the default driver names: `<family>.kube-device-plugins.io`. */
export const DRA_DRIVER_DOMAIN = 'kube-device-plugins.io';
export const DEFAULT_KUBELET_ROOT_DIR = '/var/lib/kubelet';

/** Flags of the families that have a DRA mode (kvm, tdx, devnode); `--mode` itself is common. */
export function draFlags(family: string): FlagSpec[] {
  return [
    {
      name: 'dra-driver-name',
      env: 'DRA_DRIVER_NAME',
      type: 'string',
      default: `${family}.${DRA_DRIVER_DOMAIN}`,
      help: '--mode dra: the DRA driver name (a DNS subdomain; DeviceClasses select on it)',
    },
    {
      name: 'node-name',
      env: 'NODE_NAME',
      type: 'string',
      default: '',
      help: '--mode dra: this node (required there): the pool name and the owner of the ResourceSlice',
    },
    {
      name: 'kubelet-root-dir',
      env: 'KUBELET_ROOT_DIR',
      type: 'string',
      default: DEFAULT_KUBELET_ROOT_DIR,
      help: '--mode dra: the kubelet root; sockets go in plugins_registry/ and plugins/<driver>/ under it',
    },
    {
      name: 'kubeconfig',
      env: 'KUBECONFIG',
      type: 'string',
      default: '',
      help: '--mode dra: kubeconfig file for the API server (in-cluster config when empty)',
    },
    {
      name: 'dra-uninstall',
      env: 'DRA_UNINSTALL',
      type: 'bool',
      default: false,
      help: 'one-shot: delete every ResourceSlice of --dra-driver-name (all nodes), print how many, exit',
    },
  ];
}
