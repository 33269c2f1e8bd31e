/**
 * Prometheus metrics of DRA mode, on the process's FrameworkMetrics registry (so `/metrics` serves both
 * modes alike). State gauges are read at scrape time from the components' `status()`.
 */
import { Counter, Gauge, Histogram } from 'prom-client';
import type { FrameworkMetrics } from '../metrics';

export interface DraMetricsState {
  registered: boolean;
  sliceInSync: boolean;
  sliceGeneration?: number;
  preparedClaims: number;
}

export class DraMetrics {
  readonly prepareSeconds: Histogram<'driver' | 'op'>;
  readonly claimErrors: Counter<'driver' | 'op'>;

  constructor(framework: FrameworkMetrics, driver: string, state: () => DraMetricsState) {
    const registers = [framework.registry];
    const gauge = (name: string, help: string, value: (s: DraMetricsState) => number | undefined) =>
      new Gauge({
        name,
        help,
        labelNames: ['driver'],
        registers,
        collect() {
          const v = value(state());
          if (v === undefined) this.remove({ driver });
          else this.set({ driver }, v);
        },
      });
    gauge('kdp_dra_registered', 'The kubelet accepted the driver (1) or not yet / refused (0)', (s) =>
      s.registered ? 1 : 0,
    );
    gauge('kdp_dra_slice_in_sync', 'The ResourceSlice holds the current device list', (s) =>
      s.sliceInSync ? 1 : 0,
    );
    gauge('kdp_dra_slice_generation', 'Pool generation last published', (s) => s.sliceGeneration);
    gauge('kdp_dra_prepared_claims', 'Claims prepared on this node (checkpointed)', (s) => s.preparedClaims);
    this.prepareSeconds = new Histogram({
      name: 'kdp_dra_call_duration_seconds',
      help: 'NodePrepareResources / NodeUnprepareResources latency, per call',
      labelNames: ['driver', 'op'],
      buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers,
    });
    this.claimErrors = new Counter({
      name: 'kdp_dra_claim_errors_total',
      help: 'Claims that failed to prepare or unprepare',
      labelNames: ['driver', 'op'],
      registers,
    });
  }
}
