/**
 * The plugin contract: what a family provides (a PluginCommand: its flags and `run`), what it is given
 * (a PluginContext), and the flags every plugin accepts. The CLI (plugins/cli) starts a command; families
 * import this, never the CLI.
 */
import type { COMMON_FLAGS } from '../catalogue/common';
import type { Logger } from './log';
import type { PluginManager } from './manager';
import type { ResourceHost } from './types';
import type { EnvDoc, FlagSpec, FlagValues, SettingValues } from './flags';

export type PluginMode = 'device-plugin' | 'dra';

// The flags every plugin accepts are catalogue data (the chart sets --log-level and --log-format from them).
export { COMMON_FLAGS } from '../catalogue/common';

/** The common flags' values, typed by their declarations. */
export type CommonOptions = SettingValues<typeof COMMON_FLAGS>;

export interface PluginContext<O = FlagValues> {
  common: CommonOptions;
  /** This plugin's own flags, by camelCase name. */
  options: O;
  env: NodeJS.ProcessEnv;
  /** `dra` only for families with `dra: true`. */
  mode: PluginMode;
  /**
   * Where the family adds (and, on reloads, removes) its resources: the manager in device-plugin
   * mode, the DRA driver in DRA mode. Families with a DRA mode use this, not `manager`.
   */
  resources: ResourceHost;
  /** Device-plugin mode's manager (in DRA mode it is never started). */
  manager: PluginManager;
  log: Logger;
  /** Register clean-up to run at shutdown, before the resources are withdrawn. */
  onShutdown(fn: () => Promise<void> | void): void;
}

export interface PluginCommand<C extends readonly FlagSpec[] = readonly FlagSpec[]> {
  /** CLI name: tdx, kvm, devnode, cxi, netdevice, cex. */
  name: string;
  summary: string;
  flags: C;
  /** Environment variables read directly (not flags), for --help and the README. */
  env?: EnvDoc[];
  /** Has a DRA mode (`--mode dra`): its flags include `draFlags(name)` and `run` uses `ctx.resources`. */
  dra?: boolean;
  /**
   * Start the family: add its resources to `ctx.manager`. Throw UsageError for bad configuration
   * (exit 2); the process keeps running after this returns.
   */
  run(ctx: PluginContext<SettingValues<C>>): Promise<void>;
}

/** A family's command, its options typed by its own flags (`ctx.options.virtualDevices` is a number). */
export function definePlugin<const C extends readonly FlagSpec[]>(
  command: PluginCommand<C>,
): PluginCommand<C> {
  return command;
}
