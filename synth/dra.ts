/**
 * DRA mode (docs/DRA.md): the families kvm, tdx and devnode run either as device plugins or as Dynamic Resource
 * Allocation drivers, chosen per family by the value `mode`. In DRA mode the family's DaemonSet (daemonset.ts)
 * mounts the kubelet's plugin dirs and runs with `--mode=dra` under a ServiceAccount of its own; beside it:
 *
 * - {@link DraDriver}: that ServiceAccount with the least RBAC a driver needs, the family's DeviceClass, and a
 *   ValidatingAdmissionPolicy that lets the driver write only the ResourceSlices of the node it runs on (its
 *   token is bound to its pod, so the API server puts the node in the user's extra, as upstream recommends);
 * - {@link DraUninstall}: a Helm `pre-delete` hook Job running `--dra-uninstall` (delete every ResourceSlice of
 *   the driver), with a ServiceAccount of its own that the node policy does not cover.
 *
 * All of it needs `resource.k8s.io/v1`: a family in DRA mode on a cluster without it fails the install with a
 * message naming the family ({@link draApiCheck}), rather than deploy a driver that cannot work.
 */
import { ApiObject } from 'cdk8s';
import { Construct } from 'constructs';
import { APP_NAME, HOOK_CONTAINER_SECURITY, hookPodSpec } from './common';
import { goJson } from './helm/go-json';
import {
  Condition,
  anyOf,
  defineCheck,
  defineDerivation,
  derive,
  equals,
  isSymbolic,
  symbolic,
} from './helm/symbolic';
import { componentLabels, objectName } from './release';
import { PLUGIN_ENTRY } from './daemonset';
import { ResourceRequirements } from './k8s-types';

/** How a family hands out its devices. */
export type DeviceMode = 'devicePlugin' | 'dra';
export const DEVICE_MODES: DeviceMode[] = ['devicePlugin', 'dra'];

/** The families that have a DRA mode. */
export const DRA_FAMILIES = ['tdx', 'kvm', 'devnode'] as const;
export type DraFamily = (typeof DRA_FAMILIES)[number];

/** The API DRA mode needs (DeviceClass, ResourceSlice, ResourceClaim). */
export const DRA_API_VERSION = 'resource.k8s.io/v1';

/** The plugins' default driver name (`--dra-driver-name`): also the DeviceClass name. */
export function draDriverName(family: DraFamily): string {
  return `${family}.${APP_NAME}.io`;
}

/** True when the family runs in DRA mode (in template mode `eq $.Values.<family>.mode "dra"`). */
export function isDraMode(mode: DeviceMode): Condition {
  return equals(mode, 'dra');
}

/** `<fullname>-<family>-dra`: the driver's ServiceAccount, ClusterRole and ClusterRoleBinding. */
export function draServiceAccountName(scope: Construct, family: DraFamily): string {
  return objectName(scope, `${family}-dra`);
}

/**
 * Fails (renders nothing otherwise) when a family is in DRA mode and the cluster lacks resource.k8s.io/v1.
 * `api` is the served group/version or ''.
 */
export const draApiCheck = defineCheck<{ family: string; api: string }>(
  'kdp.dra.checkApi',
  ({ family, api }) =>
    api
      ? undefined
      : `${family}.mode=dra needs a cluster serving ${DRA_API_VERSION} (Kubernetes 1.34 or newer); this one does not (with helm template, pass --api-versions ${DRA_API_VERSION})`,
  `{{- if not .api -}}
{{- fail (printf "%s.mode=dra needs a cluster serving ${DRA_API_VERSION} (Kubernetes 1.34 or newer); this one does not (with helm template, pass --api-versions ${DRA_API_VERSION})" .family) -}}
{{- end -}}`,
);

/** The driver of each family in DRA mode, as JSON (`{"kvm":"kvm.kube-device-plugins.io"}`), for `helm test`. */
export const draDriversJson = defineDerivation({
  name: 'kdp.dra.drivers',
  compute: (modes: Record<DraFamily, DeviceMode>) =>
    goJson(
      Object.fromEntries(
        DRA_FAMILIES.filter((family) => modes[family] === 'dra').map((family) => [
          family,
          draDriverName(family),
        ]),
      ),
    ),
  template: `{{- $drivers := dict -}}
{{- range $family, $mode := . -}}
{{- if eq $mode "dra" -}}
{{- $_ := set $drivers $family (printf "%s.${APP_NAME}.io" $family) -}}
{{- end -}}
{{- end -}}
{{- toJson $drivers -}}`,
});

/** The drivers of the families in DRA mode (JSON), and whether there is any. */
export function draDrivers(modes: Record<DraFamily, DeviceMode>): { value: string; any: Condition } {
  return {
    value: derive(draDriversJson, modes),
    any: anyOf(...DRA_FAMILIES.map((family) => isDraMode(modes[family]))),
  };
}

/** What the DaemonSet of a family in DRA mode gets (see DevicePluginDaemonSetProps.dra). */
export interface DraPodSettings {
  /** DRA mode is on. */
  readonly enabled: Condition;
  readonly serviceAccountName: string;
  /** `--mode=dra`, preceded in template mode by the API check (which renders nothing or fails). */
  readonly modeArg: string;
}

/** The DaemonSet settings of a family whose mode is `mode`; `api` as for {@link draApiCheck}. */
export function draPodSettings(
  scope: Construct,
  family: DraFamily,
  mode: DeviceMode,
  api: string,
): DraPodSettings {
  const enabled = isDraMode(mode);
  // The check runs only where DRA mode is on: plainly here, or inside the `if` around the argument.
  const familyName = isSymbolic(api) ? symbolic<string>('str', JSON.stringify(family)) : family;
  const check = enabled === false ? '' : derive(draApiCheck, { family: familyName, api });
  return { enabled, serviceAccountName: draServiceAccountName(scope, family), modeArg: `${check}--mode=dra` };
}

/** The RBAC rules of a driver: exactly what dra-interface.md lists. */
export const DRA_DRIVER_RULES = [
  { apiGroups: ['resource.k8s.io'], resources: ['resourceclaims'], verbs: ['get', 'list', 'watch'] },
  { apiGroups: [''], resources: ['nodes'], verbs: ['get'] },
  {
    apiGroups: ['resource.k8s.io'],
    resources: ['resourceslices'],
    verbs: ['get', 'list', 'watch', 'create', 'update', 'patch', 'delete'],
  },
];

/** The RBAC rules of the uninstall Job: find and delete the driver's slices, on every node. */
export const DRA_UNINSTALL_RULES = [
  { apiGroups: ['resource.k8s.io'], resources: ['resourceslices'], verbs: ['list', 'delete'] },
];

/** The user's node, from a token bound to a pod (ServiceAccountTokenPodNodeInfo, GA in 1.32). */
export const NODE_NAME_EXTRA = 'authentication.kubernetes.io/node-name';

export interface DraDriverProps {
  readonly family: DraFamily;
  readonly namespace: string;
}

/** A family's driver identity and cluster objects: ServiceAccount, ClusterRole(Binding), DeviceClass, policy. */
export class DraDriver extends Construct {
  readonly serviceAccountName: string;
  readonly deviceClass: ApiObject;
  readonly policy: ApiObject;

  constructor(scope: Construct, id: string, props: DraDriverProps) {
    super(scope, id);
    const { family, namespace } = props;
    const name = draServiceAccountName(this, family);
    this.serviceAccountName = name;
    const labels = componentLabels(this, family);
    const driver = draDriverName(family);
    const account = `system:serviceaccount:${namespace}:${name}`;

    // The DaemonSet's pod mounts its token (bound to the pod, hence to the node).
    accountWithClusterRole(this, name, namespace, labels, DRA_DRIVER_RULES);

    this.deviceClass = new ApiObject(this, 'device-class', {
      apiVersion: DRA_API_VERSION,
      kind: 'DeviceClass',
      metadata: { name: driver, labels },
      spec: { selectors: [{ cel: { expression: `device.driver == "${driver}"` } }] },
    });

    const policyName = objectName(this, `${family}-dra-resourceslices`);
    this.policy = new ApiObject(this, 'policy', {
      apiVersion: 'admissionregistration.k8s.io/v1',
      kind: 'ValidatingAdmissionPolicy',
      metadata: { name: policyName, labels },
      spec: {
        failurePolicy: 'Fail',
        matchConstraints: {
          resourceRules: [
            {
              apiGroups: ['resource.k8s.io'],
              apiVersions: ['*'],
              operations: ['CREATE', 'UPDATE', 'DELETE'],
              resources: ['resourceslices'],
            },
          ],
        },
        matchConditions: [{ name: 'is-the-driver', expression: `request.userInfo.username == '${account}'` }],
        // Plain CEL (no optional types): has() guards what a request may lack.
        variables: [
          {
            name: 'userNodeName',
            expression: `has(request.userInfo.extra) && '${NODE_NAME_EXTRA}' in request.userInfo.extra && size(request.userInfo.extra['${NODE_NAME_EXTRA}']) > 0 ? request.userInfo.extra['${NODE_NAME_EXTRA}'][0] : ''`,
          },
          {
            name: 'slice',
            expression: `request.operation == 'DELETE' ? oldObject : object`,
          },
          {
            name: 'objectNodeName',
            expression: `has(variables.slice.spec.nodeName) ? variables.slice.spec.nodeName : ''`,
          },
          {
            // An update must not move a slice off another node either.
            name: 'oldNodeName',
            expression: `request.operation == 'UPDATE' && has(oldObject.spec.nodeName) ? oldObject.spec.nodeName : (request.operation == 'UPDATE' ? '' : variables.objectNodeName)`,
          },
        ],
        validations: [
          {
            expression: `variables.userNodeName != ''`,
            message: `${account} may write ResourceSlices only with a token bound to a pod on a node (${NODE_NAME_EXTRA} missing)`,
            reason: 'Forbidden',
          },
          {
            expression:
              'variables.objectNodeName == variables.userNodeName && variables.oldNodeName == variables.userNodeName',
            messageExpression: `'${account} on node ' + variables.userNodeName + ' may write only the ResourceSlices of its own node, not ' + (variables.objectNodeName == '' ? 'one without a node' : 'one of node ' + variables.objectNodeName)`,
            reason: 'Forbidden',
          },
        ],
      },
    });
    new ApiObject(this, 'policy-binding', {
      apiVersion: 'admissionregistration.k8s.io/v1',
      kind: 'ValidatingAdmissionPolicyBinding',
      metadata: { name: policyName, labels },
      spec: { policyName, validationActions: ['Deny'] },
    });
  }
}

export interface DraUninstallProps {
  readonly family: DraFamily;
  readonly namespace: string;
  readonly image: string;
  readonly imagePullPolicy: string;
  readonly imagePullSecrets: Array<{ name: string }>;
  readonly logLevel: string;
  readonly logFormat: string;
  /** Flags the family requires even for the one-shot (devnode: `--config`). */
  readonly args?: string[];
  /** A ConfigMap mounted read-only at `mountPath`, for such a flag's file. */
  readonly configMap?: { readonly name: string; readonly mountPath: string };
}

/** The `pre-delete` hook that removes a driver's ResourceSlices when the release is uninstalled. */
export class DraUninstall extends Construct {
  readonly job: ApiObject;

  constructor(scope: Construct, id: string, props: DraUninstallProps) {
    super(scope, id);
    const { family, namespace } = props;
    const component = `${family}-dra-uninstall`;
    const name = objectName(this, component);
    const labels = componentLabels(this, component);

    accountWithClusterRole(this, name, namespace, labels, DRA_UNINSTALL_RULES);

    const resources: ResourceRequirements = {
      requests: { cpu: '10m', memory: '64Mi' },
      limits: { memory: '128Mi' },
    };
    this.job = new ApiObject(this, 'job', {
      apiVersion: 'batch/v1',
      kind: 'Job',
      metadata: {
        name,
        namespace,
        labels,
        annotations: {
          // Runs while the release's ServiceAccount and RBAC above still exist.
          'helm.sh/hook': 'pre-delete',
          'helm.sh/hook-delete-policy': 'before-hook-creation,hook-succeeded',
        },
      },
      spec: {
        backoffLimit: 3,
        activeDeadlineSeconds: 300,
        template: {
          metadata: { labels },
          spec: {
            ...hookPodSpec(name, props.imagePullSecrets),
            containers: [
              {
                name: 'uninstall',
                image: props.image,
                imagePullPolicy: props.imagePullPolicy,
                command: [...PLUGIN_ENTRY, family],
                args: [
                  '--mode=dra',
                  '--dra-uninstall',
                  `--log-level=${props.logLevel}`,
                  `--log-format=${props.logFormat}`,
                  ...(props.args ?? []),
                ],
                resources,
                securityContext: HOOK_CONTAINER_SECURITY,
                ...(props.configMap && {
                  volumeMounts: [{ name: 'config', mountPath: props.configMap.mountPath, readOnly: true }],
                }),
              },
            ],
            ...(props.configMap && {
              volumes: [{ name: 'config', configMap: { name: props.configMap.name } }],
            }),
          },
        },
      },
    });
  }
}

/**
 * A ServiceAccount (its token mounted only by the pods that ask) and a ClusterRole with `rules` bound to it,
 * all three named `name`.
 */
function accountWithClusterRole(
  scope: Construct,
  name: string,
  namespace: string,
  labels: Record<string, string>,
  rules: object[],
): void {
  new ApiObject(scope, 'service-account', {
    apiVersion: 'v1',
    kind: 'ServiceAccount',
    metadata: { name, namespace, labels },
    automountServiceAccountToken: false,
  });
  new ApiObject(scope, 'cluster-role', {
    apiVersion: 'rbac.authorization.k8s.io/v1',
    kind: 'ClusterRole',
    metadata: { name, labels },
    rules,
  });
  new ApiObject(scope, 'cluster-role-binding', {
    apiVersion: 'rbac.authorization.k8s.io/v1',
    kind: 'ClusterRoleBinding',
    metadata: { name, labels },
    roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name },
    subjects: [{ kind: 'ServiceAccount', name, namespace }],
  });
}
