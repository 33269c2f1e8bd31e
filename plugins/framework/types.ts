/**
 * The plugin-facing contract. A plugin says which devices exist and how healthy they are, and what an
 * allocation hands to a container. It never sees gRPC, sockets or the kubelet: the framework owns those.
 */

export type Health = 'Healthy' | 'Unhealthy';
export const HEALTHY: Health = 'Healthy';
export const UNHEALTHY: Health = 'Unhealthy';

/** One schedulable unit of a resource, as the kubelet will see it. */
export interface Device {
  /** Unique within the resource; at most 63 characters (kubelet limit). */
  id: string;
  health: Health;
  /** NUMA nodes the device is attached to, when known. */
  numaNodes?: number[];
}

export interface DeviceSpec {
  containerPath: string;
  hostPath: string;
  /** cgroup permissions: any of r, w, m. */
  permissions: string;
}

export interface Mount {
  containerPath: string;
  hostPath: string;
  readOnly: boolean;
}

/** What one container gets for the devices allocated to it. Every part is optional. */
export interface ContainerAllocation {
  devices?: DeviceSpec[];
  mounts?: Mount[];
  envs?: Record<string, string>;
  annotations?: Record<string, string>;
  /** Fully-qualified CDI device names, `vendor.example/class=name`. */
  cdiDevices?: string[];
}

export interface PreferredAllocationRequest {
  available: string[];
  mustInclude: string[];
  size: number;
}

/**
 * Something an operator must know about a resource that does not make the plugin unready: a device a
 * container runtime failed to hand over, say. Listed under its resource in the `/readyz` JSON body.
 */
export interface ResourceCondition {
  /** Stable CamelCase kind to alert on, e.g. `InterfaceNotMoved`. */
  type: string;
  /** The device it concerns, when it concerns one. */
  device?: string;
  /** What is wrong and what to do, for a person. */
  message: string;
  /** When it was first seen, ISO 8601. */
  since: string;
}

/** A typed attribute a user can select on in a DRA CEL selector (`device.attributes["<driver>"].<name>`). */
export type DraAttribute = { string: string } | { int: number } | { bool: boolean } | { version: string };

/** What a device offers in DRA mode beyond its name: typed attributes and capacity quantities. */
export interface DraDeviceInfo {
  attributes?: Record<string, DraAttribute>;
  /** Quantities, e.g. `{ memory: '16Gi' }`. */
  capacity?: Record<string, string>;
  /**
   * Many claims may hold the device at once (resource.k8s.io/v1 `allowMultipleAllocations`, the
   * DRAConsumableCapacity feature: beta and on by default from Kubernetes 1.36). How a shared device
   * such as /dev/kvm is offered in DRA mode; see docs/DRA.md.
   */
  allowMultipleAllocations?: boolean;
}

/** Called by the plugin with the full, current device list whenever anything changed. */
export type DeviceListener = (devices: Device[]) => void;

/**
 * One extended resource served to the kubelet. `start` begins discovery and health watching and must
 * report the full list through `publish` (at least once, and again after every change).
 */
export interface ResourcePlugin {
  /** Extended resource name, e.g. `tdx.intel.com/tdx-guest`. */
  readonly resourceName: string;
  start(publish: DeviceListener): Promise<void> | void;
  stop(): Promise<void> | void;
  /**
   * Return what the container needs for `deviceIds`. The framework has already checked that every ID
   * is known and Healthy. Throw to fail the request; the message reaches the kubelet.
   */
  allocate(deviceIds: string[]): Promise<ContainerAllocation> | ContainerAllocation;
  /** Optional: preferred device IDs. Offered to the kubelet only when defined. */
  preferredAllocation?(request: PreferredAllocationRequest): string[];
  /** Optional: prepare devices before a container starts. Offered only when defined. */
  preStartContainer?(deviceIds: string[]): Promise<void> | void;
  /**
   * Optional: what is wrong right now, for the `/readyz` body. Called on every request, so it must be
   * cheap and must not throw. Conditions never make the plugin unready: a DaemonSet rollout must not
   * stall on a fault the plugin itself cannot fix.
   */
  conditions?(): ResourceCondition[];
  /**
   * Optional: why the plugin cannot serve allocations right now (e.g. its CDI spec cannot be written),
   * or undefined. /readyz answers 503 with this reason while it is set.
   */
  unreadyReason?(): string | undefined;
  /**
   * Optional, DRA mode only: the attributes and capacity of a device, published in its ResourceSlice
   * for users' CEL selectors (device path, major/minor, interface version…). Must be cheap and pure.
   */
  draAttributes?(device: Device): DraDeviceInfo;
}

/**
 * Where a family's resources go: the PluginManager (device-plugin mode: a socket and a kubelet
 * registration each) or the DRA driver (DRA mode: devices of the node's ResourceSlice). A family's
 * command adds to and removes from it without knowing which.
 */
export interface ResourceHost {
  addResource(plugin: ResourcePlugin): Promise<unknown>;
  removeResource(resourceName: string): Promise<void>;
}

/** gRPC status codes a plugin may fail an allocation with (plugins do not import gRPC). */
export const GrpcStatus = {
  INVALID_ARGUMENT: 3,
  NOT_FOUND: 5,
  FAILED_PRECONDITION: 9,
  UNAVAILABLE: 14,
  INTERNAL: 13,
} as const;

/** An error whose message is safe and useful to return to the kubelet. */
export class AllocationError extends Error {
  constructor(
    message: string,
    /** A GrpcStatus: INVALID_ARGUMENT for bad requests, FAILED_PRECONDITION, UNAVAILABLE, INTERNAL… */
    readonly grpcCode: number = GrpcStatus.INTERNAL,
  ) {
    super(message);
    this.name = 'AllocationError';
  }
}
