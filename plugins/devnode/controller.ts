/**
 * Serves the resources of the devnode config and follows the file at run time. The config's directory is
 * watched (Kubernetes swaps a ConfigMap's `..data` symlink, which a watch on the file itself would miss),
 * backed by a slow poll. A reload that cannot be read or validated keeps the last good config and logs
 * why; a good one is applied as a diff: new resources are served, dropped ones withdrawn, changed ones
 * reconfigured in place (same socket, no re-registration).
 */
import * as fs from 'fs';
import * as path from 'path';
import { DEFAULT_RESCAN_MS, type DeviceNodeResource, type NodeSharing } from '../device-nodes';
import { readConfigFile, watchDirs, type Logger, type ResourceHost, type Watch } from '../framework';
import { ConfigError, parseConfig, type DevnodeConfig, type DevnodeResourceSpec } from './config';
import { createDevnodeResource, devnodeNodeSet } from './plugin';

export interface DevnodeControllerOptions {
  configPath: string;
  devfsRoot: string;
  /** The PluginManager (device-plugin mode) or the DRA driver's host (DRA mode). */
  manager: ResourceHost;
  log: Logger;
  rescanMs?: number;
  /** How shared nodes are offered (`allocations` in DRA mode). */
  sharing?: NodeSharing;
}

interface Served {
  spec: DevnodeResourceSpec;
  resource: DeviceNodeResource;
}

export class DevnodeController {
  private readonly served = new Map<string, Served>();
  private lastText?: string;
  private watch?: Watch;
  private queue: Promise<void> = Promise.resolve();
  private stopped = false;

  constructor(private readonly options: DevnodeControllerOptions) {}

  /** Load and serve the config; throws ConfigError for a bad config, the manager's error otherwise. */
  async start(): Promise<void> {
    let text: string;
    try {
      text = this.read();
    } catch (err) {
      throw new ConfigError(`cannot read ${this.options.configPath}: ${(err as Error).message}`);
    }
    if (!fs.existsSync(this.options.devfsRoot))
      // kvm and tdx say so through their always-listed node; devnode would otherwise serve 0 devices silently.
      this.options.log.warn('the devfs root does not exist: no device node can match until it appears', {
        devfsRoot: this.options.devfsRoot,
      });
    await this.apply(parseConfig(text, this.options.configPath), true);
    this.lastText = text;
    this.watch = watchDirs({
      dirs: [path.dirname(this.options.configPath)],
      onChange: () => void this.reload(),
      pollMs: this.options.rescanMs ?? DEFAULT_RESCAN_MS,
      debounceMs: 20, // a ConfigMap update is several renames in a row
      log: this.options.log,
    });
  }

  /** Stop following the file; resolves once a reload in flight has finished (its resources are then withdrawn by the manager). */
  async stop(): Promise<void> {
    this.stopped = true;
    this.watch?.close();
    await this.queue;
  }

  /** Names of the resources being served. */
  resources(): string[] {
    return [...this.served.keys()];
  }

  /** Re-read the config now (also what the watch calls); reloads never overlap. */
  reload(): Promise<void> {
    this.queue = this.queue
      .then(() => this.reloadNow())
      // Runs from a watch callback: an unexpected error must be logged, never an unhandled rejection.
      .catch((err) => this.options.log.error('config reload failed', { error: err as Error }));
    return this.queue;
  }

  private read(): string {
    return readConfigFile(this.options.configPath);
  }

  private async reloadNow(): Promise<void> {
    if (this.stopped) return;
    const { configPath: file, log } = this.options;
    let text: string;
    try {
      text = this.read();
    } catch (err) {
      log.error('cannot read the config; keeping the last good one', { file, error: err as Error });
      return;
    }
    if (text === this.lastText) return;
    this.lastText = text; // an invalid text is reported once, not on every poll tick
    let config: DevnodeConfig;
    try {
      config = parseConfig(text, file);
    } catch (err) {
      log.error('config is invalid; keeping the last good one', { file, error: (err as Error).message });
      return;
    }
    await this.apply(config, false);
    log.info('config reloaded', { file, resources: this.resources() });
  }

  /** Make the served resources match `config`. At start (`strict`) a resource that fails is fatal. */
  private async apply(config: DevnodeConfig, strict: boolean): Promise<void> {
    const { manager, devfsRoot, log } = this.options;
    const wanted = new Map(config.resources.map((spec) => [spec.name, spec]));
    for (const name of this.served.keys()) {
      if (wanted.has(name)) continue;
      await manager.removeResource(name);
      this.served.delete(name);
      log.info('resource withdrawn: no longer in the config', { resource: name });
    }
    for (const spec of config.resources) {
      const served = this.served.get(spec.name);
      if (served) {
        if (JSON.stringify(served.spec) === JSON.stringify(spec)) continue;
        served.resource.reconfigure(devnodeNodeSet(spec, log.with({ resource: spec.name })));
        served.spec = spec;
        log.info('resource reconfigured', {
          resource: spec.name,
          glob: spec.glob,
          shareCount: spec.shareCount,
        });
        continue;
      }
      const resource = createDevnodeResource(
        spec,
        devfsRoot,
        log.with({ resource: spec.name }),
        this.options.rescanMs,
        this.options.sharing,
      );
      try {
        await manager.addResource(resource);
      } catch (err) {
        if (strict) throw err;
        log.error('cannot serve resource from the config', { resource: spec.name, error: err as Error });
        continue;
      }
      this.served.set(spec.name, { spec, resource });
    }
  }
}
