/**
 * The kubelet gRPC services (device plugin v1beta1 and PodResources v1), built on the message tables
 * in api.ts. Field names keep the .proto spelling (`resource_name`, `devices_ids`), so the wire
 * objects below read like the upstream API.
 */
import * as path from 'path';
import * as grpc from '@grpc/grpc-js';
import * as api from './api';
import { decode, encode, type MessageType } from './wire';

export function method(
  route: string,
  request: MessageType,
  response: MessageType,
  responseStream = false,
): grpc.MethodDefinition<object, object> {
  return {
    path: route,
    requestStream: false,
    responseStream,
    requestSerialize: (value: object) => encode(request, value as Record<string, unknown>),
    requestDeserialize: (bytes: Buffer) => decode(request, bytes),
    responseSerialize: (value: object) => encode(response, value as Record<string, unknown>),
    responseDeserialize: (bytes: Buffer) => decode(response, bytes),
  };
}

const registrationService = {
  Register: method('/v1beta1.Registration/Register', api.RegisterRequest, api.Empty),
};

const devicePluginService = {
  GetDevicePluginOptions: method(
    '/v1beta1.DevicePlugin/GetDevicePluginOptions',
    api.Empty,
    api.DevicePluginOptions,
  ),
  ListAndWatch: method('/v1beta1.DevicePlugin/ListAndWatch', api.Empty, api.ListAndWatchResponse, true),
  GetPreferredAllocation: method(
    '/v1beta1.DevicePlugin/GetPreferredAllocation',
    api.PreferredAllocationRequest,
    api.PreferredAllocationResponse,
  ),
  Allocate: method('/v1beta1.DevicePlugin/Allocate', api.AllocateRequest, api.AllocateResponse),
  PreStartContainer: method(
    '/v1beta1.DevicePlugin/PreStartContainer',
    api.PreStartContainerRequest,
    api.PreStartContainerResponse,
  ),
};

const podResourcesService = {
  List: method('/v1.PodResourcesLister/List', api.PrListPodResourcesRequest, api.PrListPodResourcesResponse),
  GetAllocatableResources: method(
    '/v1.PodResourcesLister/GetAllocatableResources',
    api.PrAllocatableResourcesRequest,
    api.PrAllocatableResourcesResponse,
  ),
  Get: method('/v1.PodResourcesLister/Get', api.PrGetPodResourcesRequest, api.PrGetPodResourcesResponse),
};

type ServiceCtor = grpc.ServiceClientConstructor;

let cache: { registration: ServiceCtor; devicePlugin: ServiceCtor; podResources: ServiceCtor } | undefined;

/** Client constructors for the three services; each has `.service` for `server.addService`. */
export function services() {
  cache ??= {
    registration: grpc.makeGenericClientConstructor(registrationService, 'Registration'),
    devicePlugin: grpc.makeGenericClientConstructor(devicePluginService, 'DevicePlugin'),
    podResources: grpc.makeGenericClientConstructor(podResourcesService, 'PodResourcesLister'),
  };
  return cache;
}

export const API_VERSION = 'v1beta1';
export const KUBELET_SOCKET_NAME = 'kubelet.sock';
export { DEFAULT_DEVICE_PLUGIN_DIR, DEFAULT_POD_RESOURCES_SOCKET } from '../catalogue/common';

// Wire shapes of the device plugin API (proto field names).
export interface WireDevice {
  ID: string;
  health: string;
  topology?: { nodes: { ID: number }[] } | null;
}
export interface WireDevicePluginOptions {
  pre_start_required: boolean;
  get_preferred_allocation_available: boolean;
}
export interface WireRegisterRequest {
  version: string;
  endpoint: string;
  resource_name: string;
  options?: WireDevicePluginOptions | null;
}
export interface WireContainerAllocateResponse {
  envs: Record<string, string>;
  mounts: { container_path: string; host_path: string; read_only: boolean }[];
  devices: { container_path: string; host_path: string; permissions: string }[];
  annotations: Record<string, string>;
  cdi_devices: { name: string }[];
}
export interface WireAllocateRequest {
  container_requests: { devices_ids: string[] }[];
}
export interface WireAllocateResponse {
  container_responses: WireContainerAllocateResponse[];
}
export interface WirePreferredAllocationRequest {
  container_requests: {
    available_deviceIDs: string[];
    must_include_deviceIDs: string[];
    allocation_size: number;
  }[];
}
export interface WirePreferredAllocationResponse {
  container_responses: { deviceIDs: string[] }[];
}

/**
 * grpc-js writes its own diagnostics to stderr (e.g. a bare "E No address added out of total 1 resolved"
 * before we report the failed bind properly). Send them through our structured log at debug instead.
 */
export function routeGrpcLogs(log: { debug(msg: string, fields?: Record<string, unknown>): void }): void {
  grpc.setLogger({
    error: (...args: unknown[]) => log.debug('grpc-js', { detail: args.map(String).join(' ') }),
  });
}

/**
 * Channel options for every client we make. A unix socket file appears (bind) a moment before its
 * server accepts (listen), and inotify tells us about the file at once: a connect in that window is
 * refused, and gRPC's default 1 s reconnect backoff would then stall a re-registration for seconds.
 */
export const CHANNEL_OPTIONS: grpc.ChannelOptions = {
  'grpc.initial_reconnect_backoff_ms': 10,
  'grpc.max_reconnect_backoff_ms': 500,
};

/** A client for a unix socket path; gRPC wants `unix://` plus an absolute path. */
export function unixTarget(socketPath: string): string {
  return `unix://${path.resolve(socketPath)}`;
}

/** Waits until the channel is connected, so a socket file that exists but is not yet accepting is fine. */
export function waitForReady(client: grpc.Client, timeoutMs: number): Promise<void> {
  return new Promise((resolve, reject) => {
    client.waitForReady(Date.now() + timeoutMs, (err) => (err ? reject(err) : resolve()));
  });
}

/** Promise wrapper for a unary call with a deadline. */
export function unary<Req, Res>(
  client: grpc.Client,
  method: string,
  request: Req,
  timeoutMs: number,
): Promise<Res> {
  return new Promise((resolve, reject) => {
    const fn = (client as unknown as Record<string, grpc.requestCallback<Res> | unknown>)[method] as (
      req: Req,
      options: grpc.CallOptions,
      cb: grpc.requestCallback<Res>,
    ) => void;
    fn.call(
      client,
      request,
      { deadline: Date.now() + timeoutMs },
      (err: grpc.ServiceError | null, res?: Res) => (err ? reject(err) : resolve(res as Res)),
    );
  });
}
