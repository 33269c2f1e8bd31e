/**
 * Fixture trees for the device-node families. Git cannot hold device nodes, so fixtures/<family>/tree.yaml
 * describes them and this builder makes them under a scratch root with mknod (root only):
 *
 *   nodes:                  # under <root>/dev
 *     - { path: kvm, type: char, major: 1, minor: 3 }
 *   dirs:                   # plain directories under <root>
 *     - sys/kernel/config/tsm/report
 *
 * Tests, the demo and the bench all build their trees here, so they exercise real char devices.
 */
import { execFileSync } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import * as yaml from 'js-yaml';
import {
  startPlugin,
  type PluginCommand,
  type RunningPlugin,
  type StartOptions,
} from '../../plugins/cli/command';

export interface FixtureNode {
  /** Relative to `<root>/dev`. */
  path: string;
  type: 'char' | 'block';
  major: number;
  minor: number;
  /** Octal mode, default 0666. */
  mode?: string;
}

export interface FixtureTree {
  nodes?: FixtureNode[];
  dirs?: string[];
}

export interface BuiltTree {
  root: string;
  devfsRoot: string;
  sysfsRoot: string;
}

export function isRoot(): boolean {
  return process.getuid?.() === 0;
}

/** Why fixture trees cannot be built here, or undefined when they can. */
export function fixturesUnavailable(): string | undefined {
  return isRoot() ? undefined : 'device-node fixtures need root to mknod';
}

/** Create one device node (replacing whatever is at that path). */
export function makeNode(file: string, node: Omit<FixtureNode, 'path'>): void {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.rmSync(file, { force: true });
  execFileSync('mknod', [
    '-m',
    node.mode ?? '0666',
    file,
    node.type === 'char' ? 'c' : 'b',
    String(node.major),
    String(node.minor),
  ]);
}

/** Build `tree` under `root`: nodes under `<root>/dev`, dirs under `<root>`. */
export function buildTree(root: string, tree: FixtureTree): BuiltTree {
  const built = { root, devfsRoot: path.join(root, 'dev'), sysfsRoot: path.join(root, 'sys') };
  fs.mkdirSync(built.devfsRoot, { recursive: true });
  fs.mkdirSync(built.sysfsRoot, { recursive: true });
  for (const dir of tree.dirs ?? []) fs.mkdirSync(path.join(root, dir), { recursive: true });
  for (const node of tree.nodes ?? []) makeNode(path.join(built.devfsRoot, node.path), node);
  return built;
}

/** The repository's fixtures/ directory, from the sources (simulator/devices/) or from dist/simulator/devices/. */
export function fixturesDir(): string {
  const candidates = [
    path.join(__dirname, '..', '..', 'fixtures'),
    path.join(__dirname, '..', '..', '..', 'fixtures'),
  ];
  const found = candidates.find((dir) => fs.existsSync(dir));
  if (!found) throw new Error(`fixtures/ not found (looked in ${candidates.join(', ')})`);
  return found;
}

/** Build fixtures/<family>/tree.yaml under `root`. */
export function buildFixture(family: string, root: string): BuiltTree {
  const file = path.join(fixturesDir(), family, 'tree.yaml');
  return buildTree(root, yaml.load(fs.readFileSync(file, 'utf8')) as FixtureTree);
}

export interface FixturePlugin {
  tree: BuiltTree;
  running: RunningPlugin;
}

/**
 * Build fixtures/<family> under `root` and start the family on it in this process, as the demo and the
 * bench do: device-plugin dir from the caller, CDI specs under `<root>/cdi`, warnings and errors logged.
 */
export async function startOnFixture(
  command: PluginCommand,
  root: string,
  devicePluginDir: string,
  args: string[] = [],
  options: StartOptions = {},
): Promise<FixturePlugin> {
  const tree = buildFixture(command.name, root);
  const running = await startPlugin(
    command,
    [
      `--device-plugin-dir=${devicePluginDir}`,
      `--devfs-root=${tree.devfsRoot}`,
      `--sysfs-root=${tree.sysfsRoot}`,
      `--cdi-dir=${path.join(root, 'cdi')}`,
      '--log-level=warn',
      ...args,
    ],
    { env: {}, ...options },
  );
  return { tree, running };
}

/**
 * `node dist/simulator/devices/device-nodes.js <family> <root>`: build fixtures/<family>/tree.yaml under
 * `<root>` (for running a plugin by hand, README) and print the roots to point it at. Needs root (mknod).
 */
if (require.main === module) {
  const [family, root] = process.argv.slice(2);
  if (!family || !root) {
    process.stderr.write('usage: fixture.js <tdx|kvm|devnode> <root dir>\n');
    process.exit(2);
  }
  const tree = buildFixture(family, root);
  process.stdout.write(`--devfs-root=${tree.devfsRoot} --sysfs-root=${tree.sysfsRoot}\n`);
}
