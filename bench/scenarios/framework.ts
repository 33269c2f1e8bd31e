/**
 * Framework figures from issue #2, measured against a real plugin process (bench/fake-plugin.ts)
 * talking to the kubelet simulator over real unix sockets.
 */
import { spawn, type ChildProcess } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { KubeletSimulator } from '../../simulator/kubelet';
import { NODE_RUNTIME_FLAGS } from '../../plugins/catalogue/node-flags';
import { mb, ms, percentile, type BenchRow, type BenchScenario } from '../scenario';
import { RESOURCE } from '../fake-plugin';
import { allocateLoop, freePort, httpGet, now, rssBytes } from '../plugin-process';

interface Rig {
  metricsPort: number;
  dir: string;
  watchDir: string;
  kubelet: KubeletSimulator;
  child: ChildProcess;
  close(): Promise<void>;
}

/** Allocate handler latency as the plugin itself measured it (its histogram), between two scrapes. */
async function scrape(port: number): Promise<Map<number, number>> {
  const body = await httpGet(port, '/metrics');
  const buckets = new Map<number, number>();
  for (const m of body.matchAll(
    /kdp_allocate_duration_seconds_bucket\{le="([^"]+)",resource="[^"]+"\} (\d+)/g,
  )) {
    buckets.set(m[1] === '+Inf' ? Infinity : Number(m[1]), Number(m[2]));
  }
  return buckets;
}

/** The smallest bucket bound holding p% of the calls made between two scrapes. */
function bucketPercentile(before: Map<number, number>, after: Map<number, number>, p: number): string {
  const bounds = [...after.keys()].sort((a, b) => a - b);
  const total = (after.get(Infinity) ?? 0) - (before.get(Infinity) ?? 0);
  for (const le of bounds) {
    if ((after.get(le)! - (before.get(le) ?? 0)) / total >= p / 100)
      return le === Infinity ? '> 5 s' : `≤ ${le * 1000} ms`;
  }
  return 'n/a';
}

async function rig(devices: number, nodeFlags = NODE_RUNTIME_FLAGS): Promise<Rig & { startMs: number }> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'kdp-bench-'));
  const watchDir = path.join(dir, 'devs');
  fs.mkdirSync(watchDir);
  for (let i = 0; i < devices; i++) fs.writeFileSync(path.join(watchDir, `d${i}`), '');
  const kubelet = new KubeletSimulator({ devicePluginDir: path.join(dir, 'dp') });
  await kubelet.start();
  const metricsPort = await freePort();
  const t0 = now();
  const child = spawn(
    process.execPath,
    [
      ...nodeFlags,
      path.join(__dirname, '..', 'fake-plugin.js'),
      '--http-addr',
      `127.0.0.1:${metricsPort}`,
      '--watch-dir',
      watchDir,
      '--device-plugin-dir',
      path.join(dir, 'dp'),
      '--log-level',
      'error',
    ],
    { stdio: 'inherit' },
  );
  await kubelet.waitForRegistration(RESOURCE, 20_000);
  const startMs = now() - t0;
  return {
    metricsPort,
    dir,
    watchDir,
    kubelet,
    child,
    startMs,
    async close() {
      child.kill('SIGTERM');
      await new Promise((r) => child.once('exit', r));
      await kubelet.stop();
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}

async function coldStart(): Promise<BenchRow[]> {
  const samples: number[] = [];
  for (let i = 0; i < 25; i++) {
    const r = await rig(4);
    samples.push(r.startMs);
    await r.close();
  }
  const p50 = percentile(samples, 50);
  return [
    {
      metric:
        'cold start to registered (process spawn → first ListAndWatch list, production flags), median of 25',
      value: ms(p50),
      target: '≤ 300 ms',
      met: p50 <= 300,
    },
    {
      metric: 'cold start, p10 / p90 of the same 25 (the spread this VM shows from run to run)',
      value: `${ms(percentile(samples, 10))} / ${ms(percentile(samples, 90))}`,
    },
  ];
}

async function reRegistration(r: Rig): Promise<BenchRow[]> {
  const samples: number[] = [];
  for (let i = 0; i < 60; i++) {
    const before = r.kubelet.resource(RESOURCE)!.registrations;
    await r.kubelet.restart(); // sockets deleted, new kubelet.sock created
    const t0 = now();
    await r.kubelet.waitFor(
      () => r.kubelet.resource(RESOURCE)!.registrations > before && r.kubelet.resource(RESOURCE)!.updates > 0,
      5000,
    );
    samples.push(now() - t0);
  }
  const p99 = percentile(samples, 99);
  return [
    {
      metric: 're-registration after kubelet restart, p50 (60 restarts)',
      value: ms(percentile(samples, 50)),
    },
    {
      metric: 're-registration after kubelet restart, p99 (60 restarts)',
      value: ms(p99),
      target: '≤ 50 ms',
      met: p99 <= 50,
    },
  ];
}

async function propagation(r: Rig): Promise<BenchRow[]> {
  const samples: number[] = [];
  for (let i = 0; i < 30; i++) {
    const count = r.kubelet.capacity(RESOURCE);
    const t0 = now();
    fs.rmSync(path.join(r.watchDir, `d${i}`));
    await r.kubelet.waitFor(() => r.kubelet.capacity(RESOURCE) === count - 1, 5000);
    samples.push(now() - t0);
  }
  const p99 = percentile(samples, 99);
  return [
    {
      metric: 'health propagation (device file removed → ListAndWatch update), p50 of 30',
      value: ms(percentile(samples, 50)),
    },
    { metric: 'health propagation, p99 of 30', value: ms(p99), target: '≤ 100 ms', met: p99 <= 100 },
  ];
}

function allocateLatency(r: Rig, concurrency: number, total: number): Promise<number[]> {
  return allocateLoop(r.kubelet, RESOURCE, concurrency, total);
}

/**
 * Allocate latency as the kubelet sees it (a gRPC client in another process) and as the plugin spends
 * it (its own histogram), plus memory. `label` names the Node flags the plugin ran with.
 */
async function allocation(r: Rig, label: string, withTargets: boolean): Promise<BenchRow[]> {
  // Targets apply to the configuration we ship; the plain-node rows are there for comparison.
  const judge = (target: string, met: boolean) => (withTargets ? { target, met } : {});
  const idle = rssBytes(r.child.pid!);
  await allocateLatency(r, 4, 200); // warm-up
  const one = await allocateLatency(r, 1, 1000);
  const before = await scrape(r.metricsPort);
  const t0 = now();
  const many = await allocateLatency(r, 64, 5000);
  const throughput = (5000 / (now() - t0)) * 1000;
  const after = await scrape(r.metricsPort);
  let done = 1200 + 5000;
  while (done < 10_000) {
    await allocateLatency(r, 16, 1000);
    done += 1000;
  }
  const rss = rssBytes(r.child.pid!);
  const p99many = percentile(many, 99);
  return [
    {
      metric: `[${label}] Allocate round trip at 1 in flight, p50 / p99 (1000 calls)`,
      value: `${ms(percentile(one, 50))} / ${ms(percentile(one, 99))}`,
    },
    {
      metric: `[${label}] Allocate round trip at 64 concurrent, p50 / p99 (5000 calls)`,
      value: `${ms(percentile(many, 50))} / ${ms(p99many)}`,
      ...judge('p99 ≤ 5 ms', p99many <= 5),
    },
    {
      metric: `[${label}] Allocate throughput at 64 concurrent (client and plugin share the 2 cores)`,
      value: `${throughput.toFixed(0)} calls/s`,
    },
    {
      metric: `[${label}] Allocate time inside the plugin at 64 concurrent, p50 / p99 (its histogram buckets)`,
      value: `${bucketPercentile(before, after, 50)} / ${bucketPercentile(before, after, 99)}`,
    },
    {
      metric: `[${label}] idle RSS of the plugin process (after registration)`,
      value: mb(idle),
      ...judge('≤ 55 MB', idle <= 55 * 2 ** 20),
    },
    { metric: `[${label}] RSS after 10,000+ allocations`, value: mb(rss) },
  ];
}

async function bigList(): Promise<BenchRow[]> {
  const r = await rig(10_000);
  try {
    const samples: number[] = [];
    for (let i = 0; i < 5; i++) {
      const count = r.kubelet.capacity(RESOURCE);
      const t0 = now();
      fs.writeFileSync(path.join(r.watchDir, `extra${i}`), '');
      await r.kubelet.waitFor(() => r.kubelet.capacity(RESOURCE) === count + 1, 10_000);
      samples.push(now() - t0);
    }
    return [
      {
        metric:
          '10,000-device list: change → full list received by the kubelet, median of 5 (incl. rescan of 10k files)',
        value: ms(percentile(samples, 50)),
      },
    ];
  } finally {
    await r.close();
  }
}

export const bench: BenchScenario = {
  name: 'framework',
  notes: [
    'The plugin is bench/fake-plugin.ts (files in a directory are devices, watched by inotify) run as a real process; the kubelet simulator runs in the bench process and is the gRPC client, as the kubelet would be.',
    '"production flags" are NODE_RUNTIME_FLAGS (plugins/catalogue/node-flags.ts), which the chart and the image use; "plain node" is the same process without them.',
    "Allocate at 64 concurrent misses the 5 ms target end to end, and we do not expect a Node gRPC server on this machine to meet it: by Little's law, 64 calls in flight with a 5 ms p99 need well over 12,800 calls/s, while the client and the plugin here share 2 cores (see the throughput row). The time spent inside the plugin stays within the smallest histogram bucket (0.5 ms) at p99; the rest is queueing in HTTP/2 and gRPC on both sides. The kubelet does not issue Allocate calls 64 at a time: its device manager allocates one container at a time under a lock, which the 1-in-flight row measures.",
    'Cold start is mostly Node itself and its http2 module (no gRPC library is loaded: the plugins speak gRPC on node:http2; prom-client is loaded after registration, on first use); the vs-go section breaks it down. Timings on this 2-core VM vary by ±20% or more between runs, so the spread is shown.',
    'The 10,000-device row includes the plugin re-reading a directory of 10,000 files after the change, then encoding and sending the full list.',
  ],
  async run() {
    const rows = await coldStart();
    const r = await rig(64);
    try {
      rows.push(
        ...(await allocation(r, 'production flags', true)),
        ...(await propagation(r)),
        ...(await reRegistration(r)),
      );
    } finally {
      await r.close();
    }
    // The same allocation figures with plain `node`, to show what the runtime flags buy.
    const plain = await rig(64, []);
    try {
      rows.push(...(await allocation(plain, 'plain node', false)));
    } finally {
      await plain.close();
    }
    rows.push(...(await bigList()));
    return rows;
  },
};
