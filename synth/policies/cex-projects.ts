/**
 * CEX: a ValidatingAdmissionPolicy that rejects a pod requesting `cex.s390.ibm.com/<set>` outside the set's
 * `project` namespace. Upstream's plugin could only log such a pod after the fact.
 */
import { ApiObject } from 'cdk8s';
import { Construct } from 'constructs';
import { CexConfigSet, cexConfigSetsCheck } from '../cex-config';
import { componentLabels, objectName } from '../release';
import { defineDerivation, derive } from '../helm/symbolic';
import { POD_CONTAINERS, POD_CREATE_RULES, celString, inRequestsOrLimits } from './cel';

export const CEX_RESOURCE_PREFIX = 'cex.s390.ibm.com/';

/** The sets as a CEL map literal, `{'set': 'project', ...}`. */
export const cexProjectsCel = defineDerivation({
  name: 'kdp.cex.projectsCel',
  // A set name twice would be a repeated key: the map literal fails, and so would every CEX pod's admission.
  compute: ({ sets }: { sets: readonly CexConfigSet[] }) =>
    cexConfigSetsCheck.compute({ sets }) +
    `{${sets.map((set) => `${celString(set.setname)}: ${celString(set.project)}`).join(', ')}}`,
  template: `{{- include "kdp.cex.checkSets" . -}}
{{- $entries := list -}}
{{- range .sets -}}
{{- $entries = append $entries (printf "'%s': '%s'" .setname .project) -}}
{{- end -}}
{{- printf "{%s}" (join ", " $entries) -}}`,
});

export interface CexProjectPolicyProps {
  readonly sets: CexConfigSet[];
}

export class CexProjectPolicy extends Construct {
  readonly policy: ApiObject;
  readonly binding: ApiObject;

  constructor(scope: Construct, id: string, props: CexProjectPolicyProps) {
    super(scope, id);
    const name = objectName(this, 'cex-projects');
    const metadata = { name, labels: componentLabels(this, 'cex') };
    const prefix = celString(CEX_RESOURCE_PREFIX);
    const requestsSet = inRequestsOrLimits('c', (m) => `(${prefix} + set) in ${m}`);
    const requestsAnySet = inRequestsOrLimits('c', (m) => `${m}.exists(r, r.startsWith(${prefix}))`);

    this.policy = new ApiObject(this, 'policy', {
      apiVersion: 'admissionregistration.k8s.io/v1',
      kind: 'ValidatingAdmissionPolicy',
      metadata,
      spec: {
        matchConstraints: POD_CREATE_RULES,
        matchConditions: [
          {
            name: 'requests-cex',
            expression: `(${POD_CONTAINERS}).exists(c, ${requestsAnySet})`,
          },
        ],
        variables: [
          { name: 'projects', expression: derive(cexProjectsCel, { sets: props.sets }) },
          { name: 'containers', expression: POD_CONTAINERS },
          {
            name: 'foreignSets',
            expression: `variables.projects.filter(set, variables.projects[set] != request.namespace && variables.containers.exists(c, ${requestsSet}))`,
          },
        ],
        validations: [
          {
            expression: 'size(variables.foreignSets) == 0',
            messageExpression: `'namespace ' + request.namespace + ' may not use CEX config sets of other projects: ' + variables.foreignSets.map(set, ${prefix} + set + ' (project ' + variables.projects[set] + ')').join(', ')`,
            reason: 'Forbidden',
          },
        ],
        failurePolicy: 'Fail',
      },
    });
    this.binding = new ApiObject(this, 'binding', {
      apiVersion: 'admissionregistration.k8s.io/v1',
      kind: 'ValidatingAdmissionPolicyBinding',
      metadata,
      spec: { policyName: name, validationActions: ['Deny'] },
    });
  }
}
