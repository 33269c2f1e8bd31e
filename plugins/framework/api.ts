/**
 * Message tables for the two kubelet APIs, one per message of proto/deviceplugin-v1beta1.proto and
 * proto/podresources-v1.proto (test/framework/wire.test.ts checks them against those files).
 */
import type { MessageType } from './wire';

const msg = (name: string, fields: MessageType['fields']): MessageType => ({ name, fields });

// ---- v1beta1: the device plugin API ----
export const Empty = msg('v1beta1.Empty', []);
export const DevicePluginOptions = msg('v1beta1.DevicePluginOptions', [
  { no: 1, name: 'pre_start_required', type: 'bool' },
  { no: 2, name: 'get_preferred_allocation_available', type: 'bool' },
]);
export const RegisterRequest = msg('v1beta1.RegisterRequest', [
  { no: 1, name: 'version', type: 'string' },
  { no: 2, name: 'endpoint', type: 'string' },
  { no: 3, name: 'resource_name', type: 'string' },
  { no: 4, name: 'options', type: DevicePluginOptions },
]);
export const NUMANode = msg('v1beta1.NUMANode', [{ no: 1, name: 'ID', type: 'int64' }]);
export const TopologyInfo = msg('v1beta1.TopologyInfo', [
  { no: 1, name: 'nodes', type: NUMANode, repeated: true },
]);
export const Device = msg('v1beta1.Device', [
  { no: 1, name: 'ID', type: 'string' },
  { no: 2, name: 'health', type: 'string' },
  { no: 3, name: 'topology', type: TopologyInfo },
]);
export const ListAndWatchResponse = msg('v1beta1.ListAndWatchResponse', [
  { no: 1, name: 'devices', type: Device, repeated: true },
]);
export const PreStartContainerRequest = msg('v1beta1.PreStartContainerRequest', [
  { no: 1, name: 'devices_ids', type: 'string', repeated: true },
]);
export const PreStartContainerResponse = msg('v1beta1.PreStartContainerResponse', []);
export const ContainerPreferredAllocationRequest = msg('v1beta1.ContainerPreferredAllocationRequest', [
  { no: 1, name: 'available_deviceIDs', type: 'string', repeated: true },
  { no: 2, name: 'must_include_deviceIDs', type: 'string', repeated: true },
  { no: 3, name: 'allocation_size', type: 'int32' },
]);
export const PreferredAllocationRequest = msg('v1beta1.PreferredAllocationRequest', [
  { no: 1, name: 'container_requests', type: ContainerPreferredAllocationRequest, repeated: true },
]);
export const ContainerPreferredAllocationResponse = msg('v1beta1.ContainerPreferredAllocationResponse', [
  { no: 1, name: 'deviceIDs', type: 'string', repeated: true },
]);
export const PreferredAllocationResponse = msg('v1beta1.PreferredAllocationResponse', [
  { no: 1, name: 'container_responses', type: ContainerPreferredAllocationResponse, repeated: true },
]);
export const ContainerAllocateRequest = msg('v1beta1.ContainerAllocateRequest', [
  { no: 1, name: 'devices_ids', type: 'string', repeated: true },
]);
export const AllocateRequest = msg('v1beta1.AllocateRequest', [
  { no: 1, name: 'container_requests', type: ContainerAllocateRequest, repeated: true },
]);
export const CDIDevice = msg('v1beta1.CDIDevice', [{ no: 1, name: 'name', type: 'string' }]);
export const Mount = msg('v1beta1.Mount', [
  { no: 1, name: 'container_path', type: 'string' },
  { no: 2, name: 'host_path', type: 'string' },
  { no: 3, name: 'read_only', type: 'bool' },
]);
export const DeviceSpec = msg('v1beta1.DeviceSpec', [
  { no: 1, name: 'container_path', type: 'string' },
  { no: 2, name: 'host_path', type: 'string' },
  { no: 3, name: 'permissions', type: 'string' },
]);
export const ContainerAllocateResponse = msg('v1beta1.ContainerAllocateResponse', [
  { no: 1, name: 'envs', type: 'map' },
  { no: 2, name: 'mounts', type: Mount, repeated: true },
  { no: 3, name: 'devices', type: DeviceSpec, repeated: true },
  { no: 4, name: 'annotations', type: 'map' },
  { no: 5, name: 'cdi_devices', type: CDIDevice, repeated: true },
]);
export const AllocateResponse = msg('v1beta1.AllocateResponse', [
  { no: 1, name: 'container_responses', type: ContainerAllocateResponse, repeated: true },
]);

// ---- v1: the PodResources API ----
export const PrNUMANode = msg('v1.NUMANode', [{ no: 1, name: 'ID', type: 'int64' }]);
export const PrTopologyInfo = msg('v1.TopologyInfo', [
  { no: 1, name: 'nodes', type: PrNUMANode, repeated: true },
]);
export const PrContainerDevices = msg('v1.ContainerDevices', [
  { no: 1, name: 'resource_name', type: 'string' },
  { no: 2, name: 'device_ids', type: 'string', repeated: true },
  { no: 3, name: 'topology', type: PrTopologyInfo },
]);
export const PrContainerMemory = msg('v1.ContainerMemory', [
  { no: 1, name: 'memory_type', type: 'string' },
  { no: 2, name: 'size', type: 'uint64' },
  { no: 3, name: 'topology', type: PrTopologyInfo },
]);
export const PrCDIDevice = msg('v1.CDIDevice', [{ no: 1, name: 'name', type: 'string' }]);
export const PrClaimResource = msg('v1.ClaimResource', [
  { no: 1, name: 'cdi_devices', type: PrCDIDevice, repeated: true },
  { no: 2, name: 'driver_name', type: 'string' },
  { no: 3, name: 'pool_name', type: 'string' },
  { no: 4, name: 'device_name', type: 'string' },
]);
export const PrDynamicResource = msg('v1.DynamicResource', [
  { no: 2, name: 'claim_name', type: 'string' },
  { no: 3, name: 'claim_namespace', type: 'string' },
  { no: 4, name: 'claim_resources', type: PrClaimResource, repeated: true },
]);
export const PrContainerResources = msg('v1.ContainerResources', [
  { no: 1, name: 'name', type: 'string' },
  { no: 2, name: 'devices', type: PrContainerDevices, repeated: true },
  { no: 3, name: 'cpu_ids', type: 'int64', repeated: true },
  { no: 4, name: 'memory', type: PrContainerMemory, repeated: true },
  { no: 5, name: 'dynamic_resources', type: PrDynamicResource, repeated: true },
]);
export const PrPodResources = msg('v1.PodResources', [
  { no: 1, name: 'name', type: 'string' },
  { no: 2, name: 'namespace', type: 'string' },
  { no: 3, name: 'containers', type: PrContainerResources, repeated: true },
]);
export const PrListPodResourcesRequest = msg('v1.ListPodResourcesRequest', []);
export const PrListPodResourcesResponse = msg('v1.ListPodResourcesResponse', [
  { no: 1, name: 'pod_resources', type: PrPodResources, repeated: true },
]);
export const PrAllocatableResourcesRequest = msg('v1.AllocatableResourcesRequest', []);
export const PrAllocatableResourcesResponse = msg('v1.AllocatableResourcesResponse', [
  { no: 1, name: 'devices', type: PrContainerDevices, repeated: true },
  { no: 2, name: 'cpu_ids', type: 'int64', repeated: true },
  { no: 3, name: 'memory', type: PrContainerMemory, repeated: true },
]);
export const PrGetPodResourcesRequest = msg('v1.GetPodResourcesRequest', [
  { no: 1, name: 'pod_name', type: 'string' },
  { no: 2, name: 'pod_namespace', type: 'string' },
]);
export const PrGetPodResourcesResponse = msg('v1.GetPodResourcesResponse', [
  { no: 1, name: 'pod_resources', type: PrPodResources },
]);

/** Every message, for the test that compares these tables with the .proto files. */
export const ALL_MESSAGES: MessageType[] = [
  Empty,
  DevicePluginOptions,
  RegisterRequest,
  NUMANode,
  TopologyInfo,
  Device,
  ListAndWatchResponse,
  PreStartContainerRequest,
  PreStartContainerResponse,
  ContainerPreferredAllocationRequest,
  PreferredAllocationRequest,
  ContainerPreferredAllocationResponse,
  PreferredAllocationResponse,
  ContainerAllocateRequest,
  AllocateRequest,
  CDIDevice,
  Mount,
  DeviceSpec,
  ContainerAllocateResponse,
  AllocateResponse,
  PrNUMANode,
  PrTopologyInfo,
  PrContainerDevices,
  PrContainerMemory,
  PrCDIDevice,
  PrClaimResource,
  PrDynamicResource,
  PrContainerResources,
  PrPodResources,
  PrListPodResourcesRequest,
  PrListPodResourcesResponse,
  PrAllocatableResourcesRequest,
  PrAllocatableResourcesResponse,
  PrGetPodResourcesRequest,
  PrGetPodResourcesResponse,
];
