/**
 * The plugin families the CLI runs, by name: a typed registry. Each entry loads its family's command only
 * when called, so a process loads the one family it runs (and its start-up pays for no other).
 */
/* eslint-disable @typescript-eslint/no-require-imports -- one literal path per family, loaded on demand */
import type { PluginCommand } from '../framework';

export const FAMILIES = {
  tdx: (): PluginCommand => (require('../tdx/command') as typeof import('../tdx/command')).command,
  kvm: (): PluginCommand => (require('../kvm/command') as typeof import('../kvm/command')).command,
  devnode: (): PluginCommand =>
    (require('../devnode/command') as typeof import('../devnode/command')).command,
  cxi: (): PluginCommand => (require('../cxi/command') as typeof import('../cxi/command')).command,
  netdevice: (): PluginCommand =>
    (require('../netdevice/command') as typeof import('../netdevice/command')).command,
  cex: (): PluginCommand => (require('../cex/command') as typeof import('../cex/command')).command,
};
/* eslint-enable @typescript-eslint/no-require-imports */

export type FamilyName = keyof typeof FAMILIES;

/** The family names, in the order the CLI lists them. */
export const PLUGIN_NAMES = Object.keys(FAMILIES) as FamilyName[];

export function isFamilyName(name: string): name is FamilyName {
  return Object.prototype.hasOwnProperty.call(FAMILIES, name);
}

/** The family's command, loaded now; undefined for a name that is not a family. */
export function loadCommand(name: string): PluginCommand | undefined {
  return isFamilyName(name) ? FAMILIES[name]() : undefined;
}
