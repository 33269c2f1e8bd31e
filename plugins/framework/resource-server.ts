/**
 * The DevicePlugin gRPC service for one resource. It keeps the plugin's latest full device list and
 * can (re)bind its unix socket any number of times: after a kubelet restart the kubelet deletes the
 * socket, so a fresh server is bound while the device state carries over.
 */
import * as fs from 'fs';
import * as grpc from '@grpc/grpc-js';
import type { Logger } from './log';
import type { FrameworkMetrics } from './metrics';
import { assertSocketPath, deviceIdErrors } from './names';
import {
  services,
  unixTarget,
  type WireAllocateRequest,
  type WireAllocateResponse,
  type WireDevice,
  type WireDevicePluginOptions,
  type WirePreferredAllocationRequest,
  type WirePreferredAllocationResponse,
} from './proto';
import { toWireResponse } from './allocation';
import { AllocationError, type Device, type ResourcePlugin } from './types';

type Stream = grpc.ServerWritableStream<unknown, { devices: WireDevice[] }>;

export class ResourceServer {
  private devices: Device[] = [];
  private byId = new Map<string, Device>();
  private wireList: WireDevice[] = [];
  private server?: grpc.Server;
  private streams = new Set<Stream>();
  /** Called when the last open ListAndWatch stream ends (the kubelet may have dropped us). */
  onStreamEnded?: () => void;

  constructor(
    readonly plugin: ResourcePlugin,
    readonly socketPath: string,
    private readonly log: Logger,
    private readonly metrics: FrameworkMetrics,
  ) {}

  get resourceName(): string {
    return this.plugin.resourceName;
  }

  options(): WireDevicePluginOptions {
    return {
      pre_start_required: typeof this.plugin.preStartContainer === 'function',
      get_preferred_allocation_available: typeof this.plugin.preferredAllocation === 'function',
    };
  }

  currentDevices(): Device[] {
    return this.devices;
  }

  streaming(): boolean {
    return this.streams.size > 0;
  }

  /** Accept a new full list from the plugin and send it to every open ListAndWatch stream. */
  readonly publish = (devices: Device[]): void => {
    const errors = deviceIdErrors(devices.map((d) => d.id));
    if (errors.length) {
      this.log.error('plugin published an invalid device list; keeping the previous one', { errors });
      return;
    }
    this.devices = devices.map((d) => ({ ...d }));
    this.byId = new Map(this.devices.map((d) => [d.id, d]));
    this.wireList = this.devices.map(toWireDevice);
    this.metrics.setDevices(this.resourceName, this.devices);
    for (const stream of this.streams) stream.write({ devices: this.wireList });
    this.log.debug('device list published', { devices: devices.length, streams: this.streams.size });
  };

  /** Bind a fresh gRPC server on the socket path, replacing any earlier one and any stale file. */
  async serve(): Promise<void> {
    await this.close();
    assertSocketPath(this.socketPath);
    fs.rmSync(this.socketPath, { force: true });
    const server = new grpc.Server();
    server.addService(services().devicePlugin.service, {
      GetDevicePluginOptions: (_call: unknown, cb: grpc.sendUnaryData<WireDevicePluginOptions>) =>
        cb(null, this.options()),
      ListAndWatch: (call: Stream) => this.listAndWatch(call),
      Allocate: (
        call: grpc.ServerUnaryCall<WireAllocateRequest, WireAllocateResponse>,
        cb: grpc.sendUnaryData<WireAllocateResponse>,
      ) =>
        void this.allocate(call.request).then(
          (res) => cb(null, res),
          (err) => cb(toServiceError(err)),
        ),
      GetPreferredAllocation: (
        call: grpc.ServerUnaryCall<WirePreferredAllocationRequest, WirePreferredAllocationResponse>,
        cb: grpc.sendUnaryData<WirePreferredAllocationResponse>,
      ) => {
        try {
          cb(null, this.preferredAllocation(call.request));
        } catch (err) {
          cb(toServiceError(err));
        }
      },
      PreStartContainer: (
        call: grpc.ServerUnaryCall<{ devices_ids: string[] }, object>,
        cb: grpc.sendUnaryData<object>,
      ) =>
        void this.preStart(call.request.devices_ids).then(
          () => cb(null, {}),
          (err) => cb(toServiceError(err)),
        ),
    });
    await new Promise<void>((resolve, reject) =>
      server.bindAsync(unixTarget(this.socketPath), grpc.ServerCredentials.createInsecure(), (err) =>
        err ? reject(new Error(`cannot serve on ${this.socketPath}: ${err.message}`)) : resolve(),
      ),
    );
    this.server = server;
    this.log.info('serving device plugin', { socket: this.socketPath });
  }

  /** Stop serving: end our streams and wait for the server to close (the manager removes the file). */
  async close(): Promise<void> {
    const server = this.server;
    if (!server) return;
    this.server = undefined;
    for (const stream of this.streams) stream.end();
    this.streams.clear();
    this.metrics.streams.set({ resource: this.resourceName }, 0);
    await new Promise<void>((resolve) => {
      const timer = setTimeout(() => {
        server.forceShutdown();
        resolve();
      }, 1000);
      server.tryShutdown(() => {
        clearTimeout(timer);
        resolve();
      });
    });
  }

  private listAndWatch(call: Stream): void {
    // The full list goes out at once: the kubelet needs no first-update delay.
    this.streams.add(call);
    this.metrics.streams.set({ resource: this.resourceName }, this.streams.size);
    this.log.info('ListAndWatch stream opened', { devices: this.devices.length, streams: this.streams.size });
    call.write({ devices: this.wireList });
    const done = () => {
      // Only this stream is forgotten: a late end of an old stream never touches a newer one.
      if (!this.streams.delete(call)) return;
      this.metrics.streams.set({ resource: this.resourceName }, this.streams.size);
      this.log.info('ListAndWatch stream closed', { streams: this.streams.size });
      if (this.streams.size === 0) this.onStreamEnded?.();
    };
    call.on('cancelled', done);
    call.on('close', done);
    call.on('error', done);
  }

  /** Validate every requested ID first, then ask the plugin per container, in request order. */
  async allocate(request: WireAllocateRequest): Promise<WireAllocateResponse> {
    const resource = this.resourceName;
    const stopTimer = this.metrics.allocateSeconds.startTimer({ resource });
    try {
      this.validateIds(request.container_requests.map((c) => c.devices_ids));
      const container_responses = [];
      for (const container of request.container_requests) {
        const allocation = await this.plugin.allocate(container.devices_ids);
        container_responses.push(toWireResponse(allocation));
        this.metrics.allocations.inc({ resource });
      }
      return { container_responses };
    } catch (err) {
      const reason =
        err instanceof AllocationError && err.grpcCode !== grpc.status.INTERNAL
          ? 'invalid_request'
          : 'plugin_error';
      this.metrics.allocationErrors.inc({ resource, reason });
      this.log.warn('Allocate failed', { error: err as Error });
      throw err;
    } finally {
      stopTimer();
    }
  }

  private validateIds(containers: string[][]): void {
    const unknown: string[] = [];
    const unhealthy: string[] = [];
    for (const ids of containers) {
      if (ids.length === 0)
        throw new AllocationError('a container request names no device IDs', grpc.status.INVALID_ARGUMENT);
      for (const id of ids) {
        const device = this.byId.get(id);
        if (!device) unknown.push(id);
        else if (device.health !== 'Healthy') unhealthy.push(id);
      }
    }
    if (unknown.length) {
      throw new AllocationError(
        `unknown device IDs for ${this.resourceName}: ${unknown.map(quote).join(', ')}`,
        grpc.status.INVALID_ARGUMENT,
      );
    }
    if (unhealthy.length) {
      throw new AllocationError(
        `unhealthy device IDs for ${this.resourceName}: ${unhealthy.map(quote).join(', ')}`,
        grpc.status.FAILED_PRECONDITION,
      );
    }
  }

  private preferredAllocation(request: WirePreferredAllocationRequest): WirePreferredAllocationResponse {
    const prefer = this.plugin.preferredAllocation;
    if (!prefer)
      throw new AllocationError(
        'GetPreferredAllocation is not offered by this plugin',
        grpc.status.UNIMPLEMENTED,
      );
    return {
      container_responses: request.container_requests.map((c) => {
        const size = c.allocation_size;
        const available = c.available_deviceIDs;
        const mustInclude = c.must_include_deviceIDs;
        const unknown = [...available, ...mustInclude].filter((id) => !this.byId.has(id));
        if (unknown.length) {
          throw new AllocationError(
            `unknown device IDs for ${this.resourceName}: ${unknown.map(quote).join(', ')}`,
            grpc.status.INVALID_ARGUMENT,
          );
        }
        return {
          deviceIDs: completePreference(
            prefer.call(this.plugin, { available, mustInclude, size }),
            available,
            mustInclude,
            size,
          ),
        };
      }),
    };
  }

  private async preStart(ids: string[]): Promise<void> {
    if (!this.plugin.preStartContainer)
      throw new AllocationError('PreStartContainer is not offered by this plugin', grpc.status.UNIMPLEMENTED);
    const unknown = ids.filter((id) => !this.byId.has(id));
    if (unknown.length) {
      throw new AllocationError(
        `unknown device IDs for ${this.resourceName}: ${unknown.map(quote).join(', ')}`,
        grpc.status.INVALID_ARGUMENT,
      );
    }
    await this.plugin.preStartContainer(ids);
  }
}

/**
 * Whatever the plugin prefers, the answer always contains every must-include ID, only available IDs,
 * and exactly `size` of them when that many are available.
 */
export function completePreference(
  preferred: string[],
  available: string[],
  mustInclude: string[],
  size: number,
): string[] {
  const pool = new Set(available);
  const chosen = new Set<string>(mustInclude);
  for (const id of [...preferred, ...available]) {
    if (chosen.size >= size) break;
    if (pool.has(id)) chosen.add(id);
  }
  return [...chosen];
}

function toWireDevice(device: Device): WireDevice {
  return {
    ID: device.id,
    health: device.health,
    topology: device.numaNodes?.length ? { nodes: device.numaNodes.map((id) => ({ ID: id })) } : null,
  };
}

function quote(id: string): string {
  return JSON.stringify(id);
}

function toServiceError(err: unknown): Partial<grpc.ServiceError> {
  if (err instanceof AllocationError)
    return { code: err.grpcCode, details: err.message, message: err.message };
  const message = err instanceof Error ? err.message : String(err);
  return { code: grpc.status.INTERNAL, details: message, message };
}
