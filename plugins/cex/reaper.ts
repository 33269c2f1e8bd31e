/**
 * Clean-up of zcrypt nodes and shadow sysfs dirs (upstream's podlister). The kubelet never tells a
 * device plugin that a container ended, so every PODLISTER_POLL_INTERVAL we list the PodResources API:
 * a device ID held by a pod keeps its node and dir alive. What no pod has held for
 * RESOURCE_DELETE_UNUSED (or, if never seen in use, for RESOURCE_DELETE_NEVER_USED since it appeared)
 * is destroyed. Nodes and dirs already on the host at start are rediscovered and tracked the same
 * way, so a plugin restart neither leaks them nor pulls them from under running containers.
 */
import type { Logger, PodResources } from '../framework';
import { parseDeviceId, setNameOf, ZCRYPT_NODE_PATTERN, zcryptNodeName } from './ids';
import type { KeyedLock } from './keyed-lock';
import type { ShadowSysfs } from './shadow-sysfs';
import type { ZcryptNodes } from './zcrypt';

export interface ReaperOptions {
  zcrypt: ZcryptNodes;
  shadow: ShadowSysfs;
  lock: KeyedLock;
  podResources: { list(): Promise<PodResources[]> };
  pollMs: number;
  deleteUnusedMs: number;
  deleteNeverUsedMs: number;
  /** The `project` of a set by resource name, when the set is configured. */
  projectOf(resourceName: string): string | undefined;
  onDestroyed?(reason: 'unused' | 'never_used'): void;
  log: Logger;
}

interface Tracked {
  /** When we first saw (or made) the node or dir. */
  first: number;
  /** When a pod was last seen holding the device ID. */
  last?: number;
}

export interface ProjectViolation {
  resource: string;
  project: string;
  namespace: string;
  pod: string;
  container: string;
  deviceId: string;
}

export class ResourceReaper {
  private readonly tracked = new Map<string, Tracked>();
  private inUse = new Map<string, Set<string>>();
  private violations: ProjectViolation[] = [];
  private warned = new Set<string>();
  private listFailures = 0;
  private timer?: NodeJS.Timeout;
  private stopped = false;

  constructor(private readonly opts: ReaperOptions) {}

  start(): void {
    const found = this.discover();
    if (found.length)
      this.opts.log.info('rediscovered zcrypt nodes / shadow sysfs dirs from an earlier run', {
        deviceIds: found,
      });
    this.schedule();
  }

  stop(): void {
    this.stopped = true;
    clearTimeout(this.timer);
  }

  /**
   * Allocate made or reused the node and dir for `id`: they start afresh, with the never-used grace
   * (RESOURCE_DELETE_NEVER_USED) for the container to start and show up in PodResources.
   */
  allocated(id: string): void {
    this.tracked.set(id, { first: Date.now() });
  }

  /** Device IDs of `resource` held by pods at the last successful poll. */
  usedIds(resource: string): Set<string> {
    return this.inUse.get(resource) ?? new Set();
  }

  /** Containers using a set's device from outside the set's project namespace (last poll). */
  projectViolations(): ProjectViolation[] {
    return this.violations;
  }

  trackedIds(): string[] {
    return [...this.tracked.keys()].sort();
  }

  /** One clean-up pass. Exposed for tests; normally run every `pollMs`. */
  async poll(): Promise<void> {
    this.discover();
    let pods: PodResources[];
    try {
      pods = await this.opts.podResources.list();
    } catch (err) {
      // Without the list we cannot tell used from unused: destroy nothing.
      this.listFailures += 1;
      const fields = { error: err as Error, failures: this.listFailures };
      const msg = 'cannot list pod resources from the kubelet; clean-up postponed';
      if (this.listFailures === 1) this.opts.log.warn(msg, fields);
      else this.opts.log.debug(msg, fields);
      return;
    }
    if (this.listFailures > 0) this.opts.log.info('pod resources listing works again');
    this.listFailures = 0;
    this.markInUse(pods);
    await this.expire();
  }

  private schedule(): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => {
      void this.poll()
        .catch((err) => this.opts.log.error('clean-up pass failed', { error: err as Error }))
        .finally(() => this.schedule());
    }, this.opts.pollMs);
    this.timer.unref();
  }

  /** Track every node and dir on the host; forget IDs whose node and dir are both gone. */
  private discover(): string[] {
    const now = Date.now();
    const present = new Set([
      ...this.opts.zcrypt.list().map((name) => ZCRYPT_NODE_PATTERN.exec(name)?.[1] as string),
      ...this.opts.shadow.list(),
    ]);
    const added: string[] = [];
    for (const id of present) {
      if (this.tracked.has(id)) continue;
      this.tracked.set(id, { first: now });
      added.push(id);
    }
    for (const id of this.tracked.keys()) if (!present.has(id)) this.tracked.delete(id);
    return added.sort();
  }

  private markInUse(pods: PodResources[]): void {
    const now = Date.now();
    const inUse = new Map<string, Set<string>>();
    const violations: ProjectViolation[] = [];
    for (const pod of pods) {
      for (const container of pod.containers) {
        for (const { resourceName, deviceIds } of container.devices) {
          if (setNameOf(resourceName) === undefined) continue;
          for (const id of deviceIds) {
            if (!parseDeviceId(id)) continue;
            const ids = inUse.get(resourceName) ?? new Set<string>();
            inUse.set(resourceName, ids.add(id));
            const tracked = this.tracked.get(id);
            if (tracked) tracked.last = now;
            const project = this.opts.projectOf(resourceName);
            if (project !== undefined && project !== pod.namespace)
              violations.push({
                resource: resourceName,
                project,
                namespace: pod.namespace,
                pod: pod.name,
                container: container.name,
                deviceId: id,
              });
          }
        }
      }
    }
    this.inUse = inUse;
    this.violations = violations;
    this.warnViolations(violations);
  }

  /** Warn once per offending container and device, for as long as it lasts. */
  private warnViolations(violations: ProjectViolation[]): void {
    const current = new Set<string>();
    for (const v of violations) {
      const key = `${v.namespace}/${v.pod}/${v.container}/${v.deviceId}`;
      current.add(key);
      if (this.warned.has(key)) continue;
      this.opts.log.warn(
        "a container outside the set's project namespace uses a CEX device (use a ResourceQuota to prevent it)",
        { ...v },
      );
    }
    this.warned = current;
  }

  private async expire(): Promise<void> {
    for (const id of [...this.tracked.keys()]) {
      if (!this.expiry(id)) continue;
      // Under the ID's lock, and checked again: an Allocate may just have handed it out.
      await this.opts.lock.run(id, async () => {
        const reason = this.expiry(id);
        if (!reason) return;
        const tracked = this.tracked.get(id) as Tracked;
        const idleSeconds = Math.round((Date.now() - (tracked.last ?? tracked.first)) / 1000);
        try {
          await this.opts.zcrypt.destroy(zcryptNodeName(id));
          this.opts.shadow.remove(id);
        } catch (err) {
          this.opts.log.warn('cannot clean up a device; will retry', { deviceId: id, error: err as Error });
          return;
        }
        this.tracked.delete(id);
        this.opts.onDestroyed?.(reason);
        this.opts.log.info(
          reason === 'never_used'
            ? 'destroyed zcrypt node and shadow sysfs that no pod ever used'
            : 'destroyed zcrypt node and shadow sysfs no longer used by any pod',
          { deviceId: id, node: zcryptNodeName(id), idleSeconds },
        );
      });
    }
  }

  private expiry(id: string): 'unused' | 'never_used' | undefined {
    const tracked = this.tracked.get(id);
    if (!tracked) return undefined;
    const now = Date.now();
    if (tracked.last !== undefined)
      return now - tracked.last > this.opts.deleteUnusedMs ? 'unused' : undefined;
    return now - tracked.first > this.opts.deleteNeverUsedMs ? 'never_used' : undefined;
  }
}
