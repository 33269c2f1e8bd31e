/**
 * The plugin contract: what a family provides (a PluginCommand: its flags and `run`), what it is given
 * (a PluginContext), and the flags every plugin accepts. The CLI (plugins/cli) starts a command; families
 * import this, never the CLI.
 */
import { DEFAULT_DEVICE_PLUGIN_DIR, DEFAULT_POD_RESOURCES_SOCKET } from './proto';
import { DEFAULT_CDI_DIR } from './cdi';
import { LOG_LEVELS, type Logger } from './log';
import type { PluginManager } from './manager';
import type { ResourceHost } from './types';
import type { EnvDoc, FlagSpec, FlagValues, SettingValues } from './flags';

export type PluginMode = 'device-plugin' | 'dra';

/** Flags every plugin accepts. Every path a plugin reads is under one of these roots. */
export const COMMON_FLAGS = [
  {
    name: 'mode',
    env: 'PLUGIN_MODE',
    type: 'enum',
    choices: ['device-plugin', 'dra'],
    default: 'device-plugin',
    help: 'device-plugin (the kubelet device-plugin API), or dra: a DRA driver (kvm, tdx and devnode only)',
  },
  {
    name: 'device-plugin-dir',
    env: 'DEVICE_PLUGIN_DIR',
    type: 'string',
    default: DEFAULT_DEVICE_PLUGIN_DIR,
    help: 'kubelet device-plugin directory (kubelet.sock and our sockets)',
  },
  { name: 'sysfs-root', env: 'SYSFS_ROOT', type: 'string', default: '/sys', help: 'where sysfs is mounted' },
  { name: 'devfs-root', env: 'DEVFS_ROOT', type: 'string', default: '/dev', help: 'where device nodes are' },
  {
    name: 'cdi-dir',
    env: 'CDI_DIR',
    type: 'string',
    default: DEFAULT_CDI_DIR,
    help: 'directory CDI specs are written to',
  },
  {
    name: 'pod-resources-socket',
    env: 'POD_RESOURCES_SOCKET',
    type: 'string',
    default: DEFAULT_POD_RESOURCES_SOCKET,
    help: 'kubelet PodResources API socket',
  },
  {
    name: 'http-addr',
    env: 'HTTP_ADDR',
    type: 'string',
    default: '',
    help: 'listen address for /healthz, /readyz and /metrics, e.g. :8080 (off when empty)',
  },
  {
    name: 'log-level',
    env: 'LOG_LEVEL',
    type: 'enum',
    choices: LOG_LEVELS,
    default: 'info',
    help: 'least severe level logged',
  },
  {
    name: 'log-format',
    env: 'LOG_FORMAT',
    type: 'enum',
    choices: ['json', 'text'],
    default: 'json',
    help: 'log line format',
  },
] as const satisfies readonly FlagSpec[];

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
