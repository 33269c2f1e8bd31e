/** An in-test ResourcePlugin whose devices the test sets directly. */
import type {
  ContainerAllocation,
  Device,
  DeviceListener,
  PreferredAllocationRequest,
  ResourcePlugin,
} from '../../plugins/framework';

export class FakePlugin implements ResourcePlugin {
  private publish?: DeviceListener;
  readonly allocations: string[][] = [];
  stopped = false;

  constructor(
    readonly resourceName: string,
    private devices: Device[],
    private readonly extra: Partial<
      Pick<ResourcePlugin, 'preferredAllocation' | 'preStartContainer' | 'conditions'>
    > & {
      allocate?: (ids: string[]) => ContainerAllocation | Promise<ContainerAllocation>;
    } = {},
  ) {
    if (extra.preferredAllocation) this.preferredAllocation = extra.preferredAllocation;
    if (extra.preStartContainer) this.preStartContainer = extra.preStartContainer;
    if (extra.conditions) this.conditions = extra.conditions;
  }

  preferredAllocation?: (request: PreferredAllocationRequest) => string[];
  preStartContainer?: (ids: string[]) => Promise<void> | void;
  conditions?: ResourcePlugin['conditions'];

  start(publish: DeviceListener): void {
    this.publish = publish;
    publish(this.devices);
  }

  stop(): void {
    this.stopped = true;
  }

  set(devices: Device[]): void {
    this.devices = devices;
    this.publish?.(devices);
  }

  allocate(ids: string[]): ContainerAllocation | Promise<ContainerAllocation> {
    this.allocations.push(ids);
    if (this.extra.allocate) return this.extra.allocate(ids);
    return {
      devices: ids.map((id) => ({ containerPath: `/dev/${id}`, hostPath: `/dev/${id}`, permissions: 'rw' })),
    };
  }
}

export function healthy(...ids: string[]): Device[] {
  return ids.map((id) => ({ id, health: 'Healthy' }));
}
