/**
 * The DaemonSet every device plugin runs in. Plugin constructs only say what differs: their CLI flags, the host
 * paths they read, an init container, privileged or not. Everything else is decided once, here:
 * least privilege, probes, scheduling, and the bits of pod spec cdk8s-plus would get wrong.
 */
import { ApiObject } from 'cdk8s';
import { Construct } from 'constructs';
import { APP_NAME, DEFAULT_NAMESPACE, packageVersion, PLUGIN_ENTRY, withDefaults } from './common';
import { ConfigFile } from './config-map';
import type { DraPodSettings } from './dra';
import { Condition, anyOf, mergeMaps, not, when, whenKey } from './helm/symbolic';
import { componentLabels, objectName, selectorLabels } from './release';
import {
  Container,
  EnvVar,
  HostPathType,
  PodSpec,
  ResourceRequirements,
  SecurityContext,
  Toleration,
  Volume,
  VolumeMount,
} from './k8s-types';
import { COMMON_FLAGS, type LOG_FORMATS, type LOG_LEVELS } from '../plugins/catalogue/common';
import { chartArgs, chartDefaults } from '../plugins/catalogue/setting';

/** The plugins' --log-level and --log-format choices (plugins/catalogue/common.ts). */
export type LogLevel = (typeof LOG_LEVELS)[number];
export type LogFormat = (typeof LOG_FORMATS)[number];
export type PullPolicy = 'Always' | 'IfNotPresent' | 'Never';

/** Options every plugin construct accepts; all have defaults. */
export interface DevicePluginOptions {
  /** Namespace of the DaemonSet (and ConfigMaps). Default `kube-system`. */
  readonly namespace?: string;
  /** The one image all plugins run. Default `ghcr.io/kube-device-plugins/kube-device-plugins:<version>`. */
  readonly image?: string;
  readonly imagePullPolicy?: PullPolicy;
  readonly logLevel?: LogLevel;
  readonly logFormat?: LogFormat;
  /** Port of the plugin's /healthz, /readyz and /metrics listener (`--http-addr=:PORT`). */
  readonly httpPort?: number;
  /** Where the plugin runs. Default: the node label its NodeFeatureRule sets. */
  readonly nodeSelector?: Record<string, string>;
  /** Default: tolerate every taint, as node agents do (a device node is often tainted for its workloads). */
  readonly tolerations?: Toleration[];
  /**
   * Default: requests cpu 10m / memory 72Mi, limit memory 128Mi (no CPU limit: it would only add latency). From
   * BENCHMARKS.md (vs-go, fault tier): ~56 MiB idle, ~64 MiB after 10,000 Allocates, 69 MiB at the peak of
   * 5,000 concurrent ones; the request is the loaded figure + ~12%, the limit the peak × 1.85.
   */
  readonly resources?: ResourceRequirements;
  /** Secrets to pull the image with. Default none. */
  readonly imagePullSecrets?: Array<{ name: string }>;
  readonly podAnnotations?: Record<string, string>;
  /** Added to the pod labels (the chart's own labels win). */
  readonly podLabels?: Record<string, string>;
  /** Default none. */
  readonly affinity?: Record<string, unknown>;
  /** Default `system-node-critical`: a device plugin must not be evicted before the pods using its devices. */
  readonly priorityClassName?: string;
  /** Default `{ type: RollingUpdate }`. */
  readonly updateStrategy?: Record<string, unknown>;
  /**
   * The kubelet's root directory on the host (k0s, microk8s and others move it); the device-plugin and
   * pod-resources dirs are under it. Default `/var/lib/kubelet`.
   */
  readonly kubeletRootDir?: string;
}

export const DEFAULT_IMAGE_REPOSITORY = `ghcr.io/${APP_NAME}/${APP_NAME}`;

/** Where the kubelet keeps its state; the plugins' flags default to the dirs under it, as mounted. */
export const DEFAULT_KUBELET_ROOT_DIR = '/var/lib/kubelet';

export const COMMON_DEFAULTS = {
  namespace: DEFAULT_NAMESPACE,
  image: `${DEFAULT_IMAGE_REPOSITORY}:${packageVersion()}`,
  imagePullPolicy: 'IfNotPresent' as PullPolicy,
  // logLevel, logFormat: the flags' defaults.
  ...chartDefaults(COMMON_FLAGS),
  tolerations: [{ operator: 'Exists' }] as Toleration[],
  resources: {
    requests: { cpu: '10m', memory: '72Mi' },
    limits: { memory: '128Mi' },
  } as ResourceRequirements,
  imagePullSecrets: [] as Array<{ name: string }>,
  podAnnotations: {} as Record<string, string>,
  podLabels: {} as Record<string, string>,
  affinity: {} as Record<string, unknown>,
  priorityClassName: 'system-node-critical',
  updateStrategy: { type: 'RollingUpdate' } as Record<string, unknown>,
  kubeletRootDir: DEFAULT_KUBELET_ROOT_DIR,
};

/** A host directory or file the plugin needs. */
export interface HostPathMount {
  /** Volume name; the same name in several containers means the same volume. */
  readonly name: string;
  /** Path on the host. */
  readonly path: string;
  readonly type: HostPathType;
  readonly readOnly: boolean;
  /** Path in the container; default: the host path, so paths in Allocate responses and CDI specs stay true. */
  readonly mountPath?: string;
  /** Mount only when this holds (e.g. a flag that turns the feature on). */
  readonly when?: Condition;
  /**
   * A kubelet directory: on the host it is this subdirectory of the kubelet root dir (which may move), in the
   * container always `path`, so the plugins' default flags hold wherever the kubelet keeps its state.
   */
  readonly kubeletSubdir?: string;
}

/** The host paths the plugins share, each with the access it needs. */
export const HOST_PATHS = {
  /** The kubelet's device-plugin dir: our sockets go here, kubelet.sock is watched here. */
  devicePlugins: {
    name: 'device-plugins',
    path: `${DEFAULT_KUBELET_ROOT_DIR}/device-plugins`,
    kubeletSubdir: 'device-plugins',
    type: 'Directory',
    readOnly: false,
  },
  /** Host device nodes, to discover and watch them (read-only: nodes are handed out, never opened for I/O). */
  dev: { name: 'dev', path: '/dev', type: 'Directory', readOnly: true },
  /** Where CDI specs are written for the container runtime. */
  cdi: { name: 'cdi', path: '/var/run/cdi', type: 'DirectoryOrCreate', readOnly: false },
  /** DRA mode: the kubelet's plugin dir (the driver's DRA service socket and state, under its driver name). */
  kubeletPlugins: {
    name: 'kubelet-plugins',
    path: `${DEFAULT_KUBELET_ROOT_DIR}/plugins`,
    type: 'DirectoryOrCreate',
    readOnly: false,
  },
  /** DRA mode: the kubelet's plugin-watcher dir (the driver's registration socket). */
  pluginsRegistry: {
    name: 'plugins-registry',
    path: `${DEFAULT_KUBELET_ROOT_DIR}/plugins_registry`,
    type: 'DirectoryOrCreate',
    readOnly: false,
  },
  /** The kubelet PodResources socket (which device is in which pod). */
  podResources: {
    name: 'pod-resources',
    path: `${DEFAULT_KUBELET_ROOT_DIR}/pod-resources`,
    kubeletSubdir: 'pod-resources',
    type: 'Directory',
    readOnly: true,
  },
} satisfies Record<string, HostPathMount>;

export interface InitContainerSpec {
  readonly name: string;
  readonly command: string[];
  readonly args?: string[];
  readonly env?: EnvVar[];
  readonly hostPaths: HostPathMount[];
  /** Run it only when this holds. */
  readonly when?: Condition;
}

export interface DevicePluginDaemonSetProps extends DevicePluginOptions {
  /** The plugin's CLI name (`kube-device-plugins <plugin>`); also the component label. */
  readonly plugin: string;
  readonly httpPort: number;
  readonly nodeSelector: Record<string, string>;
  /** Plugin-specific flags; the common ones (--http-addr, --log-*) are added here. */
  readonly args?: string[];
  readonly env?: EnvVar[];
  /** Host paths besides the device-plugin dir, which every plugin gets. */
  readonly hostPaths: HostPathMount[];
  /** A config file, shipped in a ConfigMap of its own and mounted read-only in `mountPath`. */
  readonly configFile?: {
    readonly configMapName: string;
    readonly mountPath: string;
    readonly fileName: string;
    readonly content: string;
  };
  readonly initContainers?: InitContainerSpec[];
  /** Only for plugins that must create device nodes or write sysfs (CEX). */
  readonly privileged?: boolean;
  /** Only for plugins that must see the host's network links (netdevice). */
  readonly hostNetwork?: boolean;
  /**
   * Families with a DRA mode (kvm, tdx, devnode): when `dra.enabled` holds, the pod runs `--mode=dra` under the
   * driver's ServiceAccount, with the kubelet's plugin dirs and the CDI dir instead of the device-plugin dir.
   */
  readonly dra?: DraPodSettings;
}

/** Root (the kubelet's dirs are root-owned) but no capabilities, no escalation, read-only image. */
const UNPRIVILEGED: SecurityContext = {
  privileged: false,
  allowPrivilegeEscalation: false,
  readOnlyRootFilesystem: true,
  runAsUser: 0,
  runAsGroup: 0,
  runAsNonRoot: false,
  capabilities: { drop: ['ALL'] },
  seccompProfile: { type: 'RuntimeDefault' },
};

/** The API rejects `allowPrivilegeEscalation: false` beside `privileged: true`, so say true explicitly. */
const PRIVILEGED: SecurityContext = {
  privileged: true,
  allowPrivilegeEscalation: true,
  readOnlyRootFilesystem: true,
  runAsUser: 0,
  runAsGroup: 0,
  runAsNonRoot: false,
};

/**
 * Host /dev is mounted over the container's /dev, so the default /dev/termination-log would have to be created
 * on the host's devtmpfs (and fails on the read-only mount): keep the termination message in /tmp.
 */
const TERMINATION_MESSAGE_PATH = '/tmp/termination-log';

export class DevicePluginDaemonSet extends Construct {
  readonly apiObject: ApiObject;
  readonly name: string;
  readonly configMap?: ConfigFile;

  constructor(scope: Construct, id: string, props: DevicePluginDaemonSetProps) {
    super(scope, id);
    const p = withDefaults(COMMON_DEFAULTS, props);
    this.name = objectName(this, p.plugin);
    const labels = componentLabels(this, p.plugin);
    const onHost = (mount: HostPathMount) => hostPath(mount, p.kubeletRootDir);
    const dra = p.dra;
    // DRA mode: the kubelet connects to the sockets the driver names, so its dirs keep their host paths.
    const devicePluginDir: HostPathMount = dra
      ? { ...HOST_PATHS.devicePlugins, when: not(dra.enabled) }
      : HOST_PATHS.devicePlugins;
    const hostPaths = dra ? withDraPaths(p.hostPaths, p.kubeletRootDir, dra.enabled) : p.hostPaths;
    const env = [
      ...(p.env ?? []),
      ...(dra
        ? when(dra.enabled, { name: 'NODE_NAME', valueFrom: { fieldRef: { fieldPath: 'spec.nodeName' } } })
        : []),
    ];

    const container = (
      name: string,
      command: string[],
      args: string[] | undefined,
      env: EnvVar[] | undefined,
    ) => ({
      name,
      image: p.image,
      imagePullPolicy: p.imagePullPolicy,
      command,
      ...(args && { args }),
      ...(env && { env }),
      resources: p.resources,
      securityContext: p.privileged ? PRIVILEGED : UNPRIVILEGED,
      terminationMessagePath: TERMINATION_MESSAGE_PATH,
      terminationMessagePolicy: 'FallbackToLogsOnError' as const,
    });

    const config = p.configFile;
    if (config) {
      this.configMap = new ConfigFile(this, 'config', {
        name: config.configMapName,
        namespace: p.namespace,
        component: p.plugin,
        fileName: config.fileName,
        content: config.content,
      });
    }
    const configMount = config && { name: 'config', mountPath: config.mountPath, readOnly: true };
    const plugin: Container = {
      ...container(
        'plugin',
        [...PLUGIN_ENTRY, p.plugin],
        [
          `--http-addr=:${p.httpPort}`,
          ...chartArgs(COMMON_FLAGS, p),
          ...(p.args ?? []),
          ...(dra
            ? [
                ...when(dra.enabled, dra.modeArg),
                ...when(dra.enabled, `--kubelet-root-dir=${p.kubeletRootDir}`),
              ]
            : []),
        ],
        env.length > 0 ? env : undefined,
      ),
      ports: [{ name: 'http', containerPort: p.httpPort, protocol: 'TCP' }],
      volumeMounts: [
        ...[devicePluginDir, ...hostPaths].map(onHost).flatMap(volumeMount),
        ...(configMount ? [configMount] : []),
      ],
      livenessProbe: { httpGet: { path: '/healthz', port: 'http' }, periodSeconds: 10, timeoutSeconds: 3 },
      readinessProbe: { httpGet: { path: '/readyz', port: 'http' }, periodSeconds: 10, timeoutSeconds: 3 },
    };
    const initContainers = (p.initContainers ?? []).flatMap((init) =>
      when(init.when, {
        ...container(init.name, init.command, init.args, init.env),
        volumeMounts: init.hostPaths.map(onHost).flatMap(volumeMount),
      }),
    );

    const spec: PodSpec = {
      // Only a DRA driver calls the API server (its token is bound to the pod, so to the node).
      automountServiceAccountToken: dra ? dra.enabled : false,
      ...(dra ? whenKey(dra.enabled, 'serviceAccountName', dra.serviceAccountName) : {}),
      enableServiceLinks: false,
      priorityClassName: p.priorityClassName,
      imagePullSecrets: p.imagePullSecrets,
      ...(p.hostNetwork && { hostNetwork: true, dnsPolicy: 'ClusterFirstWithHostNet' }),
      nodeSelector: p.nodeSelector,
      affinity: p.affinity,
      tolerations: p.tolerations,
      securityContext: { seccompProfile: { type: 'RuntimeDefault' } },
      ...(initContainers.length > 0 && { initContainers }),
      containers: [plugin],
      volumes: [
        ...uniqueHostPaths([
          devicePluginDir,
          ...hostPaths,
          ...(p.initContainers ?? []).flatMap((init) => init.hostPaths),
        ])
          .map(onHost)
          .flatMap(hostPathVolume),
        ...(config ? [{ name: 'config', configMap: { name: config.configMapName } }] : []),
      ],
    };

    this.apiObject = new ApiObject(this, 'resource', {
      apiVersion: 'apps/v1',
      kind: 'DaemonSet',
      metadata: { name: this.name, namespace: p.namespace, labels },
      spec: {
        selector: { matchLabels: selectorLabels(this, p.plugin) },
        updateStrategy: p.updateStrategy,
        template: {
          metadata: { labels: mergeMaps(p.podLabels, labels), annotations: p.podAnnotations },
          spec,
        },
      },
    });
  }
}

/**
 * The host paths of a family that may run in DRA mode: the kubelet's `plugins` and `plugins_registry` dirs at
 * their host paths, and the CDI dir (per-claim specs), each only in DRA mode; a CDI mount the family already
 * has is kept, on in either case.
 */
function withDraPaths(mounts: HostPathMount[], kubeletRootDir: string, dra: Condition): HostPathMount[] {
  const cdi = mounts.find((mount) => mount.name === HOST_PATHS.cdi.name);
  return [
    ...mounts.map((mount) =>
      mount === cdi && mount.when !== undefined ? { ...mount, when: anyOf(mount.when, dra) } : mount,
    ),
    ...(cdi ? [] : [{ ...HOST_PATHS.cdi, when: dra }]),
    { ...HOST_PATHS.kubeletPlugins, path: `${kubeletRootDir}/plugins`, when: dra },
    { ...HOST_PATHS.pluginsRegistry, path: `${kubeletRootDir}/plugins_registry`, when: dra },
  ];
}

/** A kubelet dir's mount moved under the kubelet root dir on the host (same path in the container). */
function hostPath(mount: HostPathMount, kubeletRootDir: string): HostPathMount {
  if (!mount.kubeletSubdir) return mount;
  return {
    ...mount,
    path: `${kubeletRootDir}/${mount.kubeletSubdir}`,
    mountPath: mount.mountPath ?? mount.path,
  };
}

function volumeMount(mount: HostPathMount): VolumeMount[] {
  return when(mount.when, {
    name: mount.name,
    mountPath: mount.mountPath ?? mount.path,
    readOnly: mount.readOnly,
  });
}

function hostPathVolume(mount: HostPathMount): Volume[] {
  return when(mount.when, { name: mount.name, hostPath: { path: mount.path, type: mount.type } });
}

/** One volume per name: the first mention wins (the main container's, which has no condition). */
function uniqueHostPaths(mounts: HostPathMount[]): HostPathMount[] {
  const byName = new Map<string, HostPathMount>();
  for (const mount of mounts) if (!byName.has(mount.name)) byName.set(mount.name, mount);
  return [...byName.values()];
}
