/**
 * Prometheus metrics for the kubelet contract. Each PluginManager gets its own registry so several
 * managers (tests, the demo) never share counters; plugins may register their own metrics on it.
 *
 * prom-client is loaded only when first needed: when the registry is read (a /metrics scrape, a family
 * registering its own metrics, a test) or once 1,000 updates are waiting. Loading it costs ~100 ms of CPU
 * and ~15 MB (BENCHMARKS.md), which would otherwise sit between process start and the first registration,
 * and in every idle plugin nobody scrapes. Until then each metric keeps the calls made to it and replays
 * them on the real prom-client metric.
 */
import type * as PromClient from 'prom-client';
import type { Device } from './types';

type Labels = Record<string, string>;
type PromMetric = PromClient.Counter | PromClient.Gauge | PromClient.Histogram;

/** Updates kept before prom-client is loaded anyway, so that the backlog stays small. */
const MAX_PENDING = 1000;

/** One metric: prom-client's, once loaded; until then a list of the calls made to it. */
class DeferredMetric<M extends PromMetric> {
  private real?: M;
  private readonly pending: ((metric: M) => void)[] = [];

  constructor(
    private readonly load: () => void,
    private readonly queued: () => number,
    private readonly create: (prom: typeof PromClient, registry: PromClient.Registry) => M,
  ) {}

  materialise(prom: typeof PromClient, registry: PromClient.Registry): void {
    this.real = this.create(prom, registry);
    for (const call of this.pending.splice(0)) call(this.real);
  }

  private call(fn: (metric: M) => void): void {
    if (this.real) return fn(this.real);
    this.pending.push(fn);
    if (this.queued() > MAX_PENDING) this.load();
  }

  get backlog(): number {
    return this.pending.length;
  }

  inc(labels: Labels, value = 1): void {
    this.call((m) => (m as PromClient.Counter | PromClient.Gauge).inc(labels, value));
  }

  set(labels: Labels, value: number): void {
    this.call((m) => (m as PromClient.Gauge).set(labels, value));
  }

  remove(labels: Labels): void {
    this.call((m) => m.remove(labels));
  }

  observe(labels: Labels, seconds: number): void {
    this.call((m) => (m as PromClient.Histogram).observe(labels, seconds));
  }

  /** Like prom-client's: call the returned function when done to observe the elapsed seconds. */
  startTimer(labels: Labels): () => void {
    const start = process.hrtime.bigint();
    return () => this.observe(labels, Number(process.hrtime.bigint() - start) / 1e9);
  }

  /** prom-client's MetricObject (loads prom-client). */
  get(): Promise<PromClient.MetricObjectWithValues<PromClient.MetricValue<string>>> {
    this.load();
    return this.real!.get();
  }
}

export class FrameworkMetrics {
  private loaded?: PromClient.Registry;
  private readonly all: DeferredMetric<PromMetric>[] = [];

  readonly registrations = this.counter(
    'kdp_registrations_total',
    'Successful registrations with the kubelet',
  );
  readonly reregistrations = this.counter(
    'kdp_reregistrations_total',
    'Registrations after the first (kubelet or plugin restarts)',
  );
  readonly registrationFailures = this.counter(
    'kdp_registration_failures_total',
    'Failed registration attempts',
  );
  readonly devices = this.gauge('kdp_devices', 'Devices advertised, by health', ['resource', 'health']);
  readonly streams = this.gauge('kdp_list_and_watch_streams', 'Open ListAndWatch streams');
  readonly allocations = this.counter('kdp_allocations_total', 'Container allocations served');
  readonly allocationErrors = this.counter(
    'kdp_allocation_errors_total',
    'Allocate requests that failed, by reason',
    ['resource', 'reason'],
  );
  readonly allocateSeconds = this.defer(
    (prom, registry) =>
      new prom.Histogram({
        name: 'kdp_allocate_duration_seconds',
        help: 'Allocate RPC latency',
        labelNames: ['resource'],
        buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.5, 1, 5],
        registers: [registry],
      }),
  );

  constructor(private readonly options: { processMetrics?: boolean } = {}) {}

  /** The prom-client registry /metrics serves (loads prom-client on first use). */
  get registry(): PromClient.Registry {
    return this.load();
  }

  setDevices(resource: string, devices: Device[]): void {
    const healthy = devices.filter((d) => d.health === 'Healthy').length;
    this.devices.set({ resource, health: 'Healthy' }, healthy);
    this.devices.set({ resource, health: 'Unhealthy' }, devices.length - healthy);
  }

  forget(resource: string): void {
    for (const health of ['Healthy', 'Unhealthy']) this.devices.remove({ resource, health });
    this.streams.remove({ resource });
  }

  private load(): PromClient.Registry {
    if (this.loaded) return this.loaded;
    // eslint-disable-next-line @typescript-eslint/no-require-imports -- loaded on first use (see above)
    const prom = require('prom-client') as typeof PromClient;
    const registry = new prom.Registry();
    this.loaded = registry;
    if (this.options.processMetrics) prom.collectDefaultMetrics({ register: registry });
    for (const metric of this.all) metric.materialise(prom, registry);
    return registry;
  }

  private defer<M extends PromMetric>(
    create: (prom: typeof PromClient, registry: PromClient.Registry) => M,
  ): DeferredMetric<M> {
    const metric = new DeferredMetric(
      () => this.load(),
      () => this.all.reduce((sum, m) => sum + m.backlog, 0),
      create,
    );
    this.all.push(metric as unknown as DeferredMetric<PromMetric>);
    return metric;
  }

  private counter(name: string, help: string, labelNames = ['resource']): DeferredMetric<PromClient.Counter> {
    return this.defer(
      (prom, registry) => new prom.Counter({ name, help, labelNames, registers: [registry] }),
    );
  }

  private gauge(name: string, help: string, labelNames = ['resource']): DeferredMetric<PromClient.Gauge> {
    return this.defer((prom, registry) => new prom.Gauge({ name, help, labelNames, registers: [registry] }));
  }
}
