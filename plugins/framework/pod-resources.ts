/**
 * Client of the kubelet PodResources API (v1): which pod and container holds which device. Plugins use
 * it to tell in-use devices from leftovers (CEX clean-up, netdevice links moved into pods).
 */
import * as fs from 'fs';
import { GrpcConnection } from './grpc-client';
import type { MethodSpec } from './grpc-protocol';
import { podResourcesService } from './proto';

export interface ContainerDevices {
  resourceName: string;
  deviceIds: string[];
}
export interface ContainerResources {
  name: string;
  devices: ContainerDevices[];
}
export interface PodResources {
  name: string;
  namespace: string;
  containers: ContainerResources[];
}

interface WireContainerDevices {
  resource_name: string;
  device_ids: string[];
}
interface WirePodResources {
  name: string;
  namespace: string;
  containers: { name: string; devices: WireContainerDevices[] }[];
}

/**
 * The PodResources socket is not there (the kubelet's pod-resources directory is not mounted, or there is
 * no kubelet): calls fail at once with this rather than after waiting the whole timeout.
 */
export class PodResourcesSocketMissingError extends Error {
  readonly code = 'ENOENT';
  constructor(readonly socketPath: string) {
    super(`PodResources socket ${socketPath} does not exist`);
    this.name = 'PodResourcesSocketMissingError';
  }
}

/**
 * One connection, made on the first call and made again after the kubelet drops it (a restart). Each
 * call is bounded by `timeoutMs`, connecting included.
 */
export class PodResourcesClient {
  private connection?: Promise<GrpcConnection>;

  constructor(
    readonly socketPath: string,
    private readonly timeoutMs = 5000,
  ) {}

  async list(): Promise<PodResources[]> {
    const res = await this.call<{ pod_resources: WirePodResources[] }>(podResourcesService.List, {});
    return res.pod_resources.map(fromWirePod);
  }

  async get(podName: string, podNamespace: string): Promise<PodResources | undefined> {
    const res = await this.call<{ pod_resources?: WirePodResources | null }>(podResourcesService.Get, {
      pod_name: podName,
      pod_namespace: podNamespace,
    });
    return res.pod_resources ? fromWirePod(res.pod_resources) : undefined;
  }

  async allocatable(): Promise<ContainerDevices[]> {
    const res = await this.call<{ devices: WireContainerDevices[] }>(
      podResourcesService.GetAllocatableResources,
      {},
    );
    return res.devices.map(fromWireDevices);
  }

  close(): void {
    const connection = this.connection;
    this.connection = undefined;
    connection?.then(
      (c) => c.close(),
      () => undefined,
    );
  }

  private async call<Res>(method: MethodSpec, request: object): Promise<Res> {
    const started = Date.now();
    const connection = await this.connect();
    return connection.unary<Res>(method, request, Math.max(1, this.timeoutMs - (Date.now() - started)));
  }

  /** Connected, or failing at once when the socket file is missing, else after the timeout. */
  private async connect(): Promise<GrpcConnection> {
    if (!fs.existsSync(this.socketPath)) throw new PodResourcesSocketMissingError(this.socketPath);
    const current = this.connection;
    if (current) {
      const connection = await current.catch(() => undefined);
      if (connection && !connection.closed) return connection;
      if (this.connection === current) this.connection = undefined;
    }
    this.connection ??= GrpcConnection.connect(this.socketPath, this.timeoutMs);
    return this.connection;
  }
}

/** Device IDs of `resourceName` held by any container, with who holds them. */
export function devicesInUse(
  pods: PodResources[],
  resourceName: string,
): Map<string, { pod: string; namespace: string; container: string }> {
  const inUse = new Map<string, { pod: string; namespace: string; container: string }>();
  for (const pod of pods) {
    for (const container of pod.containers) {
      for (const devices of container.devices) {
        if (devices.resourceName !== resourceName) continue;
        for (const id of devices.deviceIds)
          inUse.set(id, { pod: pod.name, namespace: pod.namespace, container: container.name });
      }
    }
  }
  return inUse;
}

function fromWireDevices(d: WireContainerDevices): ContainerDevices {
  return { resourceName: d.resource_name, deviceIds: d.device_ids };
}

function fromWirePod(p: WirePodResources): PodResources {
  return {
    name: p.name,
    namespace: p.namespace,
    containers: p.containers.map((c) => ({ name: c.name, devices: c.devices.map(fromWireDevices) })),
  };
}
