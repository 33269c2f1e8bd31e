/**
 * The chart's values: their TypeScript shape and defaults. `values.yaml` is written from `defaultValues()`,
 * `values.schema.json` from `values-schema.ts`; the cdk8s app takes the same object.
 */
import { CexConfigSet } from './cex-config';
import {
  COMMON_DEFAULTS,
  DEFAULT_IMAGE_REPOSITORY,
  DEFAULT_KUBELET_ROOT_DIR,
  LogFormat,
  LogLevel,
  PullPolicy,
} from './daemonset';
import { DeviceMode } from './dra';
import { ResourceRequirements, Toleration } from './k8s-types';
import { CxiNic } from './multus';
import { CEX_DEFAULTS } from './plugins/cex';
import { CXI_DEFAULTS } from './plugins/cxi';
import { DEVNODE_DEFAULTS, DevnodeConfig } from './plugins/devnode';
import { KVM_DEFAULTS } from './plugins/kvm';
import { NETDEVICE_DEFAULTS, NetdeviceCdiMode } from './plugins/netdevice';
import { TDX_DEFAULTS } from './plugins/tdx';

/** Pod settings given for all plugins and again per plugin (the plugin's own win, see chart.ts). */
export interface PodValues {
  podAnnotations: Record<string, string>;
  podLabels: Record<string, string>;
  affinity: Record<string, unknown>;
  tolerations: Toleration[];
  priorityClassName: string;
  updateStrategy: Record<string, unknown>;
}

/** What every plugin section has. */
export interface PluginValues extends PodValues {
  enabled: boolean;
  httpPort: number;
  nodeSelector: Record<string, string>;
  resources: ResourceRequirements;
}

/** The families that run either as a device plugin or as a DRA driver. */
export interface ModeValues {
  mode: DeviceMode;
}

export interface TdxValues extends PluginValues, ModeValues {
  resourceName: string;
  sharedCount: number;
  udsDir: string;
  udsResourceName: string;
  tsmReport: boolean;
}

export interface KvmValues extends PluginValues, ModeValues {
  resourceName: string;
  sharedCount: number;
  cdi: boolean;
}

export interface DevnodeValues extends PluginValues, ModeValues {
  config: DevnodeConfig;
}

export interface CxiValues extends PluginValues {
  resourceName: string;
  rescanInterval: string;
  healthInterval: string;
  cdi: boolean;
  virtualDevices: number;
  ofiRoot: string;
  cxiRoot: string;
  nics: CxiNic[];
}

export interface NetdeviceValues extends PluginValues {
  resourceName: string;
  interfaces: string;
  cdiMode: NetdeviceCdiMode;
  hookDir: string;
  nfdRule: boolean;
}

export interface CexValues extends PluginValues {
  configSets: CexConfigSet[];
  apqnCheckInterval: number;
  cryptoconfigCheckInterval: number;
  podlisterPollInterval: number;
  resourceDeleteNeverUsed: number;
  resourceDeleteUnused: number;
  apqnOvercommitLimit: number;
  apqnLiveSysfs: number;
  shadowSysfsDir: string;
}

export interface ChartValues extends PodValues {
  nameOverride: string;
  fullnameOverride: string;
  image: { repository: string; tag: string; digest: string; pullPolicy: PullPolicy };
  imagePullSecrets: Array<{ name: string }>;
  kubeletRootDir: string;
  logLevel: LogLevel;
  logFormat: LogFormat;
  nfd: { enabled: boolean };
  policies: { enabled: boolean };
  podMonitor: { enabled: boolean; interval: string; labels: Record<string, string> };
  tests: { enabled: boolean; timeoutSeconds: number };
  tdx: TdxValues;
  kvm: KvmValues;
  devnode: DevnodeValues;
  cxi: CxiValues;
  netdevice: NetdeviceValues;
  cex: CexValues;
}

/** The plugin names, in the order the chart lists them. */
export const PLUGINS = ['tdx', 'kvm', 'devnode', 'cxi', 'netdevice', 'cex'] as const;
export type PluginName = (typeof PLUGINS)[number];

function pluginValues<D extends { httpPort: number; nodeSelector: Record<string, string> }>(defaults: D) {
  return {
    enabled: true,
    ...defaults,
    tolerations: COMMON_DEFAULTS.tolerations,
    resources: COMMON_DEFAULTS.resources,
    // Empty: the global value applies.
    podAnnotations: {},
    podLabels: {},
    affinity: {},
    priorityClassName: '',
    updateStrategy: {},
  };
}

export function defaultValues(): ChartValues {
  return structuredClone({
    nameOverride: '',
    fullnameOverride: '',
    image: {
      repository: DEFAULT_IMAGE_REPOSITORY,
      tag: '',
      digest: '',
      pullPolicy: COMMON_DEFAULTS.imagePullPolicy,
    },
    imagePullSecrets: [],
    kubeletRootDir: DEFAULT_KUBELET_ROOT_DIR,
    podAnnotations: {},
    podLabels: {},
    affinity: {},
    // On top of each plugin's own (which tolerate every taint by default).
    tolerations: [],
    priorityClassName: COMMON_DEFAULTS.priorityClassName,
    updateStrategy: COMMON_DEFAULTS.updateStrategy,
    logLevel: COMMON_DEFAULTS.logLevel,
    logFormat: COMMON_DEFAULTS.logFormat,
    nfd: { enabled: true },
    policies: { enabled: true },
    podMonitor: { enabled: false, interval: '30s', labels: {} },
    tests: { enabled: true, timeoutSeconds: 120 },
    tdx: pluginValues(TDX_DEFAULTS),
    kvm: pluginValues(KVM_DEFAULTS),
    devnode: pluginValues(DEVNODE_DEFAULTS),
    cxi: pluginValues({ ...CXI_DEFAULTS, nics: [] as CxiNic[] }),
    netdevice: pluginValues({ ...NETDEVICE_DEFAULTS, nfdRule: false }),
    cex: pluginValues(CEX_DEFAULTS),
  });
}

/**
 * Values over defaults the way Helm coalesces them: maps merge key by key, anything else (lists included)
 * replaces, and null deletes. Lets the cdk8s app and the tests take the same override files as `helm -f`.
 */
export function mergeValues<T>(base: T, override: unknown): T {
  if (!isMap(base) || !isMap(override)) return (override === undefined ? base : override) as T;
  const merged: Record<string, unknown> = { ...base };
  for (const [key, value] of Object.entries(override)) {
    if (value === null) delete merged[key];
    else merged[key] = key in merged ? mergeValues(merged[key], value) : value;
  }
  return merged as T;
}

function isMap(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}
