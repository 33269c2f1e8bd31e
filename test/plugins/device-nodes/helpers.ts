/** Shared set-up of the device-node family tests: root-only suites, sandboxes, in-process and real plugins. */
import { spawn, type ChildProcess } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import { startPlugin, type PluginCommand, type RunningPlugin } from '../../../plugins/cli/command';
import { buildFixture, type BuiltTree } from '../../../simulator/devices/device-nodes';
import { KubeletSimulator } from '../../../simulator/kubelet';
import { describeAsRoot, describeUnless, openFds } from '../../helpers/root';
import { removeDir, tempDir } from '../../helpers/tmp';

export const REPO_ROOT = path.resolve(__dirname, '..', '..', '..');

export { describeAsRoot, openFds };

export interface Sandbox extends BuiltTree {
  devicePluginDir: string;
  cdiDir: string;
  kubelet: KubeletSimulator;
  /** Flags pointing a plugin at this sandbox. */
  flags: string[];
  close(): Promise<void>;
}

/** A fixture tree (fixtures/<family>/tree.yaml, or empty) plus a running kubelet simulator. */
export async function sandbox(family?: string): Promise<Sandbox> {
  const root = tempDir('kdn-');
  const tree = family ? buildFixture(family, root) : emptyTree(root);
  const devicePluginDir = path.join(root, 'dp');
  const cdiDir = path.join(root, 'cdi');
  const kubelet = new KubeletSimulator({ devicePluginDir });
  await kubelet.start();
  return {
    ...tree,
    devicePluginDir,
    cdiDir,
    kubelet,
    flags: [
      `--device-plugin-dir=${devicePluginDir}`,
      `--devfs-root=${tree.devfsRoot}`,
      `--sysfs-root=${tree.sysfsRoot}`,
      `--cdi-dir=${cdiDir}`,
    ],
    async close() {
      await kubelet.stop();
      removeDir(root);
    },
  };
}

function emptyTree(root: string): BuiltTree {
  const tree = { root, devfsRoot: path.join(root, 'dev'), sysfsRoot: path.join(root, 'sys') };
  fs.mkdirSync(tree.devfsRoot, { recursive: true });
  fs.mkdirSync(tree.sysfsRoot, { recursive: true });
  return tree;
}

export interface InProcess {
  running: RunningPlugin;
  logs: Record<string, unknown>[];
  stop(): Promise<void>;
}

/** Start a family in this process with its logs captured (JSON lines, parsed). */
export async function startInProcess(
  command: PluginCommand,
  argv: string[],
  env: NodeJS.ProcessEnv = {},
): Promise<InProcess> {
  const logs: Record<string, unknown>[] = [];
  const running = await startPlugin(command, ['--log-level=debug', ...argv], {
    env,
    manager: { pollIntervalMs: 200, initialBackoffMs: 20, maxBackoffMs: 200 },
    logWrite: (line) => logs.push(JSON.parse(line) as Record<string, unknown>),
  });
  return { running, logs, stop: () => running.stop() };
}

/** The health of every ID the kubelet simulator has for `resource`, collapsed: 'Healthy', 'Unhealthy', 'mixed' or 'none'. */
export function kubeletHealth(kubelet: KubeletSimulator, resource: string): string {
  const devices = kubelet.resource(resource)?.devices ?? [];
  const states = new Set(devices.map((d) => d.health));
  if (states.size === 0) return 'none';
  return states.size === 1 ? [...states][0] : 'mixed';
}

const CLI = path.join(REPO_ROOT, 'bin', 'kube-device-plugins.js');
const BUILT = path.join(REPO_ROOT, 'dist', 'plugins', 'cli', 'main.js');

/** `describe` for suites that run the built CLI: skipped with a reason when dist/ is missing, never under CI. */
export function describeWithBuild(name: string, fn: () => void): void {
  if (fs.existsSync(BUILT)) return describeAsRoot(name, fn);
  describeUnless(`${BUILT} is missing (run npm run build first)`, name, fn);
}

export interface Exited {
  code: number | null;
  signal: NodeJS.Signals | null;
  stderr: string;
}

/** Run `kube-device-plugins <family> <args>` as a real process. */
export function spawnCli(
  family: string,
  args: string[],
  env: NodeJS.ProcessEnv = {},
): { child: ChildProcess; exited: Promise<Exited> } {
  const child = spawn(process.execPath, [CLI, family, ...args], {
    env: { PATH: process.env.PATH, ...env },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const exited = new Promise<Exited>((resolve) =>
    child.on('exit', (code, signal) => resolve({ code, signal, stderr })),
  );
  return { child, exited };
}

/** The socket files in a device-plugin dir, except the kubelet's. */
export function pluginSockets(devicePluginDir: string): string[] {
  return fs.readdirSync(devicePluginDir).filter((f) => f !== 'kubelet.sock');
}

/**
 * Run `kube-device-plugins <family>` until `resources` are registered with the sandbox's kubelet, run
 * `check`, then SIGTERM it: it must exit 0 having removed every socket it created.
 */
export async function expectCleanSigterm(
  box: Sandbox,
  family: string,
  args: string[],
  resources: string[],
  check: () => void = () => undefined,
  env: NodeJS.ProcessEnv = {},
): Promise<void> {
  const { child, exited } = spawnCli(family, [...box.flags, ...args], env);
  try {
    for (const resource of resources) await box.kubelet.waitForRegistration(resource, 10_000);
    expect(pluginSockets(box.devicePluginDir)).toHaveLength(resources.length);
    check();
    child.kill('SIGTERM');
    expect((await exited).code).toBe(0);
    expect(pluginSockets(box.devicePluginDir)).toEqual([]);
  } finally {
    child.kill('SIGKILL');
  }
}

export interface FamilySandbox {
  /** This test's sandbox (fresh for every test). */
  readonly box: Sandbox;
  /** The plugin started by `start`, if any. */
  readonly plugin: InProcess | undefined;
  /** Start `command` in this process on the sandbox with `args` after the sandbox flags; stopped after the test. */
  start(args?: string[], env?: NodeJS.ProcessEnv): Promise<InProcess>;
  /** Stop the running plugin now (e.g. to start it again). */
  stop(): Promise<void>;
}

/** A fresh sandbox (fixtures/<family>, or empty) around every test of the suite, torn down afterwards. */
export function useFamilySandbox(command: PluginCommand, family?: string): FamilySandbox {
  let box: Sandbox | undefined;
  let plugin: InProcess | undefined;
  const context: FamilySandbox = {
    get box() {
      if (!box) throw new Error('the sandbox exists only inside a test');
      return box;
    },
    get plugin() {
      return plugin;
    },
    async start(args = [], env = {}) {
      plugin = await startInProcess(command, [...context.box.flags, ...args], env);
      return plugin;
    },
    async stop() {
      await plugin?.stop();
      plugin = undefined;
    },
  };
  beforeEach(async () => (box = await sandbox(family)));
  afterEach(async () => {
    await context.stop();
    await box?.close();
    box = undefined;
  });
  return context;
}
