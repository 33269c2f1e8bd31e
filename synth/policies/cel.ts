/**
 * CEL building blocks shared by the admission policies. Kept as small functions so that each policy reads as
 * one sentence, and so that the tests evaluate exactly the strings the policies carry.
 */

/** A CEL string literal. Our values never hold a quote or backslash (the values schema forbids them). */
export function celString(text: string): string {
  return `'${text}'`;
}

/** The pod's containers and init containers, as one list (`initContainers` may be absent). */
export const POD_CONTAINERS =
  'object.spec.containers + (has(object.spec.initContainers) ? object.spec.initContainers : [])';

/**
 * True when the requests or the limits of `container` (a CEL variable) pass `test`, a function from a CEL map
 * expression to a CEL condition. Extended resources may be given in either; the kubelet treats them alike.
 */
export function inRequestsOrLimits(container: string, test: (resources: string) => string): string {
  const field = (name: 'requests' | 'limits') =>
    `(has(${container}.resources.${name}) && ${test(`${container}.resources.${name}`)})`;
  return `has(${container}.resources) && (${field('requests')} || ${field('limits')})`;
}

/** True when any container of the pod requests the resource `resource` (a CEL string expression). */
export function podRequests(resource: string): string {
  return `(${POD_CONTAINERS}).exists(c, ${inRequestsOrLimits('c', (m) => `${resource} in ${m}`)})`;
}

/** Admission rules for pod creation (the only time devices, and networks, are chosen). */
export const POD_CREATE_RULES = {
  resourceRules: [{ apiGroups: [''], apiVersions: ['v1'], operations: ['CREATE'], resources: ['pods'] }],
};
