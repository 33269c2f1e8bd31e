/**
 * CXI: a MutatingAdmissionPolicy that attaches pods requesting a Slingshot NIC to the NICs' Multus networks.
 *
 * Unlike upstream's policy, which replaced `/metadata/annotations` with `{}` and so dropped every annotation,
 * this one adds only the networks key, and leaves a pod that already names its networks alone.
 */
import { ApiObject } from 'cdk8s';
import { Construct } from 'constructs';
import { componentLabels, objectName } from '../release';
import { POD_CREATE_RULES, celString, podRequests } from './cel';

export const NETWORKS_ANNOTATION = 'k8s.v1.cni.cncf.io/networks';

/** JSON Pointer (RFC 6901) of the annotation: `/` inside the key is written `~1`. */
const ANNOTATION_POINTER = `/metadata/annotations/${NETWORKS_ANNOTATION.replace(/~/g, '~0').replace(/\//g, '~1')}`;

/** The API versions that serve MutatingAdmissionPolicy, newest first. */
export const MUTATING_ADMISSION_POLICY_VERSIONS = [
  'admissionregistration.k8s.io/v1',
  'admissionregistration.k8s.io/v1beta1',
  'admissionregistration.k8s.io/v1alpha1',
];

export interface CxiNetworksPolicyProps {
  /** The annotation value to add, e.g. from `cxiNetworksAnnotation`. */
  readonly networks: string;
  /** Default `beta.hpe.com/cxi`. */
  readonly resourceName?: string;
  /** Default `admissionregistration.k8s.io/v1beta1`; the objects are the same in every version. */
  readonly apiVersion?: string;
}

export class CxiNetworksPolicy extends Construct {
  readonly policy: ApiObject;
  readonly binding: ApiObject;

  constructor(scope: Construct, id: string, props: CxiNetworksPolicyProps) {
    super(scope, id);
    const apiVersion = props.apiVersion ?? 'admissionregistration.k8s.io/v1beta1';
    const resource = celString(props.resourceName ?? 'beta.hpe.com/cxi');
    const name = objectName(this, 'cxi-networks');
    const metadata = { name, labels: componentLabels(this, 'cxi') };
    const hasAnnotations = 'has(object.metadata.annotations)';
    const addPatch = (path: string, value: string) =>
      `JSONPatch{op: 'add', path: ${celString(path)}, value: ${value}}`;

    this.policy = new ApiObject(this, 'policy', {
      apiVersion,
      kind: 'MutatingAdmissionPolicy',
      metadata,
      spec: {
        matchConstraints: POD_CREATE_RULES,
        matchConditions: [
          { name: 'requests-cxi', expression: podRequests(resource) },
          {
            name: 'names-no-networks',
            expression: `!${hasAnnotations} || !(${celString(NETWORKS_ANNOTATION)} in object.metadata.annotations)`,
          },
        ],
        variables: [{ name: 'networks', expression: celString(props.networks) }],
        mutations: [
          {
            patchType: 'JSONPatch',
            jsonPatch: {
              // Add the one key when there are annotations; create the map only when there is none.
              expression: [
                `${hasAnnotations}`,
                `  ? [${addPatch(ANNOTATION_POINTER, 'variables.networks')}]`,
                `  : [${addPatch('/metadata/annotations', `{${celString(NETWORKS_ANNOTATION)}: variables.networks}`)}]`,
              ].join('\n'),
            },
          },
        ],
        // A CXI pod without its networks would start, but could not reach its peers: fail loudly instead.
        failurePolicy: 'Fail',
        // If a later mutation adds a CXI request, run again (the conditions keep it idempotent).
        reinvocationPolicy: 'IfNeeded',
      },
    });
    this.binding = new ApiObject(this, 'binding', {
      apiVersion,
      kind: 'MutatingAdmissionPolicyBinding',
      metadata,
      spec: { policyName: name },
    });
  }
}
