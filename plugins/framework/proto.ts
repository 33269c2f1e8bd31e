/**
 * Loads the kubelet gRPC APIs from proto/ at run time. Field names keep the .proto spelling
 * (`resource_name`, `devices_ids`), so the wire objects below read like the upstream API.
 */
import * as path from 'path';
import * as fs from 'fs';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';

/** proto/ sits two levels above this file both in the source tree and in dist/. */
function protoDir(): string {
  const candidates = [
    path.join(__dirname, '..', '..', 'proto'),
    path.join(__dirname, '..', '..', '..', 'proto'),
  ];
  const found = candidates.find((dir) => fs.existsSync(path.join(dir, 'deviceplugin-v1beta1.proto')));
  if (!found)
    throw new Error(`kubelet .proto files not found (looked in ${candidates.join(', ')}); run npm run build`);
  return found;
}

function load(file: string): grpc.GrpcObject {
  const definition = protoLoader.loadSync(path.join(protoDir(), file), {
    keepCase: true,
    longs: Number,
    enums: String,
    defaults: true,
    oneofs: true,
  });
  return grpc.loadPackageDefinition(definition);
}

type ServiceCtor = grpc.ServiceClientConstructor;

let cache: { registration: ServiceCtor; devicePlugin: ServiceCtor; podResources: ServiceCtor } | undefined;

export function services() {
  if (!cache) {
    const dp = load('deviceplugin-v1beta1.proto').v1beta1 as grpc.GrpcObject;
    const pr = load('podresources-v1.proto').v1 as grpc.GrpcObject;
    cache = {
      registration: dp.Registration as ServiceCtor,
      devicePlugin: dp.DevicePlugin as ServiceCtor,
      podResources: pr.PodResourcesLister as ServiceCtor,
    };
  }
  return cache;
}

export const API_VERSION = 'v1beta1';
export const KUBELET_SOCKET_NAME = 'kubelet.sock';
export const DEFAULT_DEVICE_PLUGIN_DIR = '/var/lib/kubelet/device-plugins';
export const DEFAULT_POD_RESOURCES_SOCKET = '/var/lib/kubelet/pod-resources/kubelet.sock';

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
