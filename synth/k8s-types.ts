/**
 * The slice of the Kubernetes core/apps types this bundle emits, as plain JSON shapes.
 *
 * We emit cdk8s `ApiObject`s with plain JSON rather than cdk8s-plus or the generated `k8s.Kube*` classes: those
 * add defaults we do not want (CPU limits, `imagePullPolicy: Always`, `allowPrivilegeEscalation: false` beside
 * `privileged: true`) and wrap quantities in classes, while the Helm renderer needs plain values it can replace.
 * Field names are exactly the API's; the tests validate every object against the upstream OpenAPI schemas.
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
