/**
 * Health propagation of the device-node families: how long from a device node being removed (unlink) to
 * the kubelet seeing it (every tdx/kvm ID Unhealthy; the devnode ID gone), and from it being re-created
 * (mknod) to Healthy again. Each family runs in this process against its fixture tree and the kubelet
 * simulator; the clock runs from the filesystem call to the ListAndWatch update arriving at the kubelet.
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { performance } from 'perf_hooks';
import type { PluginCommand } from '../../plugins/cli/command';
import {
  fixturesDir,
  fixturesUnavailable,
  makeNode,
  startOnFixture,
} from '../../simulator/devices/device-nodes';
import { command as devnode } from '../../plugins/devnode/command';
import { command as kvm } from '../../plugins/kvm/command';
import { command as tdx } from '../../plugins/tdx/command';
import { KubeletSimulator } from '../../simulator/kubelet';
import { ms, percentile, type BenchRow, type BenchScenario } from '../scenario';

const RUNS = 50;
const TARGET_MS = 100;

interface Family {
  command: PluginCommand;
  resource: string;
  /** The node removed and re-created, relative to the devfs root, and its device numbers. */
  node: string;
  devno: [number, number];
  args(root: string): string[];
  /** The kubelet's view once the removal has arrived, and once the return has. */
  removed(kubelet: KubeletSimulator): boolean;
  restored(kubelet: KubeletSimulator): boolean;
}

const allHealth = (kubelet: KubeletSimulator, resource: string, health: string) => {
  const devices = kubelet.resource(resource)?.devices ?? [];
  return devices.length > 0 && devices.every((d) => d.health === health);
};
const sharedFamily = (
  command: PluginCommand,
  resource: string,
  node: string,
  args: (root: string) => string[],
): Family => ({
  command,
  resource,
  node,
  devno: [1, 3],
  args,
  removed: (k) => allHealth(k, resource, 'Unhealthy'),
  restored: (k) => allHealth(k, resource, 'Healthy'),
});

const CRAND = 'github.com.ihcsim/crand';
const hasCrand1 = (k: KubeletSimulator) => (k.resource(CRAND)?.devices ?? []).some((d) => d.id === 'crand1');

const FAMILIES: Family[] = [
  sharedFamily(tdx, 'tdx.intel.com/tdx-guest', 'tdx_guest', (root) => [
    `--uds-dir=${path.join(root, 'uds')}`,
  ]),
  sharedFamily(kvm, 'github.com.ihcsim/kvm', 'kvm', () => []),
  {
    command: devnode,
    resource: CRAND,
    node: 'crand1',
    devno: [1, 8],
    args: () => [`--config=${path.join(fixturesDir(), 'devnode', 'crand.yaml')}`],
    removed: (k) => !hasCrand1(k),
    restored: hasCrand1,
  },
];

async function measure(family: Family): Promise<{ removed: number[]; restored: number[] }> {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'kdp-bench-'));
  const devicePluginDir = path.join(root, 'dp');
  const kubelet = new KubeletSimulator({ devicePluginDir });
  await kubelet.start();
  const { tree, running } = await startOnFixture(family.command, root, devicePluginDir, family.args(root), {
    logWrite: () => undefined,
  });
  const node = path.join(tree.devfsRoot, family.node);
  const removed: number[] = [];
  const restored: number[] = [];
  try {
    await kubelet.waitForRegistration(family.resource, 10_000);
    for (let i = 0; i < RUNS; i++) {
      let t0 = performance.now();
      fs.rmSync(node);
      await kubelet.waitFor(() => family.removed(kubelet), 5000, `${family.node} removal`);
      removed.push(performance.now() - t0);

      const [major, minor] = family.devno;
      const temp = path.join(tree.root, `.${family.node}.new`);
      makeNode(temp, { type: 'char', major, minor }); // mknod outside the devfs root, then one rename in
      t0 = performance.now();
      fs.renameSync(temp, node);
      await kubelet.waitFor(() => family.restored(kubelet), 5000, `${family.node} return`);
      restored.push(performance.now() - t0);
    }
  } finally {
    await running.stop();
    await kubelet.stop();
    fs.rmSync(root, { recursive: true, force: true });
  }
  return { removed, restored };
}

function summary(values: number[]): string {
  return `p50 ${ms(percentile(values, 50))}, p99 ${ms(percentile(values, 99))}, max ${ms(Math.max(...values))}`;
}

export const bench: BenchScenario = {
  name: 'device-nodes',
  unavailable: fixturesUnavailable,
  async run(): Promise<BenchRow[]> {
    const rows: BenchRow[] = [];
    for (const family of FAMILIES) {
      const { removed, restored } = await measure(family);
      const name = family.command.name;
      rows.push({
        metric: `${name}: node removed → kubelet sees it (${family.node}, ${RUNS} runs)`,
        value: summary(removed),
        target: `≤ ${TARGET_MS} ms`,
        met: Math.max(...removed) <= TARGET_MS,
      });
      rows.push({
        metric: `${name}: node back → Healthy at the kubelet (${RUNS} runs)`,
        value: summary(restored),
      });
    }
    return rows;
  },
};
