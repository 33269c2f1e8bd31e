/** The families' settings catalogues, by family (a family without one here still declares its flags in code). */
import { CXI_SETTINGS } from './cxi';
import { DEVNODE_SETTINGS } from './devnode';
import { KVM_SETTINGS } from './kvm';
import { TDX_SETTINGS } from './tdx';
import { NETDEVICE_SETTINGS } from './netdevice';

export const CATALOGUES = {
  tdx: TDX_SETTINGS,
  kvm: KVM_SETTINGS,
  devnode: DEVNODE_SETTINGS,
  cxi: CXI_SETTINGS,
  netdevice: NETDEVICE_SETTINGS,
} as const;
