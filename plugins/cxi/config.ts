/**
 * The CXI flags (each also an env var, as upstream) and their validation: a value that is not a
 * positive integer, a bad duration, or a root directory that does not exist stops the start with a
 * UsageError (exit 2) naming the flag, its env var and the value, never a silent default.
 */
import * as fs from 'fs';
import { resourceNameErrors, UsageError } from '../framework';

import { CXI_CXI_ROOT, CXI_OFI_ROOT, CXI_SETTINGS } from '../catalogue/cxi';

export const DEFAULT_RESOURCE_NAME = CXI_SETTINGS[0].default;

/** The flags are the catalogue's (plugins/catalogue/cxi.ts). */
export const OFI_ROOT_FLAG = CXI_OFI_ROOT;
export const CXI_ROOT_FLAG = CXI_CXI_ROOT;
export const CXI_FLAGS = CXI_SETTINGS;

/** `--flag (ENV)`, how errors name a setting. */
function describeFlag(name: string, env: string): string {
  return `--${name} (${env})`;
}

/** A root the plugin reads must exist and be a directory. */
export function requireDirectory(dir: string, name: string, env: string): void {
  const stat = fs.statSync(dir, { throwIfNoEntry: false });
  if (!stat) throw new UsageError(`${describeFlag(name, env)}: ${dir} does not exist`);
  if (!stat.isDirectory()) throw new UsageError(`${describeFlag(name, env)}: ${dir} is not a directory`);
}

export function requireResourceName(name: string): void {
  const errors = resourceNameErrors(name);
  if (errors.length) throw new UsageError(`--resource-name (CXI_RESOURCE_NAME): ${errors.join('; ')}`);
}
