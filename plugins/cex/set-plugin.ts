/**
 * One config set served as one resource, `cex.s390.ibm.com/<setname>`. Its devices are the set's
 * eligible APQNs, each `overcommit` times: `apqn-<adapter>-<domain>-<i>`, Healthy while online.
 */
import {
  AllocationError,
  echoIds,
  echoValue,
  GrpcStatus,
  publishOnChange,
  sharedDevices,
  type ContainerAllocation,
  type Device,
  type DeviceListener,
  type Logger,
  type PreferredAllocationRequest,
  type ResourcePlugin,
} from '../framework';
import type { CexAllocator } from './allocator';
import type { Apqn } from './ap-bus';
import type { ResolvedSet } from './config';
import { deviceIdBase, parseDeviceId } from './ids';

export interface Eligibility {
  eligible: Apqn[];
  /** Why APQNs named by the set are left out, one line each. */
  excluded: string[];
}

/**
 * The set keeps an APQN when adapter and domain match one of its definitions, that definition's
 * machine id is empty or ours, the card generation is at least mincexgen (as numbers: cex10 > cex9),
 * and the card's mode equals cexmode when cexmode is set.
 */
export function eligibleApqns(set: ResolvedSet, apqns: Apqn[], machineId: string): Eligibility {
  const eligible: Apqn[] = [];
  const excluded: string[] = [];
  for (const apqn of apqns) {
    const named = set.apqns.some(
      (def) =>
        def.adapter === apqn.adapter &&
        def.domain === apqn.domain &&
        (def.machineId === '' || def.machineId === machineId),
    );
    if (!named) continue;
    const at = `APQN (${apqn.adapter},${apqn.domain})`;
    if (apqn.gen < set.minCexGen)
      excluded.push(`${at}: card generation cex${apqn.gen} is below mincexgen cex${set.minCexGen}`);
    else if (set.cexMode && apqn.mode !== set.cexMode)
      excluded.push(`${at}: card mode ${apqn.mode} is not the set's cexmode ${set.cexMode}`);
    else eligible.push(apqn);
  }
  eligible.sort((a, b) => a.adapter - b.adapter || a.domain - b.domain);
  return { eligible, excluded };
}

export interface SetPluginDeps {
  allocator: CexAllocator;
  machineId: string;
  /** The latest APQN scan. */
  apqns(): Apqn[];
  log: Logger;
}

export class CexSetPlugin implements ResourcePlugin {
  readonly resourceName: string;
  private publish?: (devices: Device[]) => boolean;
  private current: Device[] = [];
  private lastExcluded = '';
  private retired = false;
  private readonly log: Logger;

  constructor(
    private set: ResolvedSet,
    private readonly deps: SetPluginDeps,
  ) {
    this.resourceName = set.resourceName;
    this.log = deps.log.with({ resource: set.resourceName });
  }

  get config(): ResolvedSet {
    return this.set;
  }

  devices(): Device[] {
    return this.current;
  }

  start(publish: DeviceListener): void {
    this.publish = publishOnChange(publish);
    this.refresh();
  }

  stop(): void {
    this.publish = undefined;
  }

  /** The set's definition changed (same name): recompute the devices. */
  update(set: ResolvedSet): void {
    this.set = set;
    this.refresh();
  }

  /** The set left the configuration: refuse further allocations while the resource is withdrawn. */
  retire(): void {
    this.retired = true;
  }

  /** Recompute the device list from the latest scan and publish it when it changed. */
  refresh(): void {
    const { eligible, excluded } = eligibleApqns(this.set, this.deps.apqns(), this.deps.machineId);
    this.current = eligible.flatMap((a) =>
      sharedDevices(
        deviceIdBase(a.adapter, a.domain),
        this.set.overcommit,
        a.online ? 'Healthy' : 'Unhealthy',
      ),
    );
    const excludedKey = excluded.join('\n');
    if (excludedKey !== this.lastExcluded && excluded.length)
      this.log.warn('APQNs named by the set are not offered', { excluded });
    this.lastExcluded = excludedKey;
    if (this.publish?.(this.current))
      this.log.info('devices changed', {
        apqns: eligible.map((a) => `${a.adapter}.${a.domain}${a.online ? '' : ' (offline)'}`),
        devices: this.current.length,
        overcommit: this.set.overcommit,
      });
  }

  /**
   * Spread containers over APQNs: with overcommit, prefer a device of the APQN with the most free
   * devices (the least shared one), taking one per APQN in turn. Upstream offered no preference, so
   * the kubelet could stack every container on one APQN while another stood idle.
   */
  preferredAllocation(request: PreferredAllocationRequest): string[] {
    const byApqn = new Map<string, string[]>();
    for (const id of [...request.available].sort()) {
      const base = id.slice(0, id.lastIndexOf('-'));
      byApqn.set(base, [...(byApqn.get(base) ?? []), id]);
    }
    const queues = [...byApqn.values()].sort((a, b) => b.length - a.length);
    const order: string[] = [];
    for (let round = 0; order.length < request.available.length; round++)
      for (const ids of queues) if (round < ids.length) order.push(ids[round]);
    return order.slice(0, request.size);
  }

  /** One device per container, as upstream: a container has a single /dev/z90crypt. */
  async allocate(ids: string[]): Promise<ContainerAllocation> {
    if (this.retired)
      throw new AllocationError(
        `${this.resourceName}: set "${this.set.name}" was removed from the crypto configuration`,
        GrpcStatus.FAILED_PRECONDITION,
      );
    if (ids.length !== 1)
      throw new AllocationError(
        `${this.resourceName}: a container can use one CEX device only (it gets a single /dev/z90crypt), ` +
          `but ${ids.length} were requested: ${echoIds(ids)}`,
        GrpcStatus.INVALID_ARGUMENT,
      );
    const ref = parseDeviceId(ids[0]);
    if (!ref)
      throw new AllocationError(
        `${this.resourceName}: malformed device ID ${echoValue(ids[0])}`,
        GrpcStatus.INVALID_ARGUMENT,
      );
    try {
      return await this.deps.allocator.allocate(ids[0], ref, this.set.liveSysfs, this.log);
    } catch (err) {
      throw new AllocationError(`${this.resourceName}: cannot allocate ${ids[0]}: ${(err as Error).message}`);
    }
  }
}
