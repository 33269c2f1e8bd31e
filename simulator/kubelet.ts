/**
 * A kubelet emulator for tests and the demo. It behaves like the kubelet's device manager: serves
 * Registration on kubelet.sock, validates the version and resource name, dials the plugin and calls
 * GetDevicePluginOptions before answering Register (as kubelets since 1.25 do), then consumes
 * ListAndWatch, tracking capacity (all devices) and allocatable (Healthy ones). It can drive
 * Allocate / GetPreferredAllocation / PreStartContainer, simulate a kubelet restart, and serve the
 * PodResources API for the allocations it made. It speaks protobuf through its own codec (codec.ts,
 * protobufjs from proto/), never the plugins'. See simulator/README.md for what it models and what
 * only the e2e tier (the kubelet's real device manager) checks.
 */
import { EventEmitter } from 'events';
import * as fs from 'fs';
import * as path from 'path';
import * as grpc from '@grpc/grpc-js';
import { resourceNameErrors } from '../plugins/framework/names';
import {
  API_VERSION,
  KUBELET_SOCKET_NAME,
  type WireAllocateResponse,
  type WireContainerAllocateResponse,
  type WireDevice,
  type WireDevicePluginOptions,
  type WirePreferredAllocationResponse,
  type WireRegisterRequest,
} from '../plugins/framework/proto';
import { simulatorServices } from './codec';
import { CHANNEL_OPTIONS, unary, unixTarget, waitForReady } from './grpc-js-clients';

export interface SimDevice {
  id: string;
  health: string;
  numaNodes: number[];
}

export interface SimResource {
  resourceName: string;
  endpoint: string;
  options: WireDevicePluginOptions;
  devices: SimDevice[];
  /** False once the plugin's stream ended: the kubelet then treats every device as unavailable. */
  connected: boolean;
  /** Number of full lists received on the current stream. */
  updates: number;
  registrations: number;
}

export interface PodRef {
  pod: string;
  namespace: string;
  container: string;
}

export interface KubeletSimulatorOptions {
  devicePluginDir: string;
  /** Serve the PodResources API here as well (optional). */
  podResourcesSocket?: string;
  /** Deadline for dialling a plugin during Register. */
  dialTimeoutMs?: number;
  /**
   * Which kubelet's Register rule to follow. '1.37' (the default) keeps one client per plugin socket
   * and refuses a second Register for it while the first is connected ("device plugin already
   * connected"); '1.36' and older silently replace the first client.
   */
  kubeletVersion?: '1.36' | '1.37';
}

/** Every Register call, accepted or not, with the kubelet generation (start) that received it. */
export interface RegisterCall {
  generation: number;
  resource: string;
  accepted: boolean;
  reason?: string;
}

interface Connection {
  endpoint: string;
  client: grpc.Client;
  stream: grpc.ClientReadableStream<{ devices: WireDevice[] }>;
}

export class KubeletSimulator extends EventEmitter {
  private server?: grpc.Server;
  private podServer?: grpc.Server;
  private readonly state = new Map<string, SimResource>();
  private readonly connections = new Map<string, Connection>();
  /** resource → endpoint of the client the kubelet holds (accepted, stream not ended). */
  private readonly endpoints = new Map<string, string>();
  private readonly assignments: { resource: string; ids: string[]; ref: PodRef }[] = [];
  /** Register calls refused by validation, newest last (tests assert on them). */
  readonly rejections: { request: WireRegisterRequest; reason: string }[] = [];
  /** Every Register call received, newest last. */
  readonly registerCalls: RegisterCall[] = [];
  /** Incremented by every start: one kubelet process lifetime. */
  generation = 0;

  constructor(private readonly options: KubeletSimulatorOptions) {
    super();
    this.setMaxListeners(100);
  }

  get socketPath(): string {
    return path.join(this.options.devicePluginDir, KUBELET_SOCKET_NAME);
  }

  async start(): Promise<void> {
    fs.mkdirSync(this.options.devicePluginDir, { recursive: true });
    fs.rmSync(this.socketPath, { force: true });
    const server = new grpc.Server();
    const generation = ++this.generation;
    server.addService(simulatorServices().registration, {
      Register: (call: grpc.ServerUnaryCall<WireRegisterRequest, object>, cb: grpc.sendUnaryData<object>) =>
        void this.register(call.request).then(
          () => {
            this.registerCalls.push({ generation, resource: call.request.resource_name, accepted: true });
            cb(null, {});
          },
          (err: Error) => {
            this.registerCalls.push({
              generation,
              resource: call.request.resource_name,
              accepted: false,
              reason: err.message,
            });
            cb({ code: grpc.status.INVALID_ARGUMENT, details: err.message, message: err.message });
          },
        ),
    });
    await bind(server, this.socketPath);
    this.server = server;
    if (this.options.podResourcesSocket && !this.podServer)
      await this.startPodResources(this.options.podResourcesSocket);
  }

  /** Stop serving and disconnect from every plugin. */
  async stop(): Promise<void> {
    for (const resource of [...this.connections.keys(), ...this.endpoints.keys()]) this.disconnect(resource);
    await Promise.all([shutdown(this.server), shutdown(this.podServer)]);
    this.server = undefined;
    this.podServer = undefined;
  }

  /**
   * What a real kubelet restart looks like to plugins: the old kubelet goes away, the new one deletes
   * every socket in the device-plugin dir and creates a fresh kubelet.sock.
   */
  async restart(options: { staleSocket?: boolean } = {}): Promise<void> {
    await this.kill(options);
    await this.startAfterKill();
  }

  /**
   * The kubelet goes away. A killed kubelet leaves its dead kubelet.sock behind (`staleSocket`); the
   * next one deletes every socket in the dir, its own stale one included, then creates a fresh one.
   */
  async kill(options: { staleSocket?: boolean } = {}): Promise<void> {
    for (const resource of [...this.connections.keys(), ...this.endpoints.keys()]) this.disconnect(resource);
    // The listener unlinks its path when it closes: move the file aside first and back afterwards,
    // and what stays is a socket file nobody answers on.
    const aside = `${this.socketPath}.dead`;
    if (options.staleSocket && this.server) fs.renameSync(this.socketPath, aside);
    await shutdown(this.server);
    this.server = undefined;
    if (options.staleSocket && fs.existsSync(aside)) fs.renameSync(aside, this.socketPath);
    for (const res of this.state.values()) res.connected = false;
  }

  /** The kubelet drops its client of a plugin (its ListAndWatch stream ends), with no restart. */
  dropStream(resource: string): void {
    this.disconnect(resource);
    this.emit('change');
  }

  /** Start again after `kill`: clear the dir's sockets, as a starting kubelet does. */
  async startAfterKill(): Promise<void> {
    for (const name of fs.readdirSync(this.options.devicePluginDir)) {
      const file = path.join(this.options.devicePluginDir, name);
      if (fs.statSync(file, { throwIfNoEntry: false })?.isSocket()) fs.rmSync(file, { force: true });
    }
    await this.start();
    this.emit('change');
  }

  resource(name: string): SimResource | undefined {
    return this.state.get(name);
  }

  resourceNames(): string[] {
    return [...this.state.keys()];
  }

  capacity(name: string): number {
    return this.state.get(name)?.devices.length ?? 0;
  }

  allocatable(name: string): number {
    const res = this.state.get(name);
    if (!res || !res.connected) return 0;
    return res.devices.filter((d) => d.health === 'Healthy').length;
  }

  /** Resolve once `predicate` holds (checked now and after every change); reject after `timeoutMs`. */
  waitFor(predicate: () => boolean, timeoutMs = 5000, what = 'condition'): Promise<void> {
    return new Promise((resolve, reject) => {
      if (predicate()) return resolve();
      const timer = setTimeout(() => {
        this.off('change', check);
        reject(new Error(`kubelet simulator: timed out after ${timeoutMs} ms waiting for ${what}`));
      }, timeoutMs);
      const check = () => {
        if (!predicate()) return;
        clearTimeout(timer);
        this.off('change', check);
        resolve();
      };
      this.on('change', check);
    });
  }

  waitForRegistration(name: string, timeoutMs = 5000): Promise<void> {
    return this.waitFor(
      () => this.state.get(name)?.connected === true && (this.state.get(name)?.updates ?? 0) > 0,
      timeoutMs,
      `${name} to register`,
    );
  }

  async allocate(
    name: string,
    containers: string[][],
    pod?: PodRef,
  ): Promise<WireContainerAllocateResponse[]> {
    const res = await unary<object, WireAllocateResponse>(
      this.client(name),
      'Allocate',
      { container_requests: containers.map((ids) => ({ devices_ids: ids })) },
      10_000,
    );
    if (pod)
      containers.forEach((ids, i) =>
        this.assignments.push({
          resource: name,
          ids,
          ref: { ...pod, container: containers.length > 1 ? `${pod.container}-${i}` : pod.container },
        }),
      );
    return res.container_responses;
  }

  async preferredAllocation(
    name: string,
    requests: { available: string[]; mustInclude?: string[]; size: number }[],
  ): Promise<string[][]> {
    const res = await unary<object, WirePreferredAllocationResponse>(
      this.client(name),
      'GetPreferredAllocation',
      {
        container_requests: requests.map((r) => ({
          available_deviceIDs: r.available,
          must_include_deviceIDs: r.mustInclude ?? [],
          allocation_size: r.size,
        })),
      },
      5000,
    );
    return res.container_responses.map((c) => c.deviceIDs);
  }

  async preStartContainer(name: string, ids: string[]): Promise<void> {
    await unary(this.client(name), 'PreStartContainer', { devices_ids: ids }, 30_000);
  }

  /** Record that a pod holds devices (what PodResources List reports), without calling Allocate. */
  assignPod(resource: string, ids: string[], ref: PodRef): void {
    this.assignments.push({ resource, ids, ref });
  }

  removePod(pod: string, namespace: string): void {
    for (let i = this.assignments.length - 1; i >= 0; i--) {
      const a = this.assignments[i];
      if (a.ref.pod === pod && a.ref.namespace === namespace) this.assignments.splice(i, 1);
    }
  }

  private client(name: string): grpc.Client {
    const conn = this.connections.get(name);
    if (!conn) throw new Error(`kubelet simulator: no plugin registered for ${name}`);
    return conn.client;
  }

  private async register(request: WireRegisterRequest): Promise<void> {
    const reason = this.validate(request);
    if (reason) {
      this.rejections.push({ request, reason });
      this.emit('change');
      throw new Error(reason);
    }
    const DevicePlugin = deviceplugin();
    const socket = path.join(this.options.devicePluginDir, request.endpoint);
    const client = new DevicePlugin(unixTarget(socket), grpc.credentials.createInsecure(), CHANNEL_OPTIONS);
    let options: WireDevicePluginOptions;
    try {
      await waitForReady(client, this.options.dialTimeoutMs ?? 3000);
      options = await unary<object, WireDevicePluginOptions>(client, 'GetDevicePluginOptions', {}, 3000);
    } catch (err) {
      client.close();
      throw new Error(`cannot reach plugin at ${request.endpoint}: ${(err as Error).message}`);
    }
    // 1.37 records the endpoint when it accepts (before the stream opens) and forgets it when the
    // client's stream ends.
    const connected = this.endpoints.get(request.resource_name);
    if (connected === request.endpoint && this.options.kubeletVersion !== '1.36') {
      client.close();
      throw new Error(`device plugin already connected: ${socket}`);
    }
    // Up to 1.36 a new registration for the same resource replaces the old endpoint.
    this.disconnect(request.resource_name);
    const previous = this.state.get(request.resource_name);
    const res: SimResource = {
      resourceName: request.resource_name,
      endpoint: request.endpoint,
      options,
      devices: previous?.devices ?? [],
      connected: true,
      updates: 0,
      registrations: (previous?.registrations ?? 0) + 1,
    };
    this.state.set(request.resource_name, res);
    this.endpoints.set(request.resource_name, request.endpoint);
    // Answer Register first, then open the stream (the kubelet does this in a goroutine).
    setImmediate(() => this.watch(res, client));
  }

  private validate(request: WireRegisterRequest): string | undefined {
    if (request.version !== API_VERSION)
      return `unsupported device plugin API version "${request.version}" (want ${API_VERSION})`;
    const errors = resourceNameErrors(request.resource_name);
    if (errors.length) return `invalid resource name: ${errors.join('; ')}`;
    if (!request.endpoint || request.endpoint.includes('/'))
      return `endpoint "${request.endpoint}" must be a socket file name`;
    return undefined;
  }

  private watch(res: SimResource, client: grpc.Client): void {
    const stream = (client as unknown as { ListAndWatch(req: object): Connection['stream'] }).ListAndWatch(
      {},
    );
    const conn = { endpoint: res.endpoint, client, stream };
    this.connections.set(res.resourceName, conn);
    stream.on('data', (msg: { devices: WireDevice[] }) => {
      if (this.connections.get(res.resourceName) !== conn) return;
      res.devices = msg.devices.map((d) => ({
        id: d.ID,
        health: d.health,
        numaNodes: d.topology?.nodes.map((n) => Number(n.ID)) ?? [],
      }));
      res.updates += 1;
      this.emit('update', res.resourceName, res.devices);
      this.emit('change');
    });
    const ended = () => {
      if (this.connections.get(res.resourceName) !== conn) return; // an old stream: ignore
      this.connections.delete(res.resourceName);
      this.endpoints.delete(res.resourceName);
      res.connected = false;
      client.close();
      this.emit('change');
    };
    stream.on('error', ended);
    stream.on('end', ended);
    this.emit('change');
  }

  private disconnect(resource: string): void {
    this.endpoints.delete(resource);
    const conn = this.connections.get(resource);
    if (!conn) return;
    this.connections.delete(resource);
    conn.stream.cancel();
    conn.client.close();
    const res = this.state.get(resource);
    if (res) res.connected = false;
  }

  private async startPodResources(socket: string): Promise<void> {
    fs.mkdirSync(path.dirname(socket), { recursive: true });
    fs.rmSync(socket, { force: true });
    const server = new grpc.Server();
    server.addService(simulatorServices().podResources, {
      List: (_call: unknown, cb: grpc.sendUnaryData<object>) =>
        cb(null, { pod_resources: this.podResources() }),
      Get: (
        call: grpc.ServerUnaryCall<{ pod_name: string; pod_namespace: string }, object>,
        cb: grpc.sendUnaryData<object>,
      ) => {
        const pod = this.podResources().find(
          (p) => p.name === call.request.pod_name && p.namespace === call.request.pod_namespace,
        );
        if (!pod)
          cb({
            code: grpc.status.NOT_FOUND,
            details: `pod ${call.request.pod_namespace}/${call.request.pod_name} not found`,
          });
        else cb(null, { pod_resources: pod });
      },
      GetAllocatableResources: (_call: unknown, cb: grpc.sendUnaryData<object>) =>
        cb(null, {
          devices: [...this.state.values()].map((r) => ({
            resource_name: r.resourceName,
            device_ids: r.devices.filter((d) => d.health === 'Healthy').map((d) => d.id),
          })),
          cpu_ids: [],
          memory: [],
        }),
    });
    await bind(server, socket);
    this.podServer = server;
  }

  private podResources() {
    const pods = new Map<
      string,
      {
        name: string;
        namespace: string;
        containers: Map<string, { resource_name: string; device_ids: string[] }[]>;
      }
    >();
    for (const { resource, ids, ref } of this.assignments) {
      const key = `${ref.namespace}/${ref.pod}`;
      const pod = pods.get(key) ?? { name: ref.pod, namespace: ref.namespace, containers: new Map() };
      pods.set(key, pod);
      const devices = pod.containers.get(ref.container) ?? [];
      devices.push({ resource_name: resource, device_ids: ids });
      pod.containers.set(ref.container, devices);
    }
    return [...pods.values()].map((p) => ({
      name: p.name,
      namespace: p.namespace,
      containers: [...p.containers.entries()].map(([name, devices]) => ({
        name,
        devices,
        cpu_ids: [],
        memory: [],
        dynamic_resources: [],
      })),
    }));
  }
}

let devicePluginClient: grpc.ServiceClientConstructor | undefined;

function deviceplugin(): grpc.ServiceClientConstructor {
  devicePluginClient ??= grpc.makeGenericClientConstructor(simulatorServices().devicePlugin, 'DevicePlugin');
  return devicePluginClient;
}

function bind(server: grpc.Server, socket: string): Promise<void> {
  return new Promise((resolve, reject) =>
    server.bindAsync(unixTarget(socket), grpc.ServerCredentials.createInsecure(), (err) =>
      err ? reject(err) : resolve(),
    ),
  );
}

function shutdown(server: grpc.Server | undefined): Promise<void> {
  if (!server) return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(() => {
      server.forceShutdown();
      resolve();
    }, 500);
    server.tryShutdown(() => {
      clearTimeout(timer);
      resolve();
    });
  });
}
