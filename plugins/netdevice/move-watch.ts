/**
 * Catches a container runtime that does not hand an allocated interface to its pod. The plugin cannot see
 * containers start: the PodResources API only says which pod and container hold which interface (from the
 * kubelet's admission on), with no start time. So the rule is: an interface that a container holds, that
 * has never left the host since the allocation began, and that is still on the host a grace period after
 * it began (Allocate, or the first PodResources answer naming the holder after a plugin restart) was not
 * moved. A runtime that ignores OCI `linux.netDevices` (runc before 1.4 does so silently) is the usual
 * cause; a container not created yet (a long image pull, slow init containers) is the innocent one.
 *
 * A stuck interface is reported once (error log, counter, a /readyz condition) and kept Unhealthy, so the
 * kubelet never hands it to a second pod, until it reaches its pod after all or its holder is gone.
 */
import type { Logger, ResourceCondition } from '../framework';
import type { CdiMode } from './spec';

export interface PodRef {
  pod: string;
  namespace: string;
  container: string;
}

export interface MoveWatchOptions {
  /** How long an allocated interface may stay on the host before it counts as not moved. */
  graceMs: number;
  cdiMode: CdiMode;
  log: Logger;
  /** Called once per interface found stuck (the metric). */
  onStuck?: (device: string) => void;
  /** Called whenever the number of stuck interfaces may have changed (the gauge). */
  onCount?: (stuck: number) => void;
  now?: () => number;
}

interface Hold {
  holder: PodRef;
  /** When the allocation began (ms since the epoch). */
  since: number;
  /** It left the host at least once for this holder: whatever happens next, the runtime did move it. */
  moved: boolean;
  /** When it was found stuck, while it is. */
  stuckAt?: number;
}

/** What the error says the cause is likely to be, per mode. */
const LIKELY_CAUSE: Record<CdiMode, string> = {
  netdevices:
    'the OCI runtime probably ignores linux.netDevices (runc before 1.4 does so silently): run the plugin ' +
    'with --cdi-mode=hooks (chart value netdevice.cdiMode=hooks), or upgrade to runc >= 1.4 or crun >= 1.22; ' +
    'or the container has not been created yet (image pull, init containers: see the pod events)',
  hooks:
    'the createRuntime hook did not run or failed (see the container runtime log for "netdevice-hook"; is ' +
    'netdevice-hook.sh in --hook-dir on the host, and CDI enabled in the engine?), or the container has not ' +
    'been created yet (image pull, init containers, a restart back-off: see the pod events)',
};

export class MoveWatch {
  private readonly holds = new Map<string, Hold>();
  /** Allocate calls not yet matched to a holder in PodResources, by device: when they happened. */
  private readonly allocatedAt = new Map<string, number>();
  private readonly now: () => number;

  constructor(private readonly opts: MoveWatchOptions) {
    this.now = opts.now ?? Date.now;
  }

  /** Allocate handed these interfaces out: their clock starts now (the pod shows up in PodResources next). */
  allocated(ids: string[]): void {
    const now = this.now();
    for (const id of ids) this.allocatedAt.set(id, now);
  }

  /** Whether the next scan must ask PodResources: an allocation is unresolved or an interface is held. */
  get pending(): boolean {
    return this.allocatedAt.size > 0 || this.holds.size > 0;
  }

  isStuck(id: string): boolean {
    return this.holds.get(id)?.stuckAt !== undefined;
  }

  /**
   * One scan's facts: the interfaces on the host and who holds which (a PodResources answer). Finds new
   * stuck interfaces and releases the ones that moved late or whose holder is gone.
   */
  update(onHost: ReadonlySet<string>, holders: ReadonlyMap<string, PodRef>): void {
    const now = this.now();
    for (const [id, holder] of holders) {
      let hold = this.holds.get(id);
      if (!hold || !samePod(hold.holder, holder)) {
        if (hold?.stuckAt !== undefined) this.release(id, hold, 'the interface now belongs to another pod');
        hold = { holder, since: this.allocatedAt.get(id) ?? now, moved: false };
        this.holds.set(id, hold);
      }
      this.allocatedAt.delete(id);
      if (!onHost.has(id)) {
        if (hold.stuckAt !== undefined) this.release(id, hold, 'it reached its pod after all');
        hold.moved = true;
      } else if (!hold.moved && hold.stuckAt === undefined && now - hold.since >= this.opts.graceMs) {
        this.report(id, hold, now);
      }
    }
    for (const [id, hold] of this.holds) {
      if (holders.has(id)) continue;
      if (hold.stuckAt !== undefined) this.release(id, hold, 'no container holds it any more');
      this.holds.delete(id);
    }
    // An allocation whose pod never showed up (refused after Allocate by another admission step) is dropped.
    for (const [id, at] of this.allocatedAt)
      if (now - at >= 2 * this.opts.graceMs) this.allocatedAt.delete(id);
    this.opts.onCount?.(this.stuckCount());
  }

  /**
   * The next instant a scan has something to decide (a grace period ends, an unmatched allocation is
   * dropped), so the caller can look again then; undefined if none is ahead. Instants already past
   * (PodResources did not answer then) are left to the periodic rescan, never to a busy loop.
   */
  nextDeadline(): number | undefined {
    const now = this.now();
    const grace = this.opts.graceMs;
    const instants: number[] = [];
    for (const at of this.allocatedAt.values()) instants.push(at + grace > now ? at + grace : at + 2 * grace);
    for (const hold of this.holds.values())
      if (!hold.moved && hold.stuckAt === undefined) instants.push(hold.since + grace);
    const ahead = instants.filter((t) => t > now);
    return ahead.length ? Math.min(...ahead) : undefined;
  }

  /** The stuck interfaces, for /readyz. */
  conditions(): ResourceCondition[] {
    const out: ResourceCondition[] = [];
    for (const [device, hold] of this.holds) {
      if (hold.stuckAt === undefined) continue;
      const { namespace, pod, container } = hold.holder;
      out.push({
        type: 'InterfaceNotMoved',
        device,
        message:
          `allocated to ${namespace}/${pod} (container ${container}) but still in the host network namespace ` +
          `${Math.round((hold.stuckAt - hold.since) / 1000)}s after the allocation; kept Unhealthy meanwhile. ` +
          `Likely cause: ${LIKELY_CAUSE[this.opts.cdiMode]}`,
        since: new Date(hold.stuckAt).toISOString(),
      });
    }
    return out;
  }

  private stuckCount(): number {
    let n = 0;
    for (const hold of this.holds.values()) if (hold.stuckAt !== undefined) n += 1;
    return n;
  }

  private report(id: string, hold: Hold, now: number): void {
    hold.stuckAt = now;
    this.opts.onStuck?.(id);
    this.opts.log.error(
      'interface allocated to a pod is still on the host: the container runtime did not move it into the pod',
      {
        device: id,
        ...hold.holder,
        cdiMode: this.opts.cdiMode,
        secondsSinceAllocation: Math.round((now - hold.since) / 1000),
        likelyCause: LIKELY_CAUSE[this.opts.cdiMode],
        effect: 'the pod runs without it; advertised Unhealthy so no other pod gets it',
      },
    );
  }

  private release(id: string, hold: Hold, why: string): void {
    hold.stuckAt = undefined;
    this.opts.log.info(`interface no longer stuck on the host: ${why}`, { device: id, ...hold.holder });
  }
}

function samePod(a: PodRef, b: PodRef): boolean {
  return a.pod === b.pod && a.namespace === b.namespace && a.container === b.container;
}
