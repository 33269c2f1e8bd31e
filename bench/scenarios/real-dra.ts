/**
 * DRA mode against the real API server and the kubelet's real DRA manager, from the last `npm run e2e:dra`
 * (dist/e2e/dra-results.json, or $E2E_DRA_RESULTS): that run builds Go binaries and takes minutes, so
 * the bench reports its figures instead of repeating it. `BENCH_ONLY=real-dra BENCH_UPDATE=1 npm run
 * bench` rewrites only this section of BENCHMARKS.md.
 */
import * as fs from 'fs';
import * as path from 'path';
import { ms, percentile, type BenchRow, type BenchScenario } from '../scenario';

/** What `npm run e2e:dra` writes (test/e2e/dra/run.ts). */
export interface DraResults {
  date: string;
  kubernetes: string;
  machine: string;
  driver: string;
  /** The command line that ran the driver (the CLI, or the interim driver before it had `--mode dra`). */
  command: string;
  /** Device node removed → slice without it seen on a watch; made again → slice with it. */
  sliceUpdateMs: { withdraw: number[]; restore: number[] };
  /** The kubelet's NodePrepareResources / NodeUnprepareResources gRPC calls (its own log records). */
  prepareRpcMs: number[];
  unprepareRpcMs: number[];
  /** The DRA manager's whole PrepareResources for the pod (claim reads, checkpoint, the rpc). */
  prepareMs: number[];
  pods: number;
}

function resultsFile(): string {
  return process.env.E2E_DRA_RESULTS || path.join(__dirname, '..', '..', 'e2e', 'dra-results.json');
}

const p50p99 = (values: number[]) =>
  values.length ? `${ms(percentile(values, 50))} / ${ms(percentile(values, 99))}` : '—';

export const bench: BenchScenario = {
  name: 'real-dra',
  unavailable: () =>
    fs.existsSync(resultsFile()) ? undefined : `no ${resultsFile()}: run \`npm run e2e:dra\` first`,
  notes: [
    'From `npm run e2e:dra` (test/e2e/dra/): the family as a real process (`node dist/plugins/cli/main.js kvm --mode dra`, kvm fixture tree) against etcd + kube-apiserver + kube-scheduler + kube-controller-manager and the kubelet’s own DRA manager and plugin manager (k8s.io/kubernetes/pkg/kubelet/cm/dra, linked into test/e2e/dra/kubelet/), versions as shown.',
    'Device change → slice updated: the fixture’s /dev/kvm removed (or made again) → a watch on the API server’s ResourceSlices (field selector spec.driver) delivers the pool without (with) the device. It includes the family’s inotify rescan, the full-pool write with its generation bumped, and the watch delivery.',
    'Measured by `npm run e2e:dra` on the machine named in the first row, whatever else ran there (on the 2-core CI machine other builds may share the cores); percentiles nearest-rank.',
    'NodePrepareResources / NodeUnprepareResources: the gRPC call as the kubelet’s DRA plugin client times it (its "Calling … rpc" and "Done calling … rpc" records), one pod (one claim, the shared kvm device) per call, the pods created at once and prepared one at a time. The driver reads the claim from the API server, writes the claim’s CDI spec and its checkpoint (fsync) before answering. PrepareResources: the kubelet’s whole admission step for the pod (claim reads, its own checkpoint, the call).',
  ],
  async run(): Promise<BenchRow[]> {
    const r = JSON.parse(fs.readFileSync(resultsFile(), 'utf8')) as DraResults;
    const changes = [...r.sliceUpdateMs.withdraw, ...r.sliceUpdateMs.restore];
    return [
      { metric: 'e2e:dra run', value: `${r.date}; ${r.machine}; \`${r.command}\`` },
      {
        metric: `kubelet DRA manager ${r.kubernetes}, ${r.driver}: device change → slice updated on the API server, p50 / p99 (${changes.length} changes)`,
        value: p50p99(changes),
      },
      {
        metric: `  of which device removed → withdrawn / made again → republished, p50 / p99 (${r.sliceUpdateMs.withdraw.length} each)`,
        value: `${p50p99(r.sliceUpdateMs.withdraw)}; ${p50p99(r.sliceUpdateMs.restore)}`,
      },
      {
        metric: `kubelet DRA manager ${r.kubernetes}, ${r.driver}: NodePrepareResources p50 / p99 (${r.prepareRpcMs.length} claims)`,
        value: p50p99(r.prepareRpcMs),
      },
      {
        metric: `kubelet DRA manager ${r.kubernetes}, ${r.driver}: NodeUnprepareResources p50 / p99 (${r.unprepareRpcMs.length} claims)`,
        value: p50p99(r.unprepareRpcMs),
      },
      {
        metric: `kubelet DRA manager ${r.kubernetes}: PrepareResources for the pod, p50 / p99 (${r.prepareMs.length} pods)`,
        value: p50p99(r.prepareMs.filter((v) => !Number.isNaN(v))),
      },
    ];
  },
};
