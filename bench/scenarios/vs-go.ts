/**
 * Our kvm plugin against the Go floor (bench/go/, a minimal grpc-go device plugin), both real processes on
 * one kubelet simulator, interleaved sample by sample so that the machine's drift hits both alike. Each
 * figure is reported for both and as the ratio ours/Go: on this 2-core VM absolute figures swing by ±50%
 * from run to run, the ratios from one interleaved run are what we compare.
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { fixturesUnavailable, makeNode } from '../../simulator/devices/device-nodes';
import { KubeletSimulator } from '../../simulator/kubelet';
import { goFloorBinary, goFloorUnavailable } from '../go-floor';
import {
  freePort,
  httpGet,
  now,
  startKvmProcess,
  startPluginProcess,
  type PluginProcess,
} from '../plugin-process';
import { mb, ms, percentile, type BenchRow, type BenchScenario } from '../scenario';

const GO_RESOURCE = 'go.example.com/kvm';
const SHARES = 110; // our kvm's default --shared-count, so both lists are the same size
const COLD_STARTS = 15;
const HEALTH_RUNS = 30;
const RESTARTS = 30;

type Who = 'ours' | 'go';
const WHO: Who[] = ['ours', 'go'];

/** A scratch root per plugin (<root>/<who>/dev/kvm) and one kubelet simulator for both. */
class Bed {
  readonly root = fs.mkdtempSync(path.join(os.tmpdir(), 'kdp-vsgo-'));
  readonly dp = path.join(this.root, 'dp');
  readonly kubelet = new KubeletSimulator({ devicePluginDir: this.dp });

  node(who: Who): string {
    return path.join(this.root, who, 'dev', 'kvm');
  }

  resource(who: Who): string {
    return who === 'ours' ? 'github.com.ihcsim/kvm' : GO_RESOURCE;
  }

  async start(): Promise<void> {
    for (const who of WHO) makeNode(this.node(who), { type: 'char', major: 1, minor: 3 });
    await this.kubelet.start();
  }

  httpPort = 0;

  spawn(who: Who, goBinary: string): Promise<PluginProcess> {
    if (who === 'ours')
      return startKvmProcess(this.kubelet, this.dp, path.join(this.root, 'ours'), {
        httpPort: this.httpPort,
      });
    return startPluginProcess(this.kubelet, GO_RESOURCE, goBinary, [
      `-device-plugin-dir=${this.dp}`,
      `-resource=${GO_RESOURCE}`,
      `-nodes=${this.node('go')}`,
      `-shared-count=${SHARES}`,
    ]);
  }

  async close(plugins: PluginProcess[]): Promise<void> {
    for (const p of plugins) await p.stop();
    await this.kubelet.stop();
    fs.rmSync(this.root, { recursive: true, force: true });
  }
}

const sleep = (msec: number) => new Promise((r) => setTimeout(r, msec));
const p50 = (v: number[]) => percentile(v, 50);

/** One row: both figures, the ratio, and the target on the ratio (or on our absolute figure). */
function row(
  metric: string,
  ours: number,
  go: number,
  unit: (v: number) => string,
  target?: { text: string; met: (ratio: number, ours: number) => boolean },
): BenchRow {
  const ratio = ours / go;
  // (n/a when the Go figure is 0, which a clock tick could make it)
  const r = !Number.isFinite(ratio) ? 'n/a' : ratio < 0.1 ? ratio.toPrecision(2) : ratio.toFixed(2);
  return {
    metric,
    value: `ours ${unit(ours)} · Go ${unit(go)} · **${r}×**`,
    ...(target ? { target: target.text, met: target.met(ratio, ours) } : {}),
  };
}
const atMost = (x: number) => ({ text: `≤ ${x}×`, met: (ratio: number) => ratio <= x });
const rssAtMost = (mib: number) => ({
  text: `ours ≤ ${mib} MB`,
  met: (_: number, ours: number) => ours <= mib * 2 ** 20,
});
const calls = (v: number) => `${v.toFixed(0)} calls/s`;

/** Spawn → registered, wall and CPU time, ms. */
async function coldStarts(
  goBinary: string,
): Promise<{ wall: Record<Who, number[]>; cpu: Record<Who, number[]> }> {
  const out = {
    wall: { ours: [], go: [] } as Record<Who, number[]>,
    cpu: { ours: [], go: [] } as Record<Who, number[]>,
  };
  for (let i = 0; i < COLD_STARTS; i++) {
    for (const who of i % 2 ? [...WHO].reverse() : WHO) {
      const bed = new Bed();
      await bed.start();
      const p = await bed.spawn(who, goBinary);
      out.wall[who].push(p.startMs);
      out.cpu[who].push(p.startCpuMs);
      await bed.close([p]);
    }
  }
  return out;
}

function allHealth(bed: Bed, who: Who, health: string): boolean {
  const devices = bed.kubelet.resource(bed.resource(who))?.devices ?? [];
  return devices.length > 0 && devices.every((d) => d.health === health);
}

/** Unlink each plugin's node in turn: time until the kubelet sees every ID Unhealthy; then put it back. */
async function healthPropagation(bed: Bed): Promise<Record<Who, number[]>> {
  const out: Record<Who, number[]> = { ours: [], go: [] };
  for (let i = 0; i < HEALTH_RUNS; i++) {
    for (const who of WHO) {
      const t0 = now();
      fs.rmSync(bed.node(who));
      await bed.kubelet.waitFor(() => allHealth(bed, who, 'Unhealthy'), 10_000, `${who}: node removal`);
      out[who].push(now() - t0);
      const temp = `${bed.node(who)}.new`; // mknod beside it, then one rename in
      makeNode(temp, { type: 'char', major: 1, minor: 3 });
      fs.renameSync(temp, bed.node(who));
      await bed.kubelet.waitFor(() => allHealth(bed, who, 'Healthy'), 10_000, `${who}: node return`);
    }
  }
  return out;
}

/** One kubelet restart re-registers both: each one's time from the new kubelet.sock to its first list. */
async function reRegistration(bed: Bed): Promise<Record<Who, number[]>> {
  const out: Record<Who, number[]> = { ours: [], go: [] };
  for (let i = 0; i < RESTARTS; i++) {
    const before = Object.fromEntries(
      WHO.map((w) => [w, bed.kubelet.resource(bed.resource(w))!.registrations]),
    );
    await bed.kubelet.restart();
    const t0 = now();
    await Promise.all(
      WHO.map(async (who) => {
        const res = () => bed.kubelet.resource(bed.resource(who))!;
        await bed.kubelet.waitFor(
          () => res().registrations > before[who] && res().connected && res().updates > 0,
          30_000,
          `${who} to re-register`,
        );
        out[who].push(now() - t0);
      }),
    );
  }
  return out;
}

export const bench: BenchScenario = {
  name: 'vs-go',
  unavailable: () => fixturesUnavailable() ?? goFloorUnavailable(),
  notes: [
    "ours = `kube-device-plugins kvm` as the image and chart run it (NODE_RUNTIME_FLAGS, Node's compile cache filled, /metrics listener on, CDI spec written); Go = bench/go/ (k8s.io/kubelet v1beta1 API, grpc-go, fsnotify), built from the Go module proxy and cached by the hash of its go.sum and source. Both advertise one node as 110 IDs and run as real processes on one kubelet simulator, whose gRPC client runs in the bench process.",
    "The Go floor does what a good Go plugin does: it re-registers on inotify when kubelet.sock is re-created (the kubelet documentation's advice; ihcsim's kvm plugin also watches the device-plugin directory with fsnotify), and sends a new list on every inotify event of the nodes' directory. Against plugins that poll instead (the issue's figures: 5.8 s re-registration, 2 s health) ours is 100× ahead; against this floor no such lead exists, as both react to the same inotify event. Ours takes a few ms more: a 2 ms debounce, the read-write open that probes the node, a grpc-js write.",
    'Interleaving: cold starts alternate ours/Go (order swapped every pair), each on a fresh simulator; Allocate runs alternate in blocks of 100 (1 in flight) and 2,000 (64 concurrent); each kubelet restart re-registers both. RSS is VmRSS from /proc, 1 s after registration (idle), and after 5,000 and 10,000 Allocates.',
    'Why the cost targets are out of reach on Node (profiles on this machine, Node 26, NODE_RUNTIME_FLAGS). Memory: a bare `node` process idles at ~43 MB VmRSS, of which ~35 MB is the node binary mapped from disk (RssFile; the Go floor is 13 MB in all), so "idle ≤ 45 MB" leaves ~2 MB for everything else; requiring @grpc/grpc-js alone adds ~19 MB at peak and prom-client ~18 MB (whole-process peak RSS, 10 interleaved runs). What we own is RssAnon (heap, stacks): ~17 MB idle against the Go floor\'s 2 MB. The 6 plugin DaemonSets run one image, so the file-backed part is the same page cache on a node.',
    'Start-up (CPU profile from spawn to registration, ~240 ms of CPU): Node compiling its own built-in modules that grpc-js pulls in (http2, tls, net, http) ~50 ms; compiling the JavaScript of the packages and ours ~27 ms (what the compile cache removes: 170 → 150 ms CPU to registration); garbage collection ~27 ms (the 1 MB young generation fills many times while modules load); grpc-js itself ~22 ms; the rest is module resolution and our set-up. Loading grpc-js and js-yaml costs ~20% more CPU with the runtime flags than with none (110-123 vs 89-97 ms), the price of the memory they save. Lazy prom-client took 210 → 180 ms. To reach ≤ 2× the Go floor (~30-40 ms) the process would have to skip loading and compiling grpc-js and the Node modules behind it: a V8 start-up snapshot (`node --build-snapshot`) of a single bundled file (it cannot `require` from node_modules), which deserialises the loaded heap in one step; not done here, as it means bundling the runtime and a second build of the image.',
    "Allocate at 1 in flight (CPU profile of 3,300 calls): garbage collection ~17% of the plugin's busy time, grpc-js and Node's http2 ~20%, streams, events and buffers most of the rest; our code is small (the wire codec ~3%, kvm's re-probe of /dev/kvm at every Allocate ~2.5%). There is no hot spot of ours to remove: reaching 1.5× would take the optimising compiler back (on Node 26 `--no-opt` instead of `--lite-mode` is ~0.2 ms faster per call and ~50 MB heavier after 10,000 Allocates) or an HTTP/2 stack in native code. At 64 concurrent the client is the kubelet simulator, itself Node on the same 2 cores, which caps both plugins' throughput.",
  ],
  async run(): Promise<BenchRow[]> {
    const goBinary = goFloorBinary();
    const cold = await coldStarts(goBinary);

    const bed = new Bed();
    bed.httpPort = await freePort();
    await bed.start();
    const plugins: Record<Who, PluginProcess> = {
      ours: await bed.spawn('ours', goBinary),
      go: await bed.spawn('go', goBinary),
    };
    try {
      await sleep(1000);
      const idle = { ours: plugins.ours.rss(), go: plugins.go.rss() };
      const idleAnon = { ours: plugins.ours.rss('RssAnon'), go: plugins.go.rss('RssAnon') };
      await httpGet(bed.httpPort, '/metrics'); // what a Prometheus scrape costs us (prom-client loads)
      await sleep(1000);
      const scraped = plugins.ours.rss();
      const one: Record<Who, number[]> = { ours: [], go: [] };
      for (let i = 0; i < 10; i++)
        for (const who of WHO) one[who].push(...(await plugins[who].allocate(1, 100)));
      const many: Record<Who, number[]> = { ours: [], go: [] };
      const busy: Record<Who, number> = { ours: 0, go: 0 };
      for (let i = 0; i < 2; i++) {
        for (const who of WHO) {
          const t0 = now();
          many[who].push(...(await plugins[who].allocate(64, 2000)));
          busy[who] += now() - t0;
        }
      }
      const rss5k = { ours: plugins.ours.rss(), go: plugins.go.rss() };
      for (let i = 0; i < 5; i++) for (const who of WHO) await plugins[who].allocate(16, 1000);
      const rss10k = { ours: plugins.ours.rss(), go: plugins.go.rss() };
      const health = await healthPropagation(bed);
      const rereg = await reRegistration(bed);
      const thr = (who: Who) => (many[who].length / busy[who]) * 1000;
      return [
        row(
          're-register after a kubelet restart, p50 of 30',
          p50(rereg.ours),
          p50(rereg.go),
          ms,
          atMost(0.01),
        ),
        row(
          'device node removed → kubelet sees it, p50 of 30',
          p50(health.ours),
          p50(health.go),
          ms,
          atMost(0.01),
        ),
        row(
          'spawn → registered (cold start, first ListAndWatch list), median of 15',
          p50(cold.wall.ours),
          p50(cold.wall.go),
          ms,
          atMost(2),
        ),
        row(
          'cold start, CPU time used to get there (user + system), median of 15',
          p50(cold.cpu.ours),
          p50(cold.cpu.go),
          ms,
        ),
        row('idle RSS (1 s after registration)', idle.ours, idle.go, mb, rssAtMost(45)),
        row('idle RssAnon (RSS less the mapped binary and libraries)', idleAnon.ours, idleAnon.go, mb),
        row(
          'idle RSS after a first /metrics scrape (Go: idle RSS, it serves no /metrics)',
          scraped,
          idle.go,
          mb,
        ),
        row('RSS after 5,000 Allocates', rss5k.ours, rss5k.go, mb),
        row('RSS after 10,000 Allocates', rss10k.ours, rss10k.go, mb, rssAtMost(55)),
        row('Allocate round trip at 1 in flight, p50 of 1,000', p50(one.ours), p50(one.go), ms, atMost(1.5)),
        row(
          'Allocate round trip at 1 in flight, p99 of 1,000',
          percentile(one.ours, 99),
          percentile(one.go, 99),
          ms,
        ),
        row(
          'Allocate at 64 concurrent: throughput (client and plugin share the 2 cores)',
          thr('ours'),
          thr('go'),
          calls,
        ),
        row(
          'Allocate at 64 concurrent: round trip p99 of 4,000',
          percentile(many.ours, 99),
          percentile(many.go, 99),
          ms,
        ),
        row(
          'cold start, p90 of the same 15 (the spread)',
          percentile(cold.wall.ours, 90),
          percentile(cold.wall.go, 90),
          ms,
        ),
      ];
    } finally {
      await bed.close([plugins.ours, plugins.go]);
    }
  },
};
