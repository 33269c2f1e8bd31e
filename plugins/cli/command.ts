/**
 * What a plugin family provides to the CLI (a PluginCommand), and the runtime that starts one: parse
 * flags, build the logger, manager and HTTP listener, run the family, and shut everything down cleanly.
 * With `--mode dra` (families with `dra: true`) the family's resources go to a DRA driver instead
 * (./dra.ts).
 */
import type * as http from 'http';
import {
  createLogger,
  DEFAULT_DEVICE_PLUGIN_DIR,
  DEFAULT_POD_RESOURCES_SOCKET,
  DEFAULT_CDI_DIR,
  FrameworkMetrics,
  parseListenAddress,
  routeGrpcLogs,
  LOG_LEVELS,
  PluginManager,
  startHttpServer,
  type Logger,
  type LogFormat,
  type LogLevel,
  type ResourceHost,
} from '../framework';
import type { DraMode, DraModeOptions } from '../framework/dra';
import { draSettings, startDraRuntime, uninstallDra } from './dra';
import { formatHelp, parseFlags, UsageError, type EnvDoc, type FlagSpec, type FlagValues } from './flags';

export type PluginMode = 'device-plugin' | 'dra';

/** Flags every plugin accepts. Every path a plugin reads is under one of these roots. */
export const COMMON_FLAGS: FlagSpec[] = [
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
];

export interface CommonOptions {
  mode: PluginMode;
  devicePluginDir: string;
  sysfsRoot: string;
  devfsRoot: string;
  cdiDir: string;
  podResourcesSocket: string;
  httpAddr: string;
  logLevel: LogLevel;
  logFormat: LogFormat;
}

export interface PluginContext {
  common: CommonOptions;
  /** This plugin's own flags, by camelCase name. */
  options: FlagValues;
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

export interface PluginCommand {
  /** CLI name: tdx, kvm, devnode, cxi, netdevice, cex. */
  name: string;
  summary: string;
  flags: FlagSpec[];
  /** Environment variables read directly (not flags), for --help and the README. */
  env?: EnvDoc[];
  /** Has a DRA mode (`--mode dra`): its flags include `draFlags(name)` and `run` uses `ctx.resources`. */
  dra?: boolean;
  /**
   * Start the family: add its resources to `ctx.manager`. Throw UsageError for bad configuration
   * (exit 2); the process keeps running after this returns.
   */
  run(ctx: PluginContext): Promise<void>;
}

export interface RunningPlugin {
  manager: PluginManager;
  log: Logger;
  http?: http.Server;
  /** The DRA driver, in DRA mode. */
  dra?: DraMode;
  /** A one-shot (`--dra-uninstall`) that has finished: the process exits 0. */
  done?: boolean;
  stop(): Promise<void>;
}

export interface StartOptions {
  env?: NodeJS.ProcessEnv;
  /** Overrides for the manager (tests shorten the poll interval). */
  manager?: { pollIntervalMs?: number; initialBackoffMs?: number; maxBackoffMs?: number };
  /** Where log lines go (default stderr). */
  logWrite?: (line: string) => void;
  /** DRA mode: API-server stand-ins (the demo's in-memory ones) instead of client-node. */
  dra?: Pick<DraModeOptions, 'claims' | 'sliceApi'>;
}

export function helpText(command: PluginCommand): string {
  return formatHelp(
    `kube-device-plugins ${command.name} [flags]`,
    command.summary,
    [...command.flags, ...COMMON_FLAGS],
    command.env,
  );
}

/** Start a plugin in this process. Throws UsageError for bad flags or configuration. */
export async function startPlugin(
  command: PluginCommand,
  argv: string[],
  options: StartOptions = {},
): Promise<RunningPlugin> {
  const env = options.env ?? process.env;
  const parsed = parseFlags([...command.flags, ...COMMON_FLAGS], argv, env);
  if (parsed.positionals.length) throw new UsageError(`unexpected argument ${parsed.positionals[0]}`);
  const common = parsed.values as unknown as CommonOptions;
  if (common.httpAddr) {
    try {
      parseListenAddress(common.httpAddr);
    } catch (err) {
      throw new UsageError(`invalid value for --http-addr: ${(err as Error).message}`);
    }
  }
  if (common.mode === 'dra' && !command.dra)
    throw new UsageError(
      `--mode dra: the ${command.name} plugin has no DRA mode (kvm, tdx and devnode have); use --mode device-plugin`,
    );
  const dra = command.dra ? draSettings(parsed.values, common.mode === 'dra') : undefined;
  const log = createLogger({
    level: common.logLevel,
    format: common.logFormat,
    write: options.logWrite,
  }).with({ plugin: command.name });
  routeGrpcLogs(log);
  if (dra?.uninstall) {
    // One-shot: nothing is served; runCommand exits 0 (an API error was thrown: exit 1).
    await uninstallDra(dra, log);
    const idle = new PluginManager({ devicePluginDir: common.devicePluginDir, log });
    return { manager: idle, log, done: true, stop: async () => undefined };
  }
  const metrics = new FrameworkMetrics({ processMetrics: true });
  const manager = new PluginManager({
    devicePluginDir: common.devicePluginDir,
    log,
    metrics,
    ...options.manager,
  });
  const shutdownHooks: (() => Promise<void> | void)[] = [];
  let httpServer: http.Server | undefined;

  const stop = async () => {
    for (const hook of shutdownHooks.reverse())
      await Promise.resolve(hook()).catch((err) => log.warn('shutdown hook failed', { error: err }));
    await manager.stop();
    await new Promise<void>((resolve) => (httpServer ? httpServer.close(() => resolve()) : resolve()));
    httpServer?.closeAllConnections();
  };

  const context = (resources: ResourceHost): PluginContext => ({
    common,
    options: parsed.values,
    env,
    mode: common.mode,
    resources,
    manager,
    log,
    onShutdown: (fn) => shutdownHooks.push(fn),
  });
  if (dra && common.mode === 'dra') {
    const runtime = await startDraRuntime({
      settings: dra,
      cdiDir: common.cdiDir,
      httpAddr: common.httpAddr,
      log,
      metrics,
      shutdownHooks,
      runFamily: (host) => command.run(context(host)),
      pollIntervalMs: options.manager?.pollIntervalMs,
      api: options.dra,
    });
    return { manager, log, http: runtime.http, dra: runtime.dra, stop: runtime.stop };
  }

  let started = false;
  try {
    if (common.httpAddr) httpServer = await startHttpServer(common.httpAddr, manager, log, () => started);
    await command.run(context(manager));
  } catch (err) {
    await stop();
    throw err;
  }
  started = true;
  log.info('plugin started', { resources: manager.resources() });
  return { manager, log, http: httpServer, stop };
}

/**
 * The process entry for one plugin: exit 2 on usage errors, 1 on start-up failures, and 0 after a
 * clean SIGTERM/SIGINT shutdown (sockets removed).
 */
export async function runCommand(command: PluginCommand, argv: string[]): Promise<void> {
  if (argv.includes('--help') || argv.includes('-h')) {
    process.stdout.write(helpText(command));
    return;
  }
  // Signals are caught from the very start: a SIGTERM while we are still registering must also end
  // in a clean shutdown (sockets removed, exit 0), not in the default kill.
  let running: RunningPlugin | undefined;
  let pendingSignal: string | undefined;
  let stopping = false;
  const shutdown = (signal: string) => {
    if (!running) {
      pendingSignal = signal; // handled once start-up finishes; do not wait for ever
      setTimeout(() => process.exit(1), 5000).unref();
      return;
    }
    if (stopping) return;
    stopping = true;
    const { log } = running;
    log.info('shutting down', { signal });
    const force = setTimeout(() => {
      log.error('shutdown took too long; exiting');
      process.exit(1);
    }, 5000);
    force.unref();
    running.stop().then(
      () => process.exit(0),
      (err) => {
        log.error('shutdown failed', { error: err });
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', () => shutdown('SIGTERM'));
  process.on('SIGINT', () => shutdown('SIGINT'));
  try {
    running = await startPlugin(command, argv);
    if (running.done) process.exit(0);
  } catch (err) {
    const usage = err instanceof UsageError;
    process.stderr.write(`kube-device-plugins ${command.name}: ${(err as Error).message}\n`);
    if (usage) process.stderr.write(`run 'kube-device-plugins ${command.name} --help' for the flags\n`);
    process.exit(usage ? 2 : 1);
  }
  if (pendingSignal) shutdown(pendingSignal);
}
