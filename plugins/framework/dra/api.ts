/**
 * Message tables and gRPC services for the kubelet's DRA APIs: plugin-watcher registration
 * (proto/pluginregistration-v1.proto), the DRA node service v1 and v1beta1 (proto/dra-v1.proto,
 * proto/dra-v1beta1.proto) and device health (proto/dra-health-v1.proto). test/framework/dra-wire.test.ts
 * checks every table against those files. Names are the .proto's fully-qualified ones, because the
 * kubelet's gRPC routes are built from them.
 */
import type { ServiceSpec } from '../grpc-protocol';
import { method } from '../proto';
import type { EnumType, MessageType } from '../wire';

const msg = (name: string, fields: MessageType['fields']): MessageType => ({ name, fields });

// ---- pluginregistration: served by every plugin the kubelet's plugin watcher finds ----
const REG = 'pluginregistration';
export const InfoRequest = msg(`${REG}.InfoRequest`, []);
export const PluginInfo = msg(`${REG}.PluginInfo`, [
  { no: 1, name: 'type', type: 'string' },
  { no: 2, name: 'name', type: 'string' },
  { no: 3, name: 'endpoint', type: 'string' },
  { no: 4, name: 'supported_versions', type: 'string', repeated: true },
]);
export const RegistrationStatus = msg(`${REG}.RegistrationStatus`, [
  { no: 1, name: 'plugin_registered', type: 'bool' },
  { no: 2, name: 'error', type: 'string' },
]);
export const RegistrationStatusResponse = msg(`${REG}.RegistrationStatusResponse`, []);

// ---- DRA node service: v1 and v1beta1 differ only in v1's Device.share_id ----
function draMessages(pkg: string, withShareId: boolean) {
  const Claim = msg(`${pkg}.Claim`, [
    { no: 1, name: 'namespace', type: 'string' },
    { no: 2, name: 'uid', type: 'string' },
    { no: 3, name: 'name', type: 'string' },
  ]);
  const Device = msg(`${pkg}.Device`, [
    { no: 1, name: 'request_names', type: 'string', repeated: true },
    { no: 2, name: 'pool_name', type: 'string' },
    { no: 3, name: 'device_name', type: 'string' },
    { no: 4, name: 'cdi_device_ids', type: 'string', repeated: true },
    ...(withShareId ? [{ no: 5, name: 'share_id', type: 'string' as const, optional: true }] : []),
  ]);
  const NodePrepareResourceResponse = msg(`${pkg}.NodePrepareResourceResponse`, [
    { no: 1, name: 'devices', type: Device, repeated: true },
    { no: 2, name: 'error', type: 'string' },
  ]);
  const NodeUnprepareResourceResponse = msg(`${pkg}.NodeUnprepareResourceResponse`, [
    { no: 1, name: 'error', type: 'string' },
  ]);
  const claims = { no: 1, name: 'claims', type: Claim, repeated: true };
  const m = {
    Claim,
    Device,
    NodePrepareResourcesRequest: msg(`${pkg}.NodePrepareResourcesRequest`, [claims]),
    NodePrepareResourcesResponse: msg(`${pkg}.NodePrepareResourcesResponse`, [
      { no: 1, name: 'claims', type: 'map', mapValue: NodePrepareResourceResponse },
    ]),
    NodePrepareResourceResponse,
    NodeUnprepareResourcesRequest: msg(`${pkg}.NodeUnprepareResourcesRequest`, [claims]),
    NodeUnprepareResourcesResponse: msg(`${pkg}.NodeUnprepareResourcesResponse`, [
      { no: 1, name: 'claims', type: 'map', mapValue: NodeUnprepareResourceResponse },
    ]),
    NodeUnprepareResourceResponse,
  };
  return m;
}
export const draV1 = draMessages('k8s.io.kubelet.pkg.apis.dra.v1', true);
export const draV1beta1 = draMessages('k8s.io.kubelet.pkg.apis.dra.v1beta1', false);

// ---- dra-health v1 ----
const HEALTH = 'v1';
export const HealthStatus: EnumType = {
  name: `${HEALTH}.HealthStatus`,
  values: { UNKNOWN: 0, HEALTHY: 1, UNHEALTHY: 2 },
};
export const NodeWatchResourcesRequest = msg(`${HEALTH}.NodeWatchResourcesRequest`, []);
export const DeviceIdentifier = msg(`${HEALTH}.DeviceIdentifier`, [
  { no: 1, name: 'pool_name', type: 'string' },
  { no: 2, name: 'device_name', type: 'string' },
]);
export const DeviceHealth = msg(`${HEALTH}.DeviceHealth`, [
  { no: 1, name: 'device', type: DeviceIdentifier },
  { no: 2, name: 'health', type: HealthStatus },
  { no: 3, name: 'last_updated_time', type: 'int64' },
  { no: 4, name: 'health_check_timeout_seconds', type: 'int64' },
  { no: 5, name: 'message', type: 'string' },
]);
export const NodeWatchResourcesResponse = msg(`${HEALTH}.NodeWatchResourcesResponse`, [
  { no: 1, name: 'devices', type: DeviceHealth, repeated: true },
]);

/** Every message, for the test that compares these tables with the .proto files. */
export const ALL_DRA_MESSAGES: MessageType[] = [
  InfoRequest,
  PluginInfo,
  RegistrationStatus,
  RegistrationStatusResponse,
  ...Object.values(draV1),
  ...Object.values(draV1beta1),
  NodeWatchResourcesRequest,
  DeviceIdentifier,
  DeviceHealth,
  NodeWatchResourcesResponse,
];

/** The names the kubelet negotiates in PluginInfo.supported_versions (drapb*.DRAPluginService). */
export const DRA_SERVICE_V1 = 'v1.DRAPlugin';
export const DRA_SERVICE_V1BETA1 = 'v1beta1.DRAPlugin';
export const DRA_HEALTH_SERVICE_V1 = 'v1.DRAResourceHealth';
/** pluginregistration.DRAPlugin: the plugin type the kubelet routes to its DRA manager. */
export const DRA_PLUGIN_TYPE = 'DRAPlugin';

function draService(pkg: string, m: ReturnType<typeof draMessages>) {
  return {
    NodePrepareResources: method(
      `/${pkg}.DRAPlugin/NodePrepareResources`,
      m.NodePrepareResourcesRequest,
      m.NodePrepareResourcesResponse,
    ),
    NodeUnprepareResources: method(
      `/${pkg}.DRAPlugin/NodeUnprepareResources`,
      m.NodeUnprepareResourcesRequest,
      m.NodeUnprepareResourcesResponse,
    ),
  };
}

/** The DRA-side services (specs for GrpcServer.addService). */
export const draServices = {
  registration: {
    GetInfo: method(`/${REG}.Registration/GetInfo`, InfoRequest, PluginInfo),
    NotifyRegistrationStatus: method(
      `/${REG}.Registration/NotifyRegistrationStatus`,
      RegistrationStatus,
      RegistrationStatusResponse,
    ),
  },
  draV1: draService('k8s.io.kubelet.pkg.apis.dra.v1', draV1),
  draV1beta1: draService('k8s.io.kubelet.pkg.apis.dra.v1beta1', draV1beta1),
  health: {
    NodeWatchResources: method(
      `/${HEALTH}.DRAResourceHealth/NodeWatchResources`,
      NodeWatchResourcesRequest,
      NodeWatchResourcesResponse,
      true,
    ),
  },
} satisfies Record<string, ServiceSpec>;
