/** The families' settings catalogues, by family (a family without one here still declares its flags in code). */
import { CEX_SETTINGS } from './cex';
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

/** The families configured by environment variables only (cex, as upstream): their settings catalogues. */
export const ENV_CATALOGUES = {
  cex: CEX_SETTINGS,
} as const;
