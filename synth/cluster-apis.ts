/**
 * APIs a cluster may lack, and what the bundle does without them. The cdk8s app is told which the target
 * cluster serves; the Helm chart asks `.Capabilities.APIVersions` and says in NOTES.txt what it skipped.
 */

export interface OptionalApi {
  readonly kind: string;
  /** Group/versions that serve it, preferred first. */
  readonly versions: readonly string[];
  /**
   * Also accept a bare group/version in `.Capabilities` (as `helm template --api-versions g/v` gives), not only
   * `g/v/Kind`. Only for CRD groups: admissionregistration.k8s.io/v1beta1 is in Helm's built-in list even when
   * the cluster does not serve MutatingAdmissionPolicy.
   */
  readonly groupVersionSuffices: boolean;
  /** NOTES.txt: when the chart wants it (a Go template condition) and what it says when it is missing. */
  readonly wantedWhen: string;
  readonly skippedNote: string;
  /** Nothing is skipped: values that need the API fail the install instead (no NOTES line). */
  readonly failsWhenMissing?: boolean;
}

export const OPTIONAL_APIS = {
  nodeFeatureRule: {
    kind: 'NodeFeatureRule',
    versions: ['nfd.k8s-sigs.io/v1alpha1'],
    groupVersionSuffices: true,
    wantedWhen: '$.Values.nfd.enabled',
    skippedNote:
      'NodeFeatureRules skipped: the cluster does not serve nfd.k8s-sigs.io/v1alpha1 NodeFeatureRule. Install Node Feature Discovery, or label the nodes yourself with the nodeSelector labels (see the chart README); until then the DaemonSets schedule nowhere.',
  },
  networkAttachmentDefinition: {
    kind: 'NetworkAttachmentDefinition',
    versions: ['k8s.cni.cncf.io/v1'],
    groupVersionSuffices: true,
    wantedWhen: 'and $.Values.cxi.enabled $.Values.cxi.nics',
    skippedNote:
      'CXI NetworkAttachmentDefinitions skipped: the cluster does not serve k8s.cni.cncf.io/v1 NetworkAttachmentDefinition. Install Multus and Whereabouts, then upgrade this release.',
  },
  mutatingAdmissionPolicy: {
    kind: 'MutatingAdmissionPolicy',
    versions: [
      'admissionregistration.k8s.io/v1',
      'admissionregistration.k8s.io/v1beta1',
      'admissionregistration.k8s.io/v1alpha1',
    ],
    groupVersionSuffices: false,
    wantedWhen: 'and $.Values.policies.enabled $.Values.cxi.enabled $.Values.cxi.nics',
    skippedNote:
      'CXI networks MutatingAdmissionPolicy skipped: the cluster serves MutatingAdmissionPolicy in none of admissionregistration.k8s.io/v1, v1beta1, v1alpha1 (enable the API version and the MutatingAdmissionPolicy feature gate). Pods requesting CXI NICs must carry the k8s.v1.cni.cncf.io/networks annotation themselves.',
  },
  podMonitor: {
    kind: 'PodMonitor',
    versions: ['monitoring.coreos.com/v1'],
    groupVersionSuffices: true,
    wantedWhen: '$.Values.podMonitor.enabled',
    skippedNote:
      'PodMonitor skipped: the cluster does not serve monitoring.coreos.com/v1 PodMonitor (install the Prometheus Operator CRDs).',
  },
  dynamicResourceAllocation: {
    kind: 'DeviceClass',
    versions: ['resource.k8s.io/v1'],
    // Helm 4 lists the bare group/version by default (Kubernetes >= 1.34, as Chart.yaml requires); a real
    // cluster's discovery lists both.
    groupVersionSuffices: true,
    wantedWhen: 'false',
    skippedNote:
      'DRA mode refused: a family with mode dra needs a cluster serving resource.k8s.io/v1 (Kubernetes 1.34 or newer, the API enabled); the install fails naming the family rather than deploy a driver that cannot work (with helm template, pass --api-versions resource.k8s.io/v1).',
    failsWhenMissing: true,
  },
} satisfies Record<string, OptionalApi>;

export type OptionalApiName = keyof typeof OPTIONAL_APIS;

/** For each optional API, the group/version the cluster serves it in, or '' when it does not. */
export type ClusterApis = Record<OptionalApiName, string>;

/**
 * What the cdk8s app assumes by default: every optional API is served (MutatingAdmissionPolicy as v1beta1), so
 * it emits everything the values enable.
 */
export const DEFAULT_CLUSTER_APIS: ClusterApis = {
  nodeFeatureRule: 'nfd.k8s-sigs.io/v1alpha1',
  networkAttachmentDefinition: 'k8s.cni.cncf.io/v1',
  mutatingAdmissionPolicy: 'admissionregistration.k8s.io/v1beta1',
  podMonitor: 'monitoring.coreos.com/v1',
  dynamicResourceAllocation: 'resource.k8s.io/v1',
};

/** The `--api-versions` flags that make `helm template` see the cluster `apis` describes. */
export function helmApiVersionFlags(apis: ClusterApis): string[] {
  return (Object.keys(apis) as OptionalApiName[])
    .filter((name) => apis[name] !== '')
    .flatMap((name) => ['--api-versions', `${apis[name]}/${OPTIONAL_APIS[name].kind}`]);
}
