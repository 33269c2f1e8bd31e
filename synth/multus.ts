/**
 * CXI pod networking through Multus: one NetworkAttachmentDefinition (k8s.cni.cncf.io/v1) per Slingshot NIC,
 * an ipvlan on `hsnN` with Whereabouts IPAM, as upstream's cxi-k8s-device-plugin deploys them.
 */
import { ApiObject } from 'cdk8s';
import { Construct } from 'constructs';
import { defineCheck, defineDerivation, derive } from './helm/symbolic';
import { componentLabels, releaseOf } from './release';

export type IpvlanMode = 'l2' | 'l3' | 'l3s';

export interface CxiNic {
  /** Host interface the ipvlan sits on, e.g. `hsn0`. */
  readonly master: string;
  readonly mode: IpvlanMode;
  /** Whereabouts range in CIDR notation, e.g. `10.150.10.1/28`. */
  readonly range: string;
}

/**
 * Upstream's four NICs and ranges: an example only, as ranges are site-specific (the chart creates no
 * NetworkAttachmentDefinition unless `cxi.nics` lists NICs).
 */
export const EXAMPLE_CXI_NICS: CxiNic[] = [0, 1, 2, 3].map((n) => ({
  master: `hsn${n}`,
  mode: 'l2',
  range: `10.150.${10 + n}.1/28`,
}));

/** The NAD name for a NIC: upstream's `<master>-ipvlan`, after the release's name prefix (`fullname`). */
export function cxiNetworkName(fullname: string, master: string): string {
  return `${fullname}-${master}-ipvlan`.slice(0, 63).replace(/-+$/, '');
}

const NETWORK_NAME_TEMPLATE = 'printf "%s-%s-ipvlan" $.fullname .master | trunc 63 | trimSuffix "-"';

/** The CNI config a NAD carries, as the JSON string `spec.config` holds. */
export function ipvlanConfig(nic: CxiNic): string {
  return JSON.stringify({
    cniVersion: '0.3.1',
    type: 'ipvlan',
    master: nic.master,
    mode: nic.mode,
    ipam: { type: 'whereabouts', range: nic.range },
  });
}

/**
 * What no JSON Schema can say about `cxi.nics`: a master twice would give two NetworkAttachmentDefinitions of
 * one name (`<master>-ipvlan`; the API server refuses the second, late in `helm install`) and a networks
 * annotation naming one network twice. The chart and the constructs refuse it first, with this message.
 */
export function cxiNicsProblem(nics: readonly CxiNic[]): string | undefined {
  const masters = new Set<string>();
  for (const nic of nics) {
    if (masters.has(nic.master))
      return `cxi.nics: master "${nic.master}" appears more than once; masters must be unique (each NIC gets one NetworkAttachmentDefinition, <release>-<master>-ipvlan)`;
    masters.add(nic.master);
  }
  return undefined;
}

/** Renders nothing; fails (`fail` in Helm, an Error in TypeScript) on {@link cxiNicsProblem}. */
export const cxiNicsCheck = defineCheck(
  'kdp.cxi.checkNics',
  ({ nics }: { nics: readonly CxiNic[] }) => cxiNicsProblem(nics),
  `{{- $masters := dict -}}
{{- range .nics -}}
{{- if hasKey $masters .master -}}
{{- fail (printf "cxi.nics: master %q appears more than once; masters must be unique (each NIC gets one NetworkAttachmentDefinition, <release>-<master>-ipvlan)" .master) -}}
{{- end -}}
{{- $_ := set $masters .master true -}}
{{- end -}}`,
);

/** The NAD name of one of `nics`, checked first (see {@link cxiNicsProblem}). */
export const cxiCheckedNetworkName = defineDerivation({
  name: 'kdp.cxi.networkName',
  compute: ({ nics, fullname, master }: { nics: readonly CxiNic[]; fullname: string; master: string }) =>
    cxiNicsCheck.compute({ nics }) + cxiNetworkName(fullname, master),
  template: `{{- include "kdp.cxi.checkNics" . -}}\n{{- ${NETWORK_NAME_TEMPLATE} -}}`,
});

export interface CxiNetworkAttachmentProps {
  readonly namespace: string;
  readonly nic: CxiNic;
  /**
   * Every NIC of the chart, this one among them: given, the construct throws (the chart fails) when a master
   * appears twice, as two NADs would have one name.
   */
  readonly allNics?: readonly CxiNic[];
}

export class CxiNetworkAttachment extends ApiObject {
  constructor(scope: Construct, id: string, props: CxiNetworkAttachmentProps) {
    const { fullname } = releaseOf(scope);
    super(scope, id, {
      apiVersion: 'k8s.cni.cncf.io/v1',
      kind: 'NetworkAttachmentDefinition',
      metadata: {
        name: props.allNics
          ? derive(cxiCheckedNetworkName, { nics: props.allNics, fullname, master: props.nic.master })
          : cxiNetworkName(fullname, props.nic.master),
        namespace: props.namespace,
        labels: componentLabels(scope, 'cxi'),
      },
      spec: { config: ipvlanConfig(props.nic) },
    });
  }
}

/**
 * The `k8s.v1.cni.cncf.io/networks` annotation value that attaches a pod to every NIC's network, keeping the
 * NIC's name inside the pod. Keys in alphabetical order, as Helm's `toJson` writes them. Checked first (see
 * {@link cxiNicsProblem}).
 */
export const cxiNetworksAnnotation = defineDerivation({
  name: 'kdp.cxi.networksAnnotation',
  compute: ({
    nics,
    fullname,
    namespace,
  }: {
    nics: readonly CxiNic[];
    fullname: string;
    namespace: string;
  }) =>
    cxiNicsCheck.compute({ nics }) +
    JSON.stringify(
      nics.map((nic) => ({ interface: nic.master, name: cxiNetworkName(fullname, nic.master), namespace })),
    ),
  template: `{{- include "kdp.cxi.checkNics" . -}}
{{- $networks := list -}}
{{- range .nics -}}
{{- $networks = append $networks (dict "interface" .master "name" (${NETWORK_NAME_TEMPLATE}) "namespace" $.namespace) -}}
{{- end -}}
{{- toJson $networks -}}`,
});

/** The networks annotation for these NICs' NADs in `namespace` (for charts composed in code). */
export function cxiNetworks(scope: Construct, nics: readonly CxiNic[], namespace: string): string {
  return cxiNetworksAnnotation.compute({ nics, fullname: releaseOf(scope).fullname, namespace });
}
