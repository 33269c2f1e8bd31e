/**
 * CXI figures: how long a full rescan (sysfs discovery + opening every /dev/cxiN) takes for a usual
 * node (8 NICs) and a stress case (256), Allocate latency through the kubelet simulator (direct and
 * CDI mode), how soon a hot-plugged NIC reaches ListAndWatch, and a cxi-cdi-generator run.
 * The issue sets no targets for these, so the rows carry none.
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { silentLogger } from '../../plugins/framework';
import { startPlugin } from '../../plugins/cli/command';
import { command } from '../../plugins/cxi/command';
import {
  addFixtureNic,
  buildCxiFixture,
  deviceNodesUnavailable,
  type CxiFixture,
  type FixtureNic,
} from '../../simulator/devices/cxi';
import { generateCxiSpec } from '../../plugins/cxi/generator';
import { CxiPlugin } from '../../plugins/cxi/plugin';
import { KubeletSimulator } from '../../simulator/kubelet';
import { ms, percentile, type BenchRow, type BenchScenario } from '../scenario';

const RESOURCE = 'beta.hpe.com/cxi';

function now(): number {
  return Number(process.hrtime.bigint()) / 1e6;
}

function nics(count: number): FixtureNic[] {
  return Array.from({ length: count }, (_, i) => ({
    number: i,
    pciAddress: `0000:${(Math.floor(i / 32) + 1).toString(16).padStart(2, '0')}:${(i % 32).toString(16).padStart(2, '0')}.0`,
    numaNode: i % 2,
  }));
}

function withFixture<T>(count: number, fn: (fx: CxiFixture) => Promise<T>): Promise<T> {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'kdp-bcxi-'));
  return fn(buildCxiFixture(root, nics(count))).finally(() =>
    fs.rmSync(root, { recursive: true, force: true }),
  );
}

function roots(fx: CxiFixture) {
  return { sysfsRoot: fx.sysfsRoot, devfsRoot: fx.devfsRoot, ofiRoot: fx.ofiRoot, cxiRoot: fx.cxiRoot };
}

async function rescan(count: number): Promise<BenchRow> {
  return withFixture(count, async (fx) => {
    const plugin = new CxiPlugin({
      resourceName: RESOURCE,
      ...roots(fx),
      virtualDevices: 1,
      rescanIntervalMs: 3_600_000,
      healthIntervalMs: 3_600_000,
      log: silentLogger,
    });
    plugin.start(() => undefined);
    const samples: number[] = [];
    for (let i = 0; i < 50; i++) {
      const t0 = now();
      plugin.rescan();
      samples.push(now() - t0);
    }
    plugin.stop();
    return {
      metric: `full rescan, ${count} NICs (discovery + health), median of 50`,
      value: ms(percentile(samples, 50)),
    };
  });
}

async function generator(count: number): Promise<BenchRow> {
  return withFixture(count, async (fx) => {
    const samples: number[] = [];
    for (let i = 0; i < 10; i++) {
      fs.rmSync(fx.cdiDir, { recursive: true, force: true });
      const t0 = now();
      generateCxiSpec({ ...roots(fx), cdiDir: fx.cdiDir, dryRun: false, log: silentLogger });
      samples.push(now() - t0);
    }
    return {
      metric: `cxi-cdi-generator, ${count} NICs (discover + write spec), median of 10`,
      value: ms(percentile(samples, 50)),
    };
  });
}

/** Allocate latency and hot-plug latency against one running plugin. */
async function served(cdi: boolean): Promise<BenchRow[]> {
  return withFixture(8, async (fx) => {
    const dpDir = fs.mkdtempSync(path.join(os.tmpdir(), 'kdp-bdp-'));
    const kubelet = new KubeletSimulator({ devicePluginDir: dpDir });
    await kubelet.start();
    if (cdi) generateCxiSpec({ ...roots(fx), cdiDir: fx.cdiDir, dryRun: false, log: silentLogger });
    const running = await startPlugin(
      command,
      [
        `--device-plugin-dir=${dpDir}`,
        `--sysfs-root=${fx.sysfsRoot}`,
        `--devfs-root=${fx.devfsRoot}`,
        `--ofi-root=${fx.ofiRoot}`,
        `--cxi-root=${fx.cxiRoot}`,
        `--cdi-dir=${fx.cdiDir}`,
        '--rescan-interval=1h',
        ...(cdi ? ['--cdi'] : []),
      ],
      { env: {}, logWrite: () => undefined },
    );
    try {
      await kubelet.waitForRegistration(RESOURCE, 10_000);
      const samples: number[] = [];
      for (let i = 0; i < 300; i++) {
        const t0 = now();
        await kubelet.allocate(RESOURCE, [[String(i % 8)], [String((i + 1) % 8), String((i + 2) % 8)]]);
        samples.push(now() - t0);
      }
      const mode = cdi ? 'CDI mode' : 'direct mode';
      const rows: BenchRow[] = [
        {
          metric: `Allocate (2 containers, 3 NICs), ${mode}, p50 of 300`,
          value: ms(percentile(samples, 50)),
        },
        {
          metric: `Allocate (2 containers, 3 NICs), ${mode}, p99 of 300`,
          value: ms(percentile(samples, 99)),
        },
      ];
      if (!cdi) {
        const plug: number[] = [];
        for (let i = 0; i < 10; i++) {
          const number = 100 + i;
          const t0 = now();
          addFixtureNic(fx, { number, pciAddress: `0000:f${i}:00.0`, numaNode: 0 });
          await kubelet.waitFor(() => kubelet.capacity(RESOURCE) === 9 + i, 5000, `NIC ${number}`);
          plug.push(now() - t0);
        }
        rows.push({
          metric: 'hot-plug: NIC added (sysfs + mknod /dev/cxiN, both timed) → in ListAndWatch, median of 10',
          value: ms(percentile(plug, 50)),
        });
      }
      return rows;
    } finally {
      await running.stop();
      await kubelet.stop();
      fs.rmSync(dpDir, { recursive: true, force: true });
    }
  });
}

export const bench: BenchScenario = {
  name: 'cxi',
  unavailable: deviceNodesUnavailable,
  async run() {
    return [
      await rescan(8),
      await rescan(256),
      await generator(8),
      await generator(256),
      ...(await served(false)),
      ...(await served(true)),
    ];
  },
};
