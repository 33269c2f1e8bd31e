/**
 * A fake IBM Z host, its zcrypt emulator, the kubelet simulator (with PodResources) and the CEX
 * plugin built with short intervals, for the CEX suites. `stop()` tears all of it down.
 */
import * as path from 'path';
import { createLogger, PluginManager, type PodResources } from '../../../plugins/framework';
import { FakeIbmZ, type FakeCard } from '../../../simulator/devices/cex/fake-ibmz';
import { ZcryptEmulator } from '../../../simulator/devices/cex/zcrypt-emulator';
import { CexPlugin } from '../../../plugins/cex/plugin';
import type { CexSettings } from '../../../plugins/cex/settings';
import { KubeletSimulator } from '../../../simulator/kubelet';
import { removeDir, tempDir } from '../../helpers/tmp';

export const NODE = 'node-a';

/** ep11 card 0 (domains 6, 7), cca card 1 (domain 6), accel card 0x0a (domain 0x1f). */
export const CARDS: FakeCard[] = [
  { adapter: 0, type: 'CEX7P', domains: [6, 7] },
  { adapter: 1, type: 'CEX8C', domains: [6] },
  { adapter: 10, type: 'CEX6A', domains: [31] },
];

export const MACHINE_ID = 'IBM-8561-00000000000A1B2C';

export const CONFIG = {
  cryptoconfigsets: [
    {
      setname: 'blue',
      project: 'blue-ns',
      cexmode: 'ep11',
      apqns: [
        { adapter: 0, domain: 6 },
        { adapter: 0, domain: 7 },
      ],
    },
    {
      setname: 'red',
      project: 'red-ns',
      cexmode: 'cca',
      overcommit: 2,
      livesysfs: 0,
      apqns: [{ adapter: 1, domain: 6, machineid: MACHINE_ID }],
    },
  ],
};

export const BLUE = 'cex.s390.ibm.com/blue';
export const RED = 'cex.s390.ibm.com/red';

export interface LogRecord {
  level: string;
  msg: string;
  [key: string]: unknown;
}

export interface HarnessOptions {
  cards?: FakeCard[];
  config?: unknown;
  settings?: Partial<CexSettings>;
  podResources?: { list(): Promise<PodResources[]> };
  /** Do not start the plugin (tests that start it themselves). */
  noStart?: boolean;
}

export class CexHarness {
  readonly dir = tempDir('kdp-cex-');
  readonly host: FakeIbmZ;
  readonly emulator: ZcryptEmulator;
  readonly kubelet: KubeletSimulator;
  readonly logs: LogRecord[] = [];
  manager!: PluginManager;
  cex!: CexPlugin;

  constructor(private readonly options: HarnessOptions = {}) {
    this.host = FakeIbmZ.create(path.join(this.dir, 'host'), options.cards ?? CARDS);
    this.host.writeConfig(options.config ?? CONFIG);
    this.emulator = ZcryptEmulator.forHost({ ...this.host.paths });
    this.kubelet = new KubeletSimulator({
      devicePluginDir: this.devicePluginDir,
      podResourcesSocket: path.join(this.dir, 'pr.sock'),
    });
  }

  get devicePluginDir(): string {
    return path.join(this.dir, 'dp');
  }

  get settings(): CexSettings {
    return {
      nodeName: NODE,
      ...this.host.settings,
      podResourcesSocket: path.join(this.dir, 'pr.sock'),
      apqnCheckIntervalMs: 100,
      // Far beyond any test: config changes must be seen by the watch, not by this poll.
      configCheckIntervalMs: 600_000,
      podListerPollMs: 100,
      deleteNeverUsedMs: 600_000,
      deleteUnusedMs: 600_000,
      overcommitLimit: 1,
      liveSysfs: true,
      nodeTimeoutMs: 3000,
      ...this.options.settings,
    };
  }

  async start(): Promise<this> {
    this.emulator.start();
    await this.kubelet.start();
    if (!this.options.noStart) await this.startPlugin();
    return this;
  }

  /** Start (or start again) the plugin with a fresh manager. */
  async startPlugin(settings: Partial<CexSettings> = {}): Promise<CexPlugin> {
    const log = createLogger({ level: 'debug', write: (line) => this.logs.push(JSON.parse(line)) });
    this.manager = new PluginManager({ devicePluginDir: this.devicePluginDir, log, pollIntervalMs: 200 });
    this.cex = new CexPlugin(
      { ...this.settings, ...settings },
      { manager: this.manager, log, podResources: this.options.podResources },
    );
    try {
      await this.cex.start();
    } catch (err) {
      await this.stopPlugin();
      throw err;
    }
    return this.cex;
  }

  async stopPlugin(): Promise<void> {
    await this.cex?.stop();
    await this.manager?.stop();
  }

  async stop(): Promise<void> {
    try {
      await this.stopPlugin();
      await this.kubelet.stop();
      await this.emulator.stop();
    } finally {
      removeDir(this.dir);
    }
  }

  logged(msg: string | RegExp, level?: string): LogRecord[] {
    return this.logs.filter(
      (r) => (typeof msg === 'string' ? r.msg === msg : msg.test(r.msg)) && (!level || r.level === level),
    );
  }

  deviceIds(resource: string): string[] {
    return (this.kubelet.resource(resource)?.devices ?? []).map((d) => d.id).sort();
  }

  health(resource: string, id: string): string | undefined {
    return this.kubelet.resource(resource)?.devices.find((d) => d.id === id)?.health;
  }
}

/** Build, start, run `fn`, and always tear down. */
export async function withCex(options: HarnessOptions, fn: (h: CexHarness) => Promise<void>): Promise<void> {
  const harness = new CexHarness(options);
  try {
    await harness.start();
    await fn(harness);
  } finally {
    await harness.stop();
  }
}

/** `test` for suites that mknod: runs as root (and always under CI), else skips with the reason. */
export const rootTest: jest.It = (() => {
  const why = ZcryptEmulator.unavailable();
  if (!why || process.env.CI === 'true') return test;
  console.warn(`SKIPPED CEX device-node tests: ${why}`);
  return test.skip;
})();
