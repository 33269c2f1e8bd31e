/**
 * CEX figures on the plugin's own /metrics (upstream pushed them to a separate exporter): devices
 * available and used, and the APQNs' request counters, per set and for the node, computed when
 * scraped. Every series carries `node` (NODENAME), as upstream's exporter did.
 */
import { Counter, Gauge, type Registry } from 'prom-client';

export interface SetFigures {
  set: string;
  /** Healthy devices advertised. */
  available: number;
  /** Devices held by pods at the last PodResources poll. */
  used: number;
  /** Sum of `request_count` over the set's APQNs (the kernel's counters). */
  requests: number;
  /** Containers using the set's devices from outside its project namespace. */
  projectViolations: number;
}

interface Sample {
  labels: Record<string, string>;
  value: number;
}

/** The series computed at scrape time: one per set and, where it adds up, one for the node. */
const SERIES: {
  kind: 'gauge' | 'counter';
  perSet: string;
  perNode?: string;
  help: string;
  pick: (f: SetFigures) => number;
}[] = [
  {
    kind: 'gauge',
    perSet: 'kdp_cex_set_devices_available',
    perNode: 'kdp_cex_devices_available',
    help: 'Healthy CEX devices advertised',
    pick: (f) => f.available,
  },
  {
    kind: 'gauge',
    perSet: 'kdp_cex_set_devices_used',
    perNode: 'kdp_cex_devices_used',
    help: 'CEX devices held by pods (last PodResources poll)',
    pick: (f) => f.used,
  },
  {
    kind: 'counter',
    perSet: 'kdp_cex_set_requests_total',
    perNode: 'kdp_cex_requests_total',
    help: "Crypto requests processed by the sets' APQNs (kernel request_count)",
    pick: (f) => f.requests,
  },
  {
    kind: 'gauge',
    perSet: 'kdp_cex_set_project_violations',
    help: "Containers using a set's devices from outside its project namespace",
    pick: (f) => f.projectViolations,
  },
];

export class CexMetrics {
  readonly nodesCreated: Counter<'node'>;
  readonly cleanups: Counter<'node' | 'reason'>;
  readonly configReloads: Counter<'node' | 'result'>;

  constructor(registry: Registry, node: string, figures: () => SetFigures[]) {
    const registers = [registry];
    const perSet = (pick: (f: SetFigures) => number) => () =>
      figures().map((f) => ({ labels: { set: f.set, node }, value: pick(f) }));
    const total = (pick: (f: SetFigures) => number) => () => [
      { labels: { node }, value: figures().reduce((n, f) => n + pick(f), 0) },
    ];
    const sampled = (kind: 'gauge' | 'counter', name: string, help: string, sample: () => Sample[]) => {
      const labelNames = name.startsWith('kdp_cex_set_') ? ['set', 'node'] : ['node'];
      const collect = function (this: Gauge | Counter) {
        this.reset();
        for (const { labels, value } of sample()) {
          // Counters mirror the kernel's running totals: reset, then raised to the current value.
          if (this instanceof Gauge) this.set(labels, value);
          else this.inc(labels, value);
        }
      };
      if (kind === 'gauge') new Gauge({ name, help, labelNames, registers, collect });
      else new Counter({ name, help, labelNames, registers, collect });
    };
    for (const series of SERIES) {
      sampled(series.kind, series.perSet, `${series.help}, per config set`, perSet(series.pick));
      if (series.perNode)
        sampled(series.kind, series.perNode, `${series.help}, on this node`, total(series.pick));
    }
    this.nodesCreated = new Counter({
      name: 'kdp_cex_zcrypt_nodes_created_total',
      help: 'zcrypt device nodes created by Allocate',
      labelNames: ['node'],
      registers,
    });
    this.cleanups = new Counter({
      name: 'kdp_cex_cleanups_total',
      help: 'zcrypt nodes and shadow sysfs dirs destroyed by clean-up, by reason (unused, never_used)',
      labelNames: ['node', 'reason'],
      registers,
    });
    this.configReloads = new Counter({
      name: 'kdp_cex_config_reloads_total',
      help: 'Changed crypto configurations seen, by result (applied, invalid, unreadable)',
      labelNames: ['node', 'result'],
      registers,
    });
  }
}
