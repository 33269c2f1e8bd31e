/**
 * A watch on one driver's ResourceSlices (resource.k8s.io/v1, field selector spec.driver), as the
 * scheduler's informer sees them: the tier waits on it for a slice state and times how soon after a
 * device change the API server held the new pool.
 */
import * as https from 'https';
import type { ApiConfig } from '../../../chart-test/kube-api';

export interface SliceDeviceView {
  name: string;
  /** By name: plain (`path`, the driver's own domain) or qualified (`<domain>/path`). */
  attributes?: Record<string, { string?: string; int?: number; bool?: boolean; version?: string }>;
  allowMultipleAllocations?: boolean;
  taints?: { key: string; effect: string }[];
}

export interface SliceView {
  metadata: { name: string; resourceVersion: string; ownerReferences?: { kind: string; name: string }[] };
  spec: {
    driver: string;
    nodeName?: string;
    pool: { name: string; generation: number; resourceSliceCount: number };
    devices?: SliceDeviceView[];
  };
}

export class SliceWatch {
  /** The driver's slices now, by name. */
  readonly slices = new Map<string, SliceView>();
  private request?: ReturnType<typeof https.request>;
  private waiters: (() => void)[] = [];
  private stopped = false;
  private error?: string;

  constructor(
    private readonly api: ApiConfig,
    readonly driver: string,
  ) {
    this.connect();
  }

  private connect(): void {
    if (this.stopped) return;
    const url = new URL(
      `/apis/resource.k8s.io/v1/resourceslices?watch=true&allowWatchBookmarks=false&fieldSelector=${encodeURIComponent(`spec.driver=${this.driver}`)}`,
      this.api.server,
    );
    this.slices.clear(); // a (re)started watch replays every object as ADDED
    this.request = https.request(
      url,
      { method: 'GET', ca: this.api.ca, headers: { authorization: `Bearer ${this.api.token}` } },
      (response) => {
        if (response.statusCode !== 200) this.error = `watch: HTTP ${response.statusCode}`;
        let buffered = '';
        response.setEncoding('utf8');
        response.on('data', (chunk: string) => {
          buffered += chunk;
          let nl: number;
          while ((nl = buffered.indexOf('\n')) >= 0) {
            const line = buffered.slice(0, nl);
            buffered = buffered.slice(nl + 1);
            if (line.trim()) this.onEvent(JSON.parse(line) as { type: string; object: SliceView });
          }
        });
        response.on('end', () => setTimeout(() => this.connect(), 100));
      },
    );
    this.request.on('error', (err) => {
      this.error = err.message;
      setTimeout(() => this.connect(), 500);
    });
    this.request.end();
  }

  private onEvent(event: { type: string; object: SliceView }): void {
    if (event.type === 'ADDED' || event.type === 'MODIFIED')
      this.slices.set(event.object.metadata.name, event.object);
    else if (event.type === 'DELETED') this.slices.delete(event.object.metadata.name);
    else if (event.type === 'ERROR') this.error = JSON.stringify(event.object).slice(0, 300);
    for (const wake of this.waiters.splice(0)) wake();
  }

  /** The slices of `node`. */
  of(node: string): SliceView[] {
    return [...this.slices.values()].filter((s) => s.spec.nodeName === node);
  }

  /** Resolves with Date.now() when `match` first holds for the node's slices, checked on every event. */
  async waitFor(
    what: string,
    node: string,
    match: (slices: SliceView[]) => boolean,
    timeoutMs = 30_000,
  ): Promise<number> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      if (match(this.of(node))) return Date.now();
      const left = deadline - Date.now();
      if (left <= 0) {
        const now = this.of(node).map((s) => ({
          generation: s.spec.pool.generation,
          devices: (s.spec.devices ?? []).map((d) => d.name),
        }));
        throw new Error(
          `${what}: not seen in ${timeoutMs / 1000} s; slices now ${JSON.stringify(now)}${this.error ? ` (${this.error})` : ''}`,
        );
      }
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, Math.min(left, 1000));
        this.waiters.push(() => (clearTimeout(timer), resolve()));
      });
    }
  }

  stop(): void {
    this.stopped = true;
    this.request?.destroy();
    for (const wake of this.waiters.splice(0)) wake();
  }
}

/** A device's attribute `name` in `domain` (CEL's `device.attributes["<domain>"].<name>`). */
export function attribute(device: SliceDeviceView, driver: string, name: string) {
  return device.attributes?.[`${driver}/${name}`] ?? device.attributes?.[name];
}

/** Every device of the node's slices. */
export function sliceDevices(slices: SliceView[]): SliceDeviceView[] {
  return slices.flatMap((s) => s.spec.devices ?? []);
}

/** The highest pool generation among the node's slices (0 when none). */
export function poolGeneration(slices: SliceView[]): number {
  return Math.max(0, ...slices.map((s) => s.spec.pool.generation));
}
