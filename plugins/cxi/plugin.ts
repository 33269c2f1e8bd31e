/**
 * The CXI resource: discovers HPE Slingshot NICs in sysfs, checks their `/dev/cxiN` nodes, and keeps
 * the kubelet's list current. Discovery runs at start, every rescan interval and whenever the devfs
 * root or `<sysfs>/class/cxi` changes (so hot-plugged NICs appear without a restart); health runs on
 * those occasions too and every health interval.
 */
import {
  publishOnChange,
  watchDirs,
  type ContainerAllocation,
  type Device,
  type DeviceListener,
  type Logger,
  type PreferredAllocationRequest,
  type ResourcePlugin,
  type Watch,
} from '../framework';
import { assertNodesUsable, cdiAllocation, directAllocation, type AllocationRoots } from './allocation';
import { deviceNodeHealth, type NodeHealth } from './devfs';
import { kubeletDevices, nicOfId, nicsOfIds } from './ids';
import { preferCxiDevices, type Placement } from './preferred';
import { classDir, discoverNics, nicDevicePath, nicLogFields, type CxiNic, type Discovery } from './sysfs';

export interface CxiPluginOptions extends AllocationRoots {
  resourceName: string;
  sysfsRoot: string;
  /** IDs per NIC (k pods can share a NIC); 1 means the IDs are the NIC numbers. */
  virtualDevices: number;
  /** CDI mode: Allocate answers `hpe.com/cxi=<N>` from the generator's spec in this directory. */
  cdiDir?: string;
  rescanIntervalMs: number;
  healthIntervalMs: number;
  log: Logger;
}

export class CxiPlugin implements ResourcePlugin {
  readonly resourceName: string;
  private nics: CxiNic[] = [];
  private health = new Map<number, NodeHealth>();
  private publish?: (devices: Device[]) => boolean;
  private watch?: Watch;
  private healthTimer?: NodeJS.Timeout;
  /** Last logged discovery facts, so a steady state is not logged again on every rescan. */
  private lastSkipped = '';
  private lastEmpty?: string;
  /** NICs whose health note has been logged (once per NIC). */
  private readonly notedNics = new Set<number>();

  constructor(private readonly options: CxiPluginOptions) {
    this.resourceName = options.resourceName;
  }

  start(publish: DeviceListener): void {
    this.publish = publishOnChange(publish);
    this.rescan();
    this.watch = watchDirs({
      dirs: [this.options.devfsRoot, classDir(this.options.sysfsRoot)],
      onChange: () => this.rescan(),
      // The poll is the periodic rescan: it also attaches the watch once class/cxi appears.
      pollMs: this.options.rescanIntervalMs,
      debounceMs: 20,
      log: this.options.log,
    });
    this.healthTimer = setInterval(() => this.checkHealth(), this.options.healthIntervalMs);
    this.healthTimer.unref();
  }

  stop(): void {
    this.watch?.close();
    clearInterval(this.healthTimer);
    this.publish = undefined;
  }

  /** Re-read sysfs, then re-check every NIC's device node and publish. */
  rescan(): void {
    const found = discoverNics(this.options.sysfsRoot);
    this.logDiscovery(found);
    this.nics = found.nics;
    this.checkHealth();
  }

  checkHealth(): void {
    const next = new Map<number, NodeHealth>();
    for (const nic of this.nics) {
      const now = deviceNodeHealth(nicDevicePath(this.options.devfsRoot, nic.number));
      this.logHealthChange(nic, this.health.get(nic.number), now);
      next.set(nic.number, now);
    }
    this.health = next;
    const states = this.nics.map((nic) => ({
      number: nic.number,
      health: next.get(nic.number)!.health,
      numaNode: nic.numaNode,
    }));
    this.publish?.(kubeletDevices(states, this.options.virtualDevices));
  }

  allocate(deviceIds: string[]): ContainerAllocation {
    const nics = nicsOfIds(deviceIds, this.options.virtualDevices);
    try {
      assertNodesUsable(nics, this.options.devfsRoot);
    } catch (err) {
      this.rescan(); // the kubelet should stop offering what just failed
      throw err;
    }
    const { cdiDir } = this.options;
    this.options.log.info('allocating CXI NICs', {
      deviceIds,
      nics: nics.map((n) => `cxi${n}`),
      mode: cdiDir ? 'cdi' : 'direct',
    });
    return cdiDir ? cdiAllocation(nics, cdiDir) : directAllocation(nics, this.options);
  }

  preferredAllocation(request: PreferredAllocationRequest): string[] {
    const byNumber = new Map(this.nics.map((nic) => [nic.number, nic]));
    return preferCxiDevices(request, (id): Placement | undefined => {
      const nic = byNumber.get(nicOfId(id, this.options.virtualDevices) ?? -1);
      return nic && { nic: nic.number, numaNode: nic.numaNode };
    });
  }

  private logDiscovery(found: Discovery): void {
    const { log, sysfsRoot } = this.options;
    const before = new Set(this.nics.map((n) => n.number));
    const after = new Set(found.nics.map((n) => n.number));
    for (const nic of found.nics) if (!before.has(nic.number)) log.info('CXI NIC found', nicLogFields(nic));
    for (const nic of this.nics)
      if (!after.has(nic.number)) log.warn('CXI NIC gone from sysfs', { nic: nic.name, number: nic.number });

    const skipped = JSON.stringify(found.skipped);
    if (skipped !== this.lastSkipped) {
      for (const s of found.skipped)
        log.info('ignoring cxi class entry', { entry: s.entry, reason: s.reason });
      this.lastSkipped = skipped;
    }
    const empty = !found.classDirFound
      ? `${classDir(sysfsRoot)} does not exist: is the cxi driver loaded?`
      : found.nics.length === 0
        ? `no HPE CXI NIC under ${classDir(sysfsRoot)}`
        : undefined;
    if (empty && empty !== this.lastEmpty) log.warn('no CXI NIC to offer', { reason: empty });
    this.lastEmpty = empty;
  }

  private logHealthChange(nic: CxiNic, before: NodeHealth | undefined, now: NodeHealth): void {
    const device = nicDevicePath(this.options.devfsRoot, nic.number);
    if (now.health === 'Unhealthy' && now.reason !== before?.reason)
      this.options.log.warn('CXI NIC unhealthy', { nic: nic.name, device, reason: now.reason });
    else if (now.health === 'Healthy' && before?.health === 'Unhealthy')
      this.options.log.info('CXI NIC healthy again', { nic: nic.name, device });
    if (now.note && !this.notedNics.has(nic.number)) {
      this.notedNics.add(nic.number);
      this.options.log.info('CXI NIC healthy without its device node being opened', {
        nic: nic.name,
        device,
        note: now.note,
      });
    }
  }
}
