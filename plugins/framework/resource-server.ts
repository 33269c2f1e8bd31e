/**
 * The DevicePlugin gRPC service for one resource. It keeps the plugin's latest full device list and
 * can (re)bind its unix socket any number of times: after a kubelet restart the kubelet deletes the
 * socket, so a fresh server is bound while the device state carries over.
 */
import * as fs from 'fs';
import * as net from 'net';
import * as path from 'path';
import type { Logger } from './log';
import type { FrameworkMetrics } from './metrics';
import { assertSocketPath, deviceIdErrors } from './names';
import {
  devicePluginService,
  type WireAllocateRequest,
  type WireAllocateResponse,
  type WireDevice,
  type WireDevicePluginOptions,
  type WirePreferredAllocationRequest,
  type WirePreferredAllocationResponse,
} from './proto';
import { toWireResponse } from './allocation';
import { echoIds } from './echo';
import { GrpcError, Status } from './grpc-protocol';
import { GrpcServer, type ResponseStream } from './grpc-server';
import { AllocationError, type Device, type ResourcePlugin } from './types';

type Stream = ResponseStream<{ devices: WireDevice[] }>;

export class ResourceServer {
  private devices: Device[] = [];
  private byId = new Map<string, Device>();
  private wireList: WireDevice[] = [];
  private server?: GrpcServer;
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
    // Serving again means our socket was removed (a kubelet restart): connections to the old server
    // belong to a kubelet that is gone or has dropped us. Waiting for them to drain only delayed the
    // re-registration (by the full 1 s grace, seen on the real kubelet), so they are cut at once.
    await this.close({ force: true });
    assertSocketPath(this.socketPath);
    // Only a socket nothing answers on is stale: a live one belongs to another instance on this dir.
    await assertNotServedElsewhere(this.socketPath);
    fs.rmSync(this.socketPath, { force: true });
    const server = new GrpcServer({ maxConcurrentStreams: MAX_STREAMS_PER_CONNECTION });
    server.addService(devicePluginService, {
      GetDevicePluginOptions: () => this.options(),
      ListAndWatch: (_request: unknown, stream: ResponseStream<{ devices: WireDevice[] }>) =>
        this.listAndWatch(stream),
      Allocate: (request: WireAllocateRequest) => limited(() => this.allocate(request)),
      GetPreferredAllocation: (request: WirePreferredAllocationRequest) =>
        limited(async () => this.preferredAllocation(request)),
      PreStartContainer: (request: { devices_ids: string[] }) =>
        limited(() => this.preStart(request.devices_ids).then(() => ({}))),
    });
    await server.listen(this.socketPath).catch((err: Error) => {
      throw new Error(bindErrorMessage(this.socketPath, err));
    });
    this.server = server;
    this.log.info('serving device plugin', { socket: this.socketPath });
  }

  /**
   * Stop serving: end our streams and wait (up to 1 s) for the server to close, or cut its connections
   * at once with `force`. The manager removes the file.
   */
  async close(options: { force?: boolean } = {}): Promise<void> {
    const server = this.server;
    if (!server) return;
    this.server = undefined;
    for (const stream of this.streams) stream.end();
    this.streams.clear();
    this.metrics.streams.set({ resource: this.resourceName }, 0);
    await server.shutdown(options.force ? 0 : SHUTDOWN_GRACE_MS);
  }

  private listAndWatch(call: Stream): void {
    // The full list goes out at once: the kubelet needs no first-update delay.
    this.streams.add(call);
    this.metrics.streams.set({ resource: this.resourceName }, this.streams.size);
    this.log.info('ListAndWatch stream opened', { devices: this.devices.length, streams: this.streams.size });
    call.write({ devices: this.wireList });
    call.onClose(() => {
      // Only this stream is forgotten: a late end of an old stream never touches a newer one.
      if (!this.streams.delete(call)) return;
      this.metrics.streams.set({ resource: this.resourceName }, this.streams.size);
      this.log.info('ListAndWatch stream closed', { streams: this.streams.size });
      if (this.streams.size === 0) this.onStreamEnded?.();
    });
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
        err instanceof AllocationError && err.grpcCode !== Status.INTERNAL
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
    if (containers.length === 0)
      throw new AllocationError('the request has no container requests', Status.INVALID_ARGUMENT);
    const unknown: string[] = [];
    const unhealthy: string[] = [];
    for (const ids of containers) {
      if (ids.length === 0)
        throw new AllocationError('a container request names no device IDs', Status.INVALID_ARGUMENT);
      for (const id of ids) {
        const device = this.byId.get(id);
        if (!device) unknown.push(id);
        else if (device.health !== 'Healthy') unhealthy.push(id);
      }
    }
    if (unknown.length) {
      throw new AllocationError(
        `unknown device IDs for ${this.resourceName}: ${echoIds(unknown)}`,
        Status.INVALID_ARGUMENT,
      );
    }
    if (unhealthy.length) {
      throw new AllocationError(
        `unhealthy device IDs for ${this.resourceName}: ${echoIds(unhealthy)}`,
        Status.FAILED_PRECONDITION,
      );
    }
  }

  private preferredAllocation(request: WirePreferredAllocationRequest): WirePreferredAllocationResponse {
    const prefer = this.plugin.preferredAllocation;
    if (!prefer)
      throw new AllocationError('GetPreferredAllocation is not offered by this plugin', Status.UNIMPLEMENTED);
    if (request.container_requests.length === 0)
      throw new AllocationError('the request has no container requests', Status.INVALID_ARGUMENT);
    return {
      container_responses: request.container_requests.map((c, index) => {
        const size = c.allocation_size;
        const available = c.available_deviceIDs;
        const mustInclude = c.must_include_deviceIDs;
        const problem = preferenceRequestProblem(available, mustInclude, size, (id) => this.byId.has(id));
        if (problem) {
          throw new AllocationError(
            `GetPreferredAllocation for ${this.resourceName}, container request ${index}: ${problem}`,
            Status.INVALID_ARGUMENT,
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
      throw new AllocationError('PreStartContainer is not offered by this plugin', Status.UNIMPLEMENTED);
    if (ids.length === 0)
      throw new AllocationError('PreStartContainer names no device IDs', Status.INVALID_ARGUMENT);
    const unknown = ids.filter((id) => !this.byId.has(id));
    if (unknown.length) {
      throw new AllocationError(
        `unknown device IDs for ${this.resourceName}: ${echoIds(unknown)}`,
        Status.INVALID_ARGUMENT,
      );
    }
    await this.plugin.preStartContainer(ids);
  }
}

/**
 * Why a preferred-allocation request cannot be answered as the README promises (every must-include ID,
 * only available IDs, exactly `size` of them), or undefined when it can. The kubelet never sends such a
 * request; anything else that does gets INVALID_ARGUMENT naming the problem.
 */
export function preferenceRequestProblem(
  available: string[],
  mustInclude: string[],
  size: number,
  known: (id: string) => boolean,
): string | undefined {
  const unknown = [...available, ...mustInclude].filter((id) => !known(id));
  if (unknown.length) return `unknown device IDs: ${echoIds(unknown)}`;
  // One pass with a set: indexOf per ID was quadratic, 50 M comparisons for a hostile 10,000-ID request.
  const twice = (ids: string[]) => {
    const seen = new Set<string>();
    return ids.filter((id) => seen.has(id) || (seen.add(id), false));
  };
  const duplicateAvailable = twice(available);
  if (duplicateAvailable.length) return `available_deviceIDs lists IDs twice: ${echoIds(duplicateAvailable)}`;
  const duplicateMust = twice(mustInclude);
  if (duplicateMust.length) return `must_include_deviceIDs lists IDs twice: ${echoIds(duplicateMust)}`;
  const pool = new Set(available);
  const outside = mustInclude.filter((id) => !pool.has(id));
  if (outside.length) return `must_include_deviceIDs not in available_deviceIDs: ${echoIds(outside)}`;
  if (!Number.isInteger(size) || size < 1) return `allocation_size ${size} must be at least 1`;
  if (mustInclude.length > size)
    return `must_include_deviceIDs has ${mustInclude.length} IDs, more than allocation_size ${size}`;
  if (size > available.length)
    return `allocation_size ${size} is more than the ${available.length} available IDs`;
  return undefined;
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

/**
 * Requests (Allocate, GetPreferredAllocation, PreStartContainer, DRA's prepare and unprepare) being
 * worked on in this process, over every resource and connection. Beyond the cap a request is refused
 * at once with RESOURCE_EXHAUSTED (the kubelet retries a failed admission). A backstop for plugins whose
 * allocations wait (CEX waits for its zcrypt node): the stream limit below already bounds one connection.
 */
export const MAX_REQUESTS_IN_FLIGHT = 64;
let requestsInFlight = 0;

/**
 * HTTP/2 streams per connection (the kubelet's ListAndWatch takes one): further calls wait in the
 * client, not in our memory. Sized by the fault tier's memory case (5,000 concurrent Allocates on one
 * connection, kvm, runtime flags): peak RSS 108 MiB unlimited, 89 MiB at 256, 82 MiB at 64, 64 MiB at
 * 16 (54 MiB idle), against the chart's 128Mi limit (BENCHMARKS.md).
 */
const MAX_STREAMS_PER_CONNECTION = 16;

/** How long a stopping server lets calls in progress finish before it cuts the connections. */
export const SHUTDOWN_GRACE_MS = 1000;

/** Run `work` unless MAX_REQUESTS_IN_FLIGHT requests are already being worked on. */
export async function limited<T>(work: () => Promise<T>): Promise<T> {
  if (requestsInFlight >= MAX_REQUESTS_IN_FLIGHT)
    throw new GrpcError(
      Status.RESOURCE_EXHAUSTED,
      `too many requests in flight (${MAX_REQUESTS_IN_FLIGHT}); retry`,
    );
  requestsInFlight += 1;
  try {
    return await work();
  } finally {
    requestsInFlight -= 1;
  }
}

/** The errno of a failed listen, with what to check. */
function bindErrorMessage(socketPath: string, err: Error): string {
  return `cannot serve on ${socketPath}: ${err.message} (is the device-plugin dir ${path.dirname(socketPath)} writable?)`;
}

/** Only a socket nothing answers on is stale: a live one belongs to another instance on this dir. */
export async function assertNotServedElsewhere(socketPath: string): Promise<void> {
  if (await socketAnswers(socketPath))
    throw new Error(`another process serves ${socketPath}; not touching it (two instances on one dir?)`);
}

/** True when something accepts a connection on the unix socket at `file` (a live server). */
export function socketAnswers(file: string): Promise<boolean> {
  let stat: fs.Stats | undefined;
  try {
    stat = fs.statSync(file);
  } catch {
    return Promise.resolve(false);
  }
  if (!stat.isSocket()) return Promise.resolve(false);
  return new Promise((resolve) => {
    const socket = net.connect(file);
    const done = (answers: boolean) => {
      socket.destroy();
      resolve(answers);
    };
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false)); // ECONNREFUSED: nobody listens, the file is stale
    socket.setTimeout(1000, () => done(false));
  });
}
