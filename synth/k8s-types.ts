/**
 * The slice of the Kubernetes core/apps types the DaemonSet and the pod-level values use, as plain JSON shapes.
 *
 * The kinds whose objects are plain data (ConfigMap, ServiceAccounts, Roles and ClusterRoles with fixed rules,
 * their bindings) use cdk8s-plus-28's generated `k8s.Kube*` classes (synth/config-map.ts, synth/chart-test.ts,
 * synth/dra.ts). The DaemonSet (and the DRA uninstall Job, whose pod template is built the same way) does
 * not, for a measured reason: in template mode (synth/helm/) a value such as `imagePullSecrets` or a
 * resources map is a symbolic stand-in for a whole Helm expression, and the generated `toJson_*` functions
 * map over lists and unwrap `Quantity` objects, so `npm run synth` fails with
 * `TypeError: obj.imagePullSecrets?.map is not a function` (toJson_PodSpec) when the DaemonSet is a
 * `k8s.KubeDaemonSet`; likewise a conditional list element (the chart test's ClusterRole rule for DRA mode)
 * comes out as `{}` from `toJson_PolicyRule`. Kinds newer than the 1.28 API (ValidatingAdmissionPolicy v1, MutatingAdmissionPolicy)
 * and the CRDs are plain `ApiObject`s. Field names are exactly the API's; the tests validate every object
 * against the upstream OpenAPI schemas.
 */

export interface ObjectMeta {
  name: string;
  namespace?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
}

export interface Toleration {
  key?: string;
  operator?: 'Exists' | 'Equal';
  value?: string;
  effect?: 'NoSchedule' | 'PreferNoSchedule' | 'NoExecute';
  tolerationSeconds?: number;
}

/** Quantities as strings (`10m`, `64Mi`), as in a manifest. */
export interface ResourceRequirements {
  requests?: Record<string, string>;
  limits?: Record<string, string>;
}

export interface EnvVar {
  name: string;
  value?: string;
  valueFrom?: { fieldRef: { fieldPath: string } };
}

export interface VolumeMount {
  name: string;
  mountPath: string;
  readOnly?: boolean;
}

export type HostPathType = 'Directory' | 'DirectoryOrCreate' | 'File' | 'Socket' | 'CharDevice';

export interface Volume {
  name: string;
  hostPath?: { path: string; type?: HostPathType };
  configMap?: { name: string; defaultMode?: number };
}

export interface SecurityContext {
  privileged: boolean;
  allowPrivilegeEscalation: boolean;
  readOnlyRootFilesystem: boolean;
  runAsUser: number;
  runAsGroup: number;
  runAsNonRoot: boolean;
  capabilities?: { drop?: string[]; add?: string[] };
  seccompProfile?: { type: 'RuntimeDefault' | 'Unconfined' };
}

export interface Probe {
  httpGet: { path: string; port: number | string };
  initialDelaySeconds?: number;
  periodSeconds?: number;
  timeoutSeconds?: number;
  failureThreshold?: number;
}

export interface Container {
  name: string;
  image: string;
  imagePullPolicy: string;
  command: string[];
  args?: string[];
  env?: EnvVar[];
  ports?: Array<{ name: string; containerPort: number; protocol: 'TCP' }>;
  resources: ResourceRequirements;
  securityContext: SecurityContext;
  volumeMounts?: VolumeMount[];
  livenessProbe?: Probe;
  readinessProbe?: Probe;
  terminationMessagePath?: string;
  terminationMessagePolicy?: 'File' | 'FallbackToLogsOnError';
}

export interface PodSpec {
  automountServiceAccountToken: boolean;
  serviceAccountName?: string;
  enableServiceLinks: boolean;
  priorityClassName: string;
  imagePullSecrets: Array<{ name: string }>;
  hostNetwork?: boolean;
  dnsPolicy?: string;
  nodeSelector: Record<string, string>;
  affinity: Record<string, unknown>;
  tolerations: Toleration[];
  securityContext: { seccompProfile: { type: 'RuntimeDefault' } };
  initContainers?: Container[];
  containers: Container[];
  volumes: Volume[];
}
