/**
 * The kubelet gRPC services (device plugin v1beta1 and PodResources v1), built on the message tables
 * in api.ts. Field names keep the .proto spelling (`resource_name`, `devices_ids`), so the wire
 * objects below read like the upstream API.
 */
import * as api from './api';
import type { MethodSpec, ServiceSpec } from './grpc-protocol';
import { decode, encode, type MessageType } from './wire';

export function method(
  route: string,
  request: MessageType,
  response: MessageType,
  responseStream = false,
): MethodSpec {
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

export const registrationService = {
  Register: method('/v1beta1.Registration/Register', api.RegisterRequest, api.Empty),
} satisfies ServiceSpec;

export const devicePluginService = {
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
} satisfies ServiceSpec;

export const podResourcesService = {
  List: method('/v1.PodResourcesLister/List', api.PrListPodResourcesRequest, api.PrListPodResourcesResponse),
  GetAllocatableResources: method(
    '/v1.PodResourcesLister/GetAllocatableResources',
    api.PrAllocatableResourcesRequest,
    api.PrAllocatableResourcesResponse,
  ),
  Get: method('/v1.PodResourcesLister/Get', api.PrGetPodResourcesRequest, api.PrGetPodResourcesResponse),
} satisfies ServiceSpec;

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
