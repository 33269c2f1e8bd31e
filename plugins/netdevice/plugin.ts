/**
 * The netdevice resource: host interfaces picked by --interfaces, one device per interface (ID = its
 * name), Healthy while administratively up. Every netlink event triggers a full rescan (full lists
 * only); a periodic rescan backs the event stream up. An interface that leaves the host because a pod
 * got it stays advertised while the PodResources API says a container holds it, so the resource does
 * not flap; it is allocatable again once it is back on the host. An allocated interface that never
 * leaves the host (a runtime that ignores the CDI edits) is reported and kept Unhealthy (move-watch.ts).
 */
import * as fs from 'fs';
import * as path from 'path';
import { Counter, Gauge, type Registry } from 'prom-client';
import {
  AllocationError,
  CdiSpecKeeper,
  echoIds,
  devicesInUse,
  GrpcStatus,
  PodResourcesClient,
  PodResourcesSocketMissingError,
  publishOnChange,
  qualifiedCdiName,
  SerialTask,
  HEALTHY,
  isValidCdiDeviceName,
  UNHEALTHY,
  type ContainerAllocation,
  type Device,
  type DeviceListener,
  type Health,
  type Logger,
  type ResourceCondition,
  type ResourcePlugin,
} from '../framework';
import { selectInterfaces } from './candidates';
import { readDefaultRouteInterfaces, readLinks, type HostLink } from './ip';
import { LinkMonitor } from './monitor';
import { MoveWatch, type PodRef } from './move-watch';
import { CDI_KIND, HOOK_PROGRAM, netdeviceCdiSpec, specFileName, type CdiMode } from './spec';

/** Netlink events come in bursts (a move is a delete plus route flushes): fold them into one scan. */
const EVENT_DEBOUNCE_MS = 15;
const POD_RESOURCES_TIMEOUT_MS = 2000;

export interface NetdevicePluginOptions {
  resourceName: string;
  /** Which host interfaces are offered (unanchored, like Go's MatchString). */
  interfaces: RegExp;
  cdiMode: CdiMode;
  /** Where the hook program is on the host (only used in `hooks` mode). */
  hookDir: string;
  cdiDir: string;
  podResourcesSocket: string;
  /** Full rescan period, the fallback for lost or missing netlink events. */
  rescanIntervalMs: number;
  /** How long an allocated interface may stay on the host before it is reported as not moved. */
  moveGraceMs: number;
  log: Logger;
  /** Where the move-failure metrics go (the manager's registry); none in unit tests. */
  metrics?: Registry;
  /** Follow netlink events through `ip monitor`; only tests of the periodic fallback turn it off. */
  watchEvents?: boolean;
}

export type { PodRef } from './move-watch';

type PodResourcesState = 'answering' | 'missing' | 'failing';

/** Where an advertised interface is: on the host, in a pod (who holds it), or away with no one to ask. */
type Placement = { where: 'host'; link: HostLink } | { where: 'pod'; holder: PodRef } | { where: 'unknown' };

export class NetdevicePlugin implements ResourcePlugin {
  readonly resourceName: string;
  private readonly log: Logger;
  private readonly scans: SerialTask;
  private publish?: (devices: Device[]) => boolean;
  private placements = new Map<string, Placement>();
  private excluded = new Map<string, string>();
  /** Keeps the spec on disk: a full or read-only CDI dir is retried, a deleted spec written again. */
  private readonly cdi: CdiSpecKeeper;
  private specKey?: string;
  private monitor?: LinkMonitor;
  private rescanTimer?: NodeJS.Timeout;
  private moveCheckTimer?: NodeJS.Timeout;
  private readonly moves: MoveWatch;
  private podResources?: PodResourcesClient;
  private podResourcesState?: PodResourcesState;
  /** Until the PodResources API answers once, interfaces already in pods at start-up are unknown. */
  private podsSeen = false;
  /** While it does not answer, that start-up question is asked again once per rescan period, not per event. */
  private nextPodsCheck = 0;

  constructor(private readonly opts: NetdevicePluginOptions) {
    this.resourceName = opts.resourceName;
    this.log = opts.log;
    this.cdi = new CdiSpecKeeper({
      dir: opts.cdiDir,
      kind: CDI_KIND,
      fileName: specFileName(opts.resourceName),
      log: opts.log,
      pollMs: opts.rescanIntervalMs,
    });
    this.scans = new SerialTask(
      () => this.scan(),
      EVENT_DEBOUNCE_MS,
      (err) =>
        this.log.error('interface rescan failed; keeping the last device list', { error: err as Error }),
    );
    const failures = opts.metrics && moveMetrics(opts.metrics);
    const resource = { resource: opts.resourceName };
    // Series from the start, at 0: an alert on increase() needs a baseline.
    failures?.total.inc(resource, 0);
    failures?.stuck.set(resource, 0);
    this.moves = new MoveWatch({
      graceMs: opts.moveGraceMs,
      cdiMode: opts.cdiMode,
      log: this.log,
      onStuck: () => failures?.total.inc(resource),
      onCount: (stuck) => failures?.stuck.set(resource, stuck),
    });
  }

  /** Process id of the `ip monitor` child (tests kill it to prove it comes back). */
  get monitorPid(): number | undefined {
    return this.monitor?.pid;
  }

  get monitorRestarts(): number {
    return this.monitor?.restarts ?? 0;
  }

  async start(publish: DeviceListener): Promise<void> {
    this.publish = publishOnChange(publish);
    if (this.opts.watchEvents !== false) {
      // Listen before the first scan, so nothing that happens during it is missed.
      this.monitor = new LinkMonitor({ onEvent: () => this.scans.request(), log: this.log });
      this.monitor.start();
    }
    this.warnIfHookMissing();
    await this.scans.runNow(); // no ip fails the start with the reason (a CDI dir problem is retried)
    this.rescanTimer = setInterval(() => this.scans.request(), this.opts.rescanIntervalMs);
    this.rescanTimer.unref();
    this.log.info('watching host interfaces', {
      interfaces: this.opts.interfaces.source,
      cdiMode: this.opts.cdiMode,
      cdiSpec: this.cdi.file,
      rescanIntervalMs: this.opts.rescanIntervalMs,
      moveGraceMs: this.opts.moveGraceMs,
      netlinkEvents: this.monitor !== undefined,
    });
  }

  async stop(): Promise<void> {
    this.monitor?.stop();
    clearInterval(this.rescanTimer);
    await this.scans.stop();
    clearTimeout(this.moveCheckTimer); // after the last scan, which may have set it
    this.podResources?.close();
    this.cdi.close();
    // The CDI spec stays: containers that already hold an interface may restart while we are away, and
    // their runtime resolves the same CDI name again.
  }

  allocate(deviceIds: string[]): ContainerAllocation {
    const away = deviceIds.filter((id) => this.placements.get(id)?.where !== 'host');
    if (away.length) {
      throw new AllocationError(
        `interfaces not in the host network namespace (held by a pod?): ${echoIds(away)}`,
        GrpcStatus.FAILED_PRECONDITION, // well-formed, but the interface cannot be handed out now
      );
    }
    this.cdi.assertWritten(); // a CDI name whose spec is not on disk would fail later, in the runtime
    const cdiDevices = deviceIds.map((id) => qualifiedCdiName(CDI_KIND, id));
    this.log.info('interfaces allocated', { devices: deviceIds, cdiDevices });
    this.moves.allocated(deviceIds);
    this.scheduleMoveCheck();
    return { cdiDevices };
  }

  /** Interfaces a runtime failed to move into their pod (for /readyz). */
  conditions(): ResourceCondition[] {
    return this.moves.conditions();
  }

  /** Why allocations are refused right now (the CDI spec cannot be written), for /readyz. */
  unreadyReason(): string | undefined {
    const problem = this.cdi.problem();
    return problem && `CDI spec ${this.cdi.file} cannot be written: ${problem}`;
  }

  /** One full pass: read the host, place every interface, rewrite the spec if the set changed, publish. */
  private async scan(): Promise<void> {
    const [links, defaultRoutes] = await Promise.all([readLinks(), readDefaultRouteInterfaces()]);
    const { candidates, excluded } = selectInterfaces(links, defaultRoutes, this.opts.interfaces);
    this.logExclusions(excluded);
    // PodResources is asked only when its answer matters: an interface left the host, an allocation
    // is being watched, or (start-up) pods may already hold interfaces.
    const missing = [...this.placements.keys()].filter((id) => !candidates.has(id));
    const ask =
      missing.length > 0 || this.moves.pending || (!this.podsSeen && Date.now() >= this.nextPodsCheck);
    const inUse = ask ? await this.interfacesInUse() : undefined;
    if (ask && !inUse) this.nextPodsCheck = Date.now() + this.opts.rescanIntervalMs;

    const placements = new Map<string, Placement>();
    for (const [name, link] of candidates) placements.set(name, { where: 'host', link });
    for (const [name, placement] of this.placeAway(candidates, missing, inUse))
      placements.set(name, placement);
    if (inUse) this.moves.update(new Set(candidates.keys()), inUse);

    const ids = [...placements.keys()].sort();
    this.writeSpec(ids); // a failed write is retried by the keeper; Allocate refuses until it is on disk
    this.logChanges(placements);
    this.placements = placements;
    this.publish?.(ids.map((id) => ({ id, health: this.healthOf(id, placements.get(id)!) })));
    this.scheduleMoveCheck();
  }

  /** A stuck interface is on the host but not free: Unhealthy, so the kubelet offers it to no one. */
  private healthOf(id: string, placement: Placement): Health {
    return this.moves.isStuck(id) ? UNHEALTHY : healthOf(placement);
  }

  /** Scan again when the earliest grace period of a watched allocation ends (events may not come). */
  private scheduleMoveCheck(): void {
    clearTimeout(this.moveCheckTimer);
    const deadline = this.moves.nextDeadline();
    if (deadline === undefined) return;
    this.moveCheckTimer = setTimeout(() => this.scans.request(), Math.max(0, deadline - Date.now()) + 1);
    this.moveCheckTimer.unref();
  }

  /**
   * Interfaces advertised before but no longer on the host (`missing`): kept while a container holds
   * them. When the PodResources API gave no answer (`inUse` undefined), they keep their last placement,
   * or become 'unknown' (still advertised, not allocatable) until it answers.
   */
  private placeAway(
    onHost: Map<string, HostLink>,
    missing: string[],
    inUse: Map<string, PodRef> | undefined,
  ): Map<string, Placement> {
    const away = new Map<string, Placement>();
    if (!inUse) {
      for (const id of missing) {
        const before = this.placements.get(id)!;
        away.set(id, before.where === 'host' ? { where: 'unknown' } : before);
      }
      return away;
    }
    for (const id of missing) {
      const holder = inUse.get(id);
      if (holder) away.set(id, { where: 'pod', holder });
    }
    if (!this.podsSeen) {
      // Start-up: interfaces our pods took before this process started.
      for (const [id, holder] of inUse) {
        if (!onHost.has(id) && this.opts.interfaces.test(id) && isValidCdiDeviceName(id))
          away.set(id, { where: 'pod', holder });
      }
      this.podsSeen = true;
    }
    return away;
  }

  /**
   * Which containers hold which of our interfaces; undefined when the kubelet does not answer (a
   * passing state, e.g. while it restarts). No socket at all is a deployment without the PodResources
   * mount: nothing can be known, so nothing is held (moved interfaces are withdrawn while away).
   */
  private async interfacesInUse(): Promise<Map<string, PodRef> | undefined> {
    const socket = this.opts.podResourcesSocket;
    try {
      this.podResources ??= new PodResourcesClient(socket, POD_RESOURCES_TIMEOUT_MS);
      const inUse = devicesInUse(await this.podResources.list(), this.resourceName);
      this.podResourcesStateIs('answering', () => this.log.info('PodResources API answering', { socket }));
      return inUse;
    } catch (err) {
      if (err instanceof PodResourcesSocketMissingError) {
        this.podResourcesStateIs('missing', () =>
          this.log.warn(
            'PodResources socket not found: interfaces that leave the host for a pod are withdrawn until ' +
              'they return (mount the kubelet pod-resources directory to keep them advertised)',
            { socket },
          ),
        );
        return new Map();
      }
      this.podResourcesStateIs('failing', () =>
        this.log.warn(
          'PodResources API not answering: interfaces that left the host stay advertised, as Unhealthy ' +
            'when no one is known to hold them, until it answers',
          { socket, error: err as Error },
        ),
      );
      return undefined;
    }
  }

  /** Log PodResources trouble once per change of state, not on every scan. */
  private podResourcesStateIs(state: PodResourcesState, logChange: () => void): void {
    if (this.podResourcesState !== state && (state !== 'answering' || this.podResourcesState)) logChange();
    this.podResourcesState = state;
  }

  private writeSpec(ids: string[]): void {
    const key = ids.join(',');
    if (key === this.specKey) return;
    this.specKey = key;
    if (ids.length === 0) {
      this.cdi.set(undefined);
      this.log.info('no interfaces: CDI spec removed', { file: this.cdi.file });
    } else {
      this.cdi.set(netdeviceCdiSpec(ids, this.opts.cdiMode, this.opts.hookDir));
    }
  }

  /** One line per interface whose placement or health changed, in words an operator can act on. */
  private logChanges(next: Map<string, Placement>): void {
    for (const [id, before] of this.placements) {
      if (!next.has(id)) this.log.info('interface withdrawn: no longer on the host', { device: id });
      else logMove(this.log.with({ device: id }), before, next.get(id)!);
    }
    for (const [id, placement] of next) {
      if (this.placements.has(id)) continue;
      if (placement.where === 'pod') {
        this.log.info('interface held by a pod since before start-up: advertised', {
          device: id,
          ...placement.holder,
        });
      } else {
        this.log.info('interface advertised', { device: id, health: healthOf(placement) });
      }
    }
  }

  /** Interfaces the regex matches but the rules hold back: said once, when the set changes. */
  private logExclusions(excluded: Map<string, string>): void {
    for (const [name, reason] of excluded) {
      if (this.excluded.get(name) !== reason)
        this.log.info('interface matches --interfaces but is not offered', { device: name, reason });
    }
    this.excluded = excluded;
  }

  private warnIfHookMissing(): void {
    if (this.opts.cdiMode !== 'hooks') return;
    const hook = path.join(this.opts.hookDir, HOOK_PROGRAM);
    if (!fs.existsSync(hook)) {
      this.log.warn(
        'hook program not visible at --hook-dir from this process; the runtime runs it on the host',
        {
          hook,
          hint: 'the DaemonSet init container installs it there; ignore if --hook-dir is not mounted here',
        },
      );
    }
  }
}

/** The move-failure metrics, shared by every netdevice resource served from one registry. */
function moveMetrics(registry: Registry): { total: Counter; stuck: Gauge } {
  const existing = (name: string) => registry.getSingleMetric(name) as Counter & Gauge;
  const options = (name: string, help: string) => ({
    name,
    help,
    labelNames: ['resource'],
    registers: [registry],
  });
  return {
    total:
      existing('kdp_netdevice_move_failures_total') ??
      new Counter(
        options(
          'kdp_netdevice_move_failures_total',
          'Allocated interfaces found still on the host after --move-grace-period (the runtime did not move them)',
        ),
      ),
    stuck:
      existing('kdp_netdevice_interfaces_not_moved') ??
      new Gauge(
        options(
          'kdp_netdevice_interfaces_not_moved',
          'Allocated interfaces still on the host past --move-grace-period right now (kept Unhealthy)',
        ),
      ),
  };
}

function healthOf(placement: Placement): Health {
  if (placement.where === 'host') return placement.link.up ? HEALTHY : UNHEALTHY;
  return placement.where === 'pod' ? HEALTHY : UNHEALTHY;
}

function logMove(log: Logger, before: Placement, after: Placement): void {
  if (before.where === 'host' && after.where === 'host') {
    if (before.link.up !== after.link.up)
      log.info(after.link.up ? 'interface is up: Healthy' : 'interface is administratively down: Unhealthy');
  } else if (after.where === 'host') {
    log.info('interface is back on the host', { health: healthOf(after) });
  } else if (after.where === 'pod' && before.where !== 'pod') {
    log.info('interface left the host for a pod: still advertised while the pod holds it', {
      ...after.holder,
    });
  } else if (after.where === 'unknown' && before.where !== 'unknown') {
    log.warn('interface left the host and no one can say which pod holds it: advertised as Unhealthy');
  }
}
