/** The framework's public surface: what a plugin and the CLI may use. */
export * from './types';
export * from './log';
export * from './cdi';
export { CdiSpecKeeper, type CdiKeeperOptions } from './cdi-keeper';
export { readConfigFile, MAX_CONFIG_BYTES, MAX_RESOURCES_PER_PROCESS } from './config-file';
export { echoIds, listIds, echoValue, capMessage, MAX_ECHOED_IDS, MAX_ECHOED_ID_LENGTH } from './echo';
export { mergeAllocations } from './allocation';
export { PluginManager, type ManagerOptions, type ResourceStatus } from './manager';
export { ResourceServer, completePreference } from './resource-server';
export { FrameworkMetrics } from './metrics';
export {
  PodResourcesClient,
  PodResourcesSocketMissingError,
  devicesInUse,
  type PodResources,
  type ContainerResources,
  type ContainerDevices,
} from './pod-resources';
export {
  resourceNameErrors,
  assertResourceName,
  socketNameFor,
  MAX_SOCKET_NAME_LENGTH,
  MAX_UNIX_SOCKET_PATH_BYTES,
} from './names';
export { startHttpServer, parseListenAddress, managerHttpSource, type HttpSource } from './http';
export { DEFAULT_DEVICE_PLUGIN_DIR, DEFAULT_POD_RESOURCES_SOCKET, KUBELET_SOCKET_NAME } from './proto';
export { watchDirs, publishOnChange, sharedDevices, type Watch, type WatchOptions } from './watch';
export { SerialTask } from './serial-task';
export {
  probeDeviceNode,
  deviceNumbers,
  DEVICE_CGROUP_NOTE,
  type DeviceNodeKind,
  type DeviceNodeProbe,
  type DeviceNodeProbeOptions,
} from './device-node';
export * from './flags';
export * from './errors';
export * from './command';
export * from './dra-flags';
