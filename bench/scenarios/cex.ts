/**
 * CEX figures on a fake IBM Z host with the zcrypt kernel side emulated (the /dev node is made by a
 * `mknod` child process, standing in for devtmpfs/udev): Allocate latency through the kubelet
 * simulator when it creates the zcrypt node and shadow sysfs, and when it reuses an existing node;
 * how soon a ConfigMap swap that adds a set becomes a registered resource; one clean-up pass over
 * 100 nodes. The shadow-tree row shows the file-system share of an Allocate: on a disk where each
 * file creation costs milliseconds it dominates. The issue sets no targets, so the rows carry none.
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { FakeIbmZ } from '../../simulator/devices/cex/fake-ibmz';
import { ZcryptEmulator } from '../../simulator/devices/cex/zcrypt-emulator';
import { CexPlugin } from '../../plugins/cex/plugin';
import { ShadowSysfs } from '../../plugins/cex/shadow-sysfs';
import { PluginManager, silentLogger } from '../../plugins/framework';
import { KubeletSimulator } from '../../simulator/kubelet';
import { ms, percentile, type BenchRow, type BenchScenario } from '../scenario';

const DEVICES = 100;
const set = (name: string, adapter: number, overcommit: number) => ({
  setname: name,
  project: 'bench',
  apqns: [{ adapter, domain: 1 }],
  overcommit,
});

function now(): number {
  return Number(process.hrtime.bigint()) / 1e6;
}

async function run(): Promise<BenchRow[]> {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'kdp-bcex-'));
  const host = FakeIbmZ.create(
    path.join(root, 'host'),
    Array.from({ length: 11 }, (_, adapter) => ({ adapter, type: 'CEX8P', domains: [1] })),
  );
  host.writeConfig({ cryptoconfigsets: [set('bench', 0, DEVICES)] });
  const emulator = ZcryptEmulator.forHost(host.paths);
  emulator.start();
  const devicePluginDir = path.join(root, 'dp');
  const podResourcesSocket = path.join(root, 'pr.sock');
  const kubelet = new KubeletSimulator({ devicePluginDir, podResourcesSocket });
  await kubelet.start();
  const manager = new PluginManager({ devicePluginDir, log: silentLogger });
  const cex = new CexPlugin(
    {
      nodeName: 'bench',
      ...host.settings,
      podResourcesSocket,
      apqnCheckIntervalMs: 3_600_000,
      configCheckIntervalMs: 3_600_000,
      podListerPollMs: 3_600_000,
      deleteNeverUsedMs: 3_600_000,
      deleteUnusedMs: 3_600_000,
      overcommitLimit: 1,
      liveSysfs: true,
    },
    { manager, log: silentLogger },
  );
  try {
    await cex.start();
    const resource = 'cex.s390.ibm.com/bench';
    await kubelet.waitForRegistration(resource, 10_000);
    const allocate = async (): Promise<number[]> => {
      const samples: number[] = [];
      for (let i = 0; i < DEVICES; i++) {
        const t0 = now();
        await kubelet.allocate(resource, [[`apqn-0-1-${i}`]], {
          pod: `p${i}`,
          namespace: 'bench',
          container: 'c',
        });
        samples.push(now() - t0);
      }
      return samples;
    };
    const created = await allocate();
    const reused = await allocate();

    const reload: number[] = [];
    for (let adapter = 1; adapter <= 10; adapter++) {
      const sets = Array.from({ length: adapter + 1 }, (_, a) =>
        set(a ? `s${a}` : 'bench', a, a ? 1 : DEVICES),
      );
      const t0 = now();
      host.writeConfig({ cryptoconfigsets: sets });
      await kubelet.waitForRegistration(`cex.s390.ibm.com/s${adapter}`, 5000);
      reload.push(now() - t0);
    }

    const t0 = now();
    await cex.reaper.poll();
    const pass = now() - t0;

    // The file-system share of an Allocate: building one shadow tree (about 50 files and links).
    const shadow = new ShadowSysfs({
      baseDir: path.join(root, 'shadow2'),
      apBusDir: host.paths.apBusDir,
      apDevsDir: host.paths.apDevsDir,
    });
    shadow.init();
    const builds: number[] = [];
    for (let i = 0; i < DEVICES; i++) {
      const t1 = now();
      shadow.build(`apqn-0-1-${i}`, 0, 1, true);
      builds.push(now() - t1);
    }

    const row = (metric: string, value: number): BenchRow => ({ metric, value: ms(value) });
    return [
      row(
        `Allocate creating the zcrypt node + live shadow sysfs, p50 of ${DEVICES}`,
        percentile(created, 50),
      ),
      row(
        `Allocate creating the zcrypt node + live shadow sysfs, p95 of ${DEVICES}`,
        percentile(created, 95),
      ),
      row(`Allocate creating the zcrypt node + live shadow sysfs, max of ${DEVICES}`, Math.max(...created)),
      row(
        `Allocate reusing an existing zcrypt node (shadow sysfs rebuilt), p50 of ${DEVICES}`,
        percentile(reused, 50),
      ),
      row(
        `Allocate reusing an existing zcrypt node (shadow sysfs rebuilt), p95 of ${DEVICES}`,
        percentile(reused, 95),
      ),
      row(`shadow sysfs build alone (live), p50 of ${DEVICES}`, percentile(builds, 50)),
      row(
        'hot reload: ConfigMap symlink swap adding a set → resource registered, median of 10',
        percentile(reload, 50),
      ),
      row(`clean-up pass: PodResources List + ${DEVICES} nodes and dirs checked`, pass),
    ];
  } finally {
    await cex.stop();
    await manager.stop();
    await kubelet.stop();
    await emulator.stop();
    fs.rmSync(root, { recursive: true, force: true });
  }
}

export const bench: BenchScenario = {
  name: 'cex',
  unavailable: ZcryptEmulator.unavailable,
  run,
};
