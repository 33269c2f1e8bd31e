/**
 * `helm test`: a hook pod running `kdp-chart-test` (chart-test/) from the plugin image, with the least RBAC its
 * checks need: read DaemonSets in the release namespace, list nodes, and create pods — dry-run only, which a
 * ValidatingAdmissionPolicy enforces, since RBAC has no verb for it.
 */
import { ApiObject } from 'cdk8s';
import { Construct } from 'constructs';
import { HOOK_CONTAINER_SECURITY, hookPodSpec } from './common';
import { Condition, jsonOf, toStr, when } from './helm/symbolic';
import { componentLabels, objectName, releaseOf } from './release';
import { PluginName, PluginValues } from './values';

export interface ChartTestProps {
  readonly namespace: string;
  readonly image: string;
  readonly imagePullPolicy: string;
  readonly imagePullSecrets: Array<{ name: string }>;
  /** Every plugin's values (the checks read enabled and the resource names). */
  readonly plugins: Record<PluginName, PluginValues & object>;
  /** The annotation the CXI networks policy adds, and when the chart installs that policy. */
  readonly cxiNetworks: { readonly value: string; readonly installed: Condition };
  /** The families in DRA mode and their drivers (JSON; see synth/dra.ts), and whether there is any. */
  readonly draDrivers: { readonly value: string; readonly any: Condition };
  readonly timeoutSeconds: number;
}

const COMPONENT = 'test';

export class ChartTest extends Construct {
  constructor(scope: Construct, id: string, props: ChartTestProps) {
    super(scope, id);
    const name = objectName(this, COMPONENT);
    const labels = componentLabels(this, COMPONENT);
    const namespaced = { name, namespace: props.namespace, labels };
    const account = `system:serviceaccount:${props.namespace}:${name}`;
    const subjects = [{ kind: 'ServiceAccount', name, namespace: props.namespace }];

    new ApiObject(this, 'service-account', {
      apiVersion: 'v1',
      kind: 'ServiceAccount',
      metadata: namespaced,
      automountServiceAccountToken: false,
    });
    new ApiObject(this, 'role', {
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'Role',
      metadata: namespaced,
      rules: [
        { apiGroups: ['apps'], resources: ['daemonsets'], verbs: ['get', 'list'] },
        // Only for the server-side dry run of a CXI pod: the policy below refuses anything else.
        { apiGroups: [''], resources: ['pods'], verbs: ['create'] },
      ],
    });
    new ApiObject(this, 'role-binding', {
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'RoleBinding',
      metadata: namespaced,
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name },
      subjects,
    });
    new ApiObject(this, 'cluster-role', {
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'ClusterRole',
      metadata: { name, labels },
      rules: [
        { apiGroups: [''], resources: ['nodes'], verbs: ['list'] },
        // DRA mode: a driver's devices are in its ResourceSlices, not in the nodes' allocatable.
        ...when(props.draDrivers.any, {
          apiGroups: ['resource.k8s.io'],
          resources: ['resourceslices'],
          verbs: ['list'],
        }),
      ],
    });
    new ApiObject(this, 'cluster-role-binding', {
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'ClusterRoleBinding',
      metadata: { name, labels },
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name },
      subjects,
    });
    new ApiObject(this, 'dry-run-only', {
      apiVersion: 'admissionregistration.k8s.io/v1',
      kind: 'ValidatingAdmissionPolicy',
      metadata: { name, labels },
      spec: {
        failurePolicy: 'Fail',
        matchConstraints: {
          resourceRules: [
            { apiGroups: [''], apiVersions: ['v1'], operations: ['CREATE'], resources: ['pods'] },
          ],
        },
        matchConditions: [
          { name: 'is-the-chart-test', expression: `request.userInfo.username == '${account}'` },
        ],
        validations: [
          {
            expression: 'request.dryRun == true',
            message: `${account} may only create pods as a dry run (helm test)`,
            reason: 'Forbidden',
          },
        ],
      },
    });
    new ApiObject(this, 'dry-run-only-binding', {
      apiVersion: 'admissionregistration.k8s.io/v1',
      kind: 'ValidatingAdmissionPolicyBinding',
      metadata: { name, labels },
      spec: { policyName: name, validationActions: ['Deny'] },
    });

    const plugins = Object.fromEntries(
      Object.entries(props.plugins).map(([plugin, values]) => {
        const v = values as PluginValues & Record<string, unknown>;
        const pick = (key: string) => (key in v ? { [key]: v[key] } : {});
        return [
          plugin,
          {
            enabled: v.enabled,
            ...pick('resourceName'),
            ...pick('udsResourceName'),
            ...pick('config'),
            ...pick('configSets'),
          },
        ];
      }),
    );
    new ApiObject(this, 'pod', {
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: {
        ...namespaced,
        annotations: {
          'helm.sh/hook': 'test',
          // A failed test pod stays for its logs until the next `helm test`.
          'helm.sh/hook-delete-policy': 'before-hook-creation,hook-succeeded',
        },
      },
      spec: {
        ...hookPodSpec(name, props.imagePullSecrets),
        containers: [
          {
            name: 'check',
            image: props.image,
            imagePullPolicy: props.imagePullPolicy,
            command: ['node', '/app/bin/kdp-chart-test.js'],
            env: [
              { name: 'KDP_NAMESPACE', value: props.namespace },
              { name: 'KDP_INSTANCE', value: releaseOf(this).instance },
              { name: 'KDP_SERVICE_ACCOUNT', value: name },
              { name: 'KDP_IMAGE', value: props.image },
              { name: 'KDP_TIMEOUT_SECONDS', value: toStr(props.timeoutSeconds) },
              { name: 'KDP_PLUGINS', value: jsonOf(plugins) },
              ...when(props.cxiNetworks.installed, {
                name: 'KDP_CXI_NETWORKS',
                value: props.cxiNetworks.value,
              }),
              ...when(props.draDrivers.any, { name: 'KDP_DRA_DRIVERS', value: props.draDrivers.value }),
            ],
            resources: { requests: { cpu: '10m', memory: '64Mi' }, limits: { memory: '128Mi' } },
            securityContext: HOOK_CONTAINER_SECURITY,
          },
        ],
      },
    });
  }
}
