/** The netdevice plugin started in-process against the kubelet simulator, with its logs captured. */
import * as path from 'path';
import { startPlugin, type RunningPlugin } from '../../../plugins/cli/command';
import { command } from '../../../plugins/netdevice/command';
import type { NetdevicePlugin } from '../../../plugins/netdevice/plugin';
import { DEFAULT_RESOURCE_NAME, specFileName } from '../../../plugins/netdevice/spec';
import { KubeletSimulator } from '../../../simulator/kubelet';
import { removeDir, tempDir } from '../../helpers/tmp';
import { NetFixture } from './net';

export const RESOURCE = DEFAULT_RESOURCE_NAME;

export interface Netdevice {
  /** The resource served: --resource-name from the args, or the default. */
  resource: string;
  dir: string;
  cdiDir: string;
  podResourcesSocket: string;
  kubelet: KubeletSimulator;
  running: RunningPlugin;
  plugin: NetdevicePlugin;
  logs: string[];
  /** Device IDs the kubelet sees, with health, sorted: `a0:Healthy`. */
  seen(): string[];
  specPath(): string;
  stop(): Promise<void>;
}

/**
 * Start the kubelet simulator (serving PodResources) and the plugin with `args` plus test paths.
 * `beforePlugin` prepares the kubelet first (e.g. pods that already hold interfaces).
 */
export async function startNetdevice(
  args: string[],
  beforePlugin?: (kubelet: KubeletSimulator) => void,
): Promise<Netdevice> {
  const dir = tempDir('kdn-');
  const cdiDir = path.join(dir, 'cdi');
  const podResourcesSocket = path.join(dir, 'pr.sock');
  const kubelet = new KubeletSimulator({ devicePluginDir: dir, podResourcesSocket });
  const logs: string[] = [];
  const nameAt = args.indexOf('--resource-name');
  const resource = nameAt >= 0 ? args[nameAt + 1] : RESOURCE;
  let running: RunningPlugin | undefined;
  let plugin: NetdevicePlugin;
  // Everything up to the returned handle is in here: a failure after the plugin started must stop it,
  // or its `ip monitor` child and the kubelet's sockets keep jest from ever exiting.
  try {
    await kubelet.start();
    beforePlugin?.(kubelet);
    running = await startPlugin(
      command,
      [
        '--device-plugin-dir',
        dir,
        '--cdi-dir',
        cdiDir,
        '--pod-resources-socket',
        podResourcesSocket,
        ...args,
      ],
      { env: {}, logWrite: (line) => logs.push(line), manager: { pollIntervalMs: 200 } },
    );
    await kubelet.waitForRegistration(resource, 5000);
    const server = running.manager.server(resource);
    if (!server) throw new Error(`the plugin serves no resource ${resource}`);
    plugin = server.plugin as NetdevicePlugin;
  } catch (err) {
    await running?.stop();
    await kubelet.stop();
    removeDir(dir);
    throw err;
  }
  const started = running;
  return {
    resource,
    dir,
    cdiDir,
    podResourcesSocket,
    kubelet,
    running: started,
    plugin,
    logs,
    seen: () => (kubelet.resource(resource)?.devices ?? []).map((d) => `${d.id}:${d.health}`).sort(),
    specPath: () => path.join(cdiDir, specFileName(resource)),
    async stop() {
      await started.stop();
      await kubelet.stop();
      removeDir(dir);
    },
  };
}

/** The kubelet's view, for `waitFor`: exactly these `id:health` entries. */
export function sees(nd: Netdevice, ...expected: string[]): () => boolean {
  const want = [...expected].sort().join(',');
  return () => nd.seen().join(',') === want;
}

/** Log records (JSON lines) whose message contains `text`. */
export function logRecords(nd: Netdevice, text: string): Record<string, unknown>[] {
  return nd.logs
    .map((line) => JSON.parse(line) as Record<string, unknown>)
    .filter((r) => String(r.msg).includes(text));
}

export interface NetdeviceSuite {
  /** This test's veths and namespaces (removed after each test). */
  readonly net: NetFixture;
  /** Start the plugin (stopping one this test started before); stopped after each test. */
  start(args: string[], beforePlugin?: (kubelet: KubeletSimulator) => void): Promise<Netdevice>;
  /** `start` offering this test's veths (`--interfaces ^<prefix>a`) plus `args`. */
  startOffering(args?: string[], beforePlugin?: (kubelet: KubeletSimulator) => void): Promise<Netdevice>;
  stop(): Promise<void>;
}

/** Per-test network fixtures and plugin, torn down after each test even when it failed. */
export function netdeviceSuite(): NetdeviceSuite {
  let net: NetFixture;
  let running: Netdevice | undefined;
  const stop = async () => {
    const current = running;
    running = undefined;
    await current?.stop();
  };
  beforeEach(() => (net = new NetFixture()));
  afterEach(async () => {
    try {
      await stop();
    } finally {
      net.cleanup();
    }
  });
  return {
    get net() {
      return net;
    },
    async start(args, beforePlugin) {
      await stop();
      running = await startNetdevice(args, beforePlugin);
      return running;
    },
    startOffering(args = [], beforePlugin) {
      return this.start(['--interfaces', `^${net.prefix}a`, ...args], beforePlugin);
    },
    stop,
  };
}
