/**
 * The CEX family as a whole: reads the machine id and the crypto configuration, scans the APQNs,
 * serves one resource per config set (added and withdrawn as sets come and go), and runs clean-up
 * and metrics. `command.ts` builds it from the environment; tests build it with short intervals.
 */
import * as fs from 'fs';
import * as path from 'path';
import {
  readConfigFile,
  PodResourcesClient,
  watchDirs,
  type Logger,
  type PluginManager,
  type PodResources,
  type Watch,
  UsageError,
} from '../framework';
import { CexAllocator } from './allocator';
import { requestCount, scanApqns, type Apqn } from './ap-bus';
import { parseCryptoConfig, resolveSet, type CryptoConfig, type ResolvedSet } from './config';
import { setNameOf } from './ids';
import { KeyedLock } from './keyed-lock';
import { CexMetrics, type SetFigures } from './metrics';
import { ResourceReaper } from './reaper';
import { CexSetPlugin, eligibleApqns } from './set-plugin';
import type { CexSettings } from './settings';
import { ShadowSysfs } from './shadow-sysfs';
import { readMachineId } from './sysinfo';
import { ZcryptNodes } from './zcrypt';

export interface CexPluginDeps {
  manager: PluginManager;
  log: Logger;
  /** Replaces the kubelet PodResources client (default: one on settings.podResourcesSocket). */
  podResources?: { list(): Promise<PodResources[]> };
}

export class CexPlugin {
  readonly reaper: ResourceReaper;
  readonly metrics: CexMetrics;
  private readonly log: Logger;
  private readonly zcrypt: ZcryptNodes;
  private readonly shadow: ShadowSysfs;
  private readonly allocator: CexAllocator;
  private readonly podClient?: PodResourcesClient;
  private readonly sets = new Map<string, CexSetPlugin>();
  private machineId = '';
  private apqns: Apqn[] = [];
  private lastApqns = '';
  private lastProblems = '';
  /** The config text last looked at, valid or not, so an unchanged file is not re-applied or re-reported. */
  private lastSeen?: string;
  private reloads: Promise<void> = Promise.resolve();
  private configWatch?: Watch;
  private scanTimer?: NodeJS.Timeout;
  private stopped = false;

  constructor(
    readonly settings: CexSettings,
    private readonly deps: CexPluginDeps,
  ) {
    this.log = deps.log;
    this.zcrypt = new ZcryptNodes({
      classDir: settings.zcryptClassDir,
      devfsRoot: settings.devfsRoot,
      nodeTimeoutMs: settings.nodeTimeoutMs,
    });
    this.shadow = new ShadowSysfs({
      baseDir: settings.shadowBaseDir,
      apBusDir: settings.apBusDir,
      apDevsDir: settings.apDevsDir,
    });
    const lock = new KeyedLock();
    this.metrics = new CexMetrics(deps.manager.metrics.registry, settings.nodeName, () => this.figures());
    if (!deps.podResources)
      this.podClient = new PodResourcesClient(
        settings.podResourcesSocket,
        Math.min(5000, settings.podListerPollMs),
      );
    const node = { node: settings.nodeName };
    this.reaper = new ResourceReaper({
      zcrypt: this.zcrypt,
      shadow: this.shadow,
      lock,
      podResources: deps.podResources ?? (this.podClient as PodResourcesClient),
      pollMs: settings.podListerPollMs,
      deleteUnusedMs: settings.deleteUnusedMs,
      deleteNeverUsedMs: settings.deleteNeverUsedMs,
      projectOf: (resource) => this.sets.get(setNameOf(resource) ?? '')?.config.project,
      onDestroyed: (reason) => this.metrics.cleanups.inc({ ...node, reason }),
      log: this.log.with({ component: 'cleanup' }),
    });
    this.allocator = new CexAllocator({
      zcrypt: this.zcrypt,
      shadow: this.shadow,
      reaper: this.reaper,
      lock,
      onNodeCreated: () => this.metrics.nodesCreated.inc(node),
    });
  }

  /**
   * Check the host, read the configuration and serve every set. What is missing on the host is a
   * UsageError (exit 2) naming the env var to check: on a real IBM Z node it is the setting that is wrong.
   */
  async start(): Promise<void> {
    const s = this.settings;
    for (const [dir, env] of [
      [s.apBusDir, 'APSYSFS_BUSDIR'],
      [s.apDevsDir, 'APSYSFS_DEVSDIR'],
    ])
      if (!fs.existsSync(dir)) throw new UsageError(`no AP bus support: ${dir} (${env}) does not exist`);
    try {
      this.machineId = readMachineId(s.sysinfoFile);
    } catch (err) {
      throw new UsageError(`cannot read the machine id: ${(err as Error).message}`);
    }
    if (!this.zcrypt.supported())
      throw new UsageError(
        `no zcrypt multiple device node support: ${path.join(s.zcryptClassDir, 'create')} (ZCRYPT_CLASSDIR) does not exist`,
      );
    try {
      this.shadow.init();
    } catch (err) {
      throw new UsageError(`shadow sysfs base dir (SHADOWSYSFS_BASEDIR): ${(err as Error).message}`);
    }
    this.rescan();
    this.log.info('CEX plugin starting', {
      node: s.nodeName,
      machineId: this.machineId,
      apqns: this.apqns.length,
      configFile: s.configFile,
    });

    const config = this.readInitialConfig();
    await this.apply(config, true);

    this.configWatch = watchDirs({
      // ConfigMap updates swap the `..data` symlink in the file's dir: watch the dir, not the file.
      dirs: [path.dirname(s.configFile)],
      onChange: () => void this.reloadConfig(),
      pollMs: s.configCheckIntervalMs,
      debounceMs: 50,
      log: this.log,
    });
    this.scanTimer = setInterval(() => this.rescan(), s.apqnCheckIntervalMs);
    this.scanTimer.unref();
    this.reaper.start();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.configWatch?.close();
    clearInterval(this.scanTimer);
    this.reaper.stop();
    await this.reloads;
    this.podClient?.close();
    // Zcrypt nodes and shadow dirs stay: running containers use them; the next start rediscovers them.
  }

  setNames(): string[] {
    return [...this.sets.keys()].sort();
  }

  setPlugin(name: string): CexSetPlugin | undefined {
    return this.sets.get(name);
  }

  /** Re-read the config file and apply it if it changed and is valid. Calls are serialised. */
  reloadConfig(): Promise<void> {
    this.reloads = this.reloads
      .then(() => this.reloadOnce())
      .catch((err) => this.log.error('applying the crypto configuration failed', { error: err as Error }));
    return this.reloads;
  }

  /** Rescan the APQNs and refresh every set's devices. */
  rescan(): void {
    let scan;
    try {
      scan = scanApqns(this.settings.apDevsDir);
    } catch (err) {
      this.log.warn('cannot scan the AP bus; keeping the last device lists', {
        dir: this.settings.apDevsDir,
        error: err as Error,
      });
      return;
    }
    this.apqns = scan.apqns;
    const problems = scan.problems.join('\n');
    if (problems && problems !== this.lastProblems)
      this.log.warn('some AP devices could not be read', { problems: scan.problems });
    this.lastProblems = problems;
    const key = JSON.stringify(this.apqns);
    if (key !== this.lastApqns)
      this.log.info('APQNs on this node', {
        apqns: this.apqns.map(
          (a) => `${a.adapter}.${a.domain} cex${a.gen} ${a.mode}${a.online ? '' : ' offline'}`,
        ),
      });
    this.lastApqns = key;
    for (const plugin of this.sets.values()) plugin.refresh();
  }

  private readInitialConfig(): CryptoConfig {
    const file = this.settings.configFile;
    let text: string;
    try {
      text = readConfigFile(file);
    } catch (err) {
      throw new UsageError(
        `cannot read the crypto configuration ${file} (CCS_JSON_FILE): ${(err as Error).message}`,
      );
    }
    this.lastSeen = text;
    const parsed = parseCryptoConfig(text);
    if ('errors' in parsed)
      throw new UsageError(
        `invalid crypto configuration ${file} (CCS_JSON_FILE): ${parsed.errors.join('; ')}`,
      );
    for (const warning of parsed.warnings) this.log.warn('crypto configuration', { file, warning });
    return parsed.config;
  }

  private async reloadOnce(): Promise<void> {
    if (this.stopped) return;
    const file = this.settings.configFile;
    const node = { node: this.settings.nodeName };
    let text: string;
    try {
      text = readConfigFile(file);
    } catch (err) {
      const marker = `\0unreadable ${(err as NodeJS.ErrnoException).code}`;
      if (marker !== this.lastSeen) {
        this.lastSeen = marker;
        this.metrics.configReloads.inc({ ...node, result: 'unreadable' });
        this.log.error('cannot read the crypto configuration; keeping the last good one', {
          file,
          error: err as Error,
          sets: this.setNames(),
        });
      }
      return;
    }
    if (text === this.lastSeen) return;
    this.lastSeen = text;
    const parsed = parseCryptoConfig(text);
    if ('errors' in parsed) {
      this.metrics.configReloads.inc({ ...node, result: 'invalid' });
      this.log.error('new crypto configuration is invalid; keeping the last good one', {
        file,
        errors: parsed.errors,
        sets: this.setNames(),
      });
      return;
    }
    for (const warning of parsed.warnings) this.log.warn('crypto configuration', { file, warning });
    this.metrics.configReloads.inc({ ...node, result: 'applied' });
    await this.apply(parsed.config, false);
  }

  /** Make the served resources match `config`: withdraw removed sets, update changed ones, add new ones. */
  private async apply(config: CryptoConfig, starting: boolean): Promise<void> {
    const defaults = { overcommit: this.settings.overcommitLimit, liveSysfs: this.settings.liveSysfs };
    const wanted = new Map<string, ResolvedSet>(
      config.sets.map((set) => [set.setName, resolveSet(set, defaults)]),
    );
    const added: string[] = [];
    const removed: string[] = [];
    const changed: string[] = [];
    for (const [name, plugin] of [...this.sets]) {
      if (wanted.has(name)) continue;
      plugin.retire();
      this.sets.delete(name);
      await this.deps.manager.removeResource(plugin.resourceName);
      removed.push(name);
    }
    for (const [name, set] of wanted) {
      const existing = this.sets.get(name);
      if (existing) {
        if (JSON.stringify(existing.config) === JSON.stringify(set)) continue;
        existing.update(set);
        changed.push(name);
        continue;
      }
      const plugin = new CexSetPlugin(set, {
        allocator: this.allocator,
        machineId: this.machineId,
        apqns: () => this.apqns,
        log: this.log,
      });
      this.sets.set(name, plugin);
      try {
        await this.deps.manager.addResource(plugin);
      } catch (err) {
        this.sets.delete(name);
        if (starting) throw err;
        this.log.error('cannot serve a new config set', { set: name, error: err as Error });
        continue;
      }
      added.push(name);
    }
    this.log.info(starting ? 'crypto configuration loaded' : 'crypto configuration changed', {
      sets: this.setNames(),
      added,
      removed,
      changed,
    });
    if (this.sets.size === 0)
      this.log.warn('no crypto config sets are configured: no CEX resources are offered');
  }

  private figures(): SetFigures[] {
    const violations = this.reaper.projectViolations();
    return [...this.sets.values()].map((plugin) => {
      const set = plugin.config;
      const { eligible } = eligibleApqns(set, this.apqns, this.machineId);
      return {
        set: set.name,
        available: plugin.devices().filter((d) => d.health === 'Healthy').length,
        used: this.reaper.usedIds(set.resourceName).size,
        requests: eligible.reduce(
          (n, a) => n + requestCount(this.settings.apDevsDir, a.adapter, a.domain),
          0,
        ),
        projectViolations: violations.filter((v) => v.resource === set.resourceName).length,
      };
    });
  }
}
