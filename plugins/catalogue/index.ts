/** The families' settings catalogues, by family (a family without one here still declares its flags in code). */
import { CXI_SETTINGS } from './cxi';

export const CATALOGUES = {
  cxi: CXI_SETTINGS,
} as const;
