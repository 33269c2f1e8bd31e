/**
 * The runtime that starts a family's PluginCommand (the contract: ../framework/command.ts): parse
 * flags, build the logger, manager and HTTP listener, run the family, and shut everything down cleanly.
 * With `--mode dra` (families with `dra: true`) the family's resources go to a DRA driver instead
 * (./dra.ts).
 */
import type * as http from 'http';
import {
  COMMON_FLAGS,
  createLogger,
  formatHelp,
  FrameworkMetrics,
  parseFlags,
  parseListenAddress,
  PluginManager,
  startHttpServer,
  UsageError,
  type CommonOptions,
  type Logger,
  type PluginCommand,
  type PluginContext,
  type ResourceHost,
} from '../framework';
import type { DraMode, DraModeOptions } from '../framework/dra';
import { draSettings, startDraRuntime, uninstallDra } from './dra';

// The contract lives in the framework; re-exported for the CLI's users.
export {
  COMMON_FLAGS,
  type CommonOptions,
  type PluginCommand,
  type PluginContext,
  type PluginMode,
} from '../framework';

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
  const common: CommonOptions = parsed.values;
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
