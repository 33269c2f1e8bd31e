/**
 * Client of the kubelet PodResources API (v1): which pod and container holds which device. Plugins use
 * it to tell in-use devices from leftovers (CEX clean-up, netdevice links moved into pods).
 */
import * as fs from 'fs';
import * as grpc from '@grpc/grpc-js';
import { CHANNEL_OPTIONS, services, unary, unixTarget, waitForReady } from './proto';

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

export class PodResourcesClient {
  private readonly client: grpc.Client;

  constructor(
    readonly socketPath: string,
    private readonly timeoutMs = 5000,
  ) {
    const Lister = services().podResources;
    this.client = new Lister(unixTarget(socketPath), grpc.credentials.createInsecure(), CHANNEL_OPTIONS);
  }

  async list(): Promise<PodResources[]> {
    await this.ready();
    const res = await unary<object, { pod_resources: WirePodResources[] }>(
      this.client,
      'List',
      {},
      this.timeoutMs,
    );
    return res.pod_resources.map(fromWirePod);
  }

  async get(podName: string, podNamespace: string): Promise<PodResources | undefined> {
    await this.ready();
    const res = await unary<object, { pod_resources?: WirePodResources | null }>(
      this.client,
      'Get',
      { pod_name: podName, pod_namespace: podNamespace },
      this.timeoutMs,
    );
    return res.pod_resources ? fromWirePod(res.pod_resources) : undefined;
  }

  async allocatable(): Promise<ContainerDevices[]> {
    await this.ready();
    const res = await unary<object, { devices: WireContainerDevices[] }>(
      this.client,
      'GetAllocatableResources',
      {},
      this.timeoutMs,
    );
    return res.devices.map(fromWireDevices);
  }

  close(): void {
    this.client.close();
  }

  /** Connected, or failing at once when the socket file is missing, else after the timeout. */
  private async ready(): Promise<void> {
    if (!fs.existsSync(this.socketPath)) throw new PodResourcesSocketMissingError(this.socketPath);
    await waitForReady(this.client, this.timeoutMs);
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
