/** The families' settings catalogues, by family (a family without one here still declares its flags in code). */
import { CXI_SETTINGS } from './cxi';
import { NETDEVICE_SETTINGS } from './netdevice';

export const CATALOGUES = {
  cxi: CXI_SETTINGS,
  netdevice: NETDEVICE_SETTINGS,
} as const;
