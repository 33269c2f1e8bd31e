/**
 * The node label each plugin's DaemonSet selects, and the NFD rule that sets it.
 *
 * Labels live in namespaces nfd-master accepts without `-extra-label-ns`: `feature.node.kubernetes.io` and its
 * sub-namespaces (`<vendor>.feature.node.kubernetes.io`). The TDX rule is upstream's (Intel CCNP).
 */
import { NfdRule } from './node-feature-rule';

export interface NodeLabel {
  readonly key: string;
  readonly value: string;
}

/** Our own sub-namespace, for labels that belong to no hardware vendor. */
const OWN_NAMESPACE = 'kube-device-plugins.feature.node.kubernetes.io';

export const NODE_LABELS = {
  tdx: { key: 'intel.feature.node.kubernetes.io/tdx-guest', value: 'enabled' },
  cxi: { key: 'hpe.feature.node.kubernetes.io/cxi', value: 'true' },
  kvm: { key: `${OWN_NAMESPACE}/kvm`, value: 'true' },
  cex: { key: 'ibm.feature.node.kubernetes.io/cex', value: 'true' },
  /** Set by the optional netdevice rule, or by hand: handing host NICs to pods is opt-in per node. */
  netdevice: { key: `${OWN_NAMESPACE}/netdevice`, value: 'true' },
  /** No rule: the device-node globs are site-specific, so nodes are labelled by hand. */
  devnode: { key: `${OWN_NAMESPACE}/devnode`, value: 'true' },
} satisfies Record<string, NodeLabel>;

/** `{ key: value }`, the shape of a nodeSelector or of a rule's `labels`. */
export function labelMap(label: NodeLabel): Record<string, string> {
  return { [label.key]: label.value };
}

/**
 * A TDX guest (the node itself runs in a trust domain), as detected by NFD's cpu source. Upstream's rule as is
 * (Intel CCNP, device-plugin/ccnp-device-plugin/deploy/node-feature-rules.yaml), rule name included.
 */
export function tdxGuestRule(): NfdRule {
  return {
    name: 'intel.tdx',
    labels: labelMap(NODE_LABELS.tdx),
    matchFeatures: [{ feature: 'cpu.security', matchExpressions: { 'tdx.protected': { op: 'IsTrue' } } }],
  };
}

/** An HPE Slingshot (Cassini) NIC: PCI vendor 0x17db. */
export function cxiNicRule(): NfdRule {
  return {
    name: 'hpe.cxi-nic',
    labels: labelMap(NODE_LABELS.cxi),
    matchFeatures: [{ feature: 'pci.device', matchExpressions: { vendor: { op: 'In', value: ['17db'] } } }],
  };
}

/**
 * KVM usable: the kvm module is loaded or built in (`kernel.enabledmodule` covers both) and the CPU has
 * hardware virtualisation (Intel VMX or AMD SVM).
 */
export function kvmRule(): NfdRule {
  return {
    name: 'kvm',
    labels: labelMap(NODE_LABELS.kvm),
    matchFeatures: [
      { feature: 'kernel.enabledmodule', matchExpressions: { kvm: { op: 'Exists' } } },
      { feature: 'cpu.cpuid', matchName: { op: 'In', value: ['VMX', 'SVM'] } },
    ],
  };
}

/** IBM Z crypto adapters: the s390 AP bus (`ap`) or the zcrypt driver, loaded or built in. */
export function cexRule(): NfdRule {
  return {
    name: 'ibm.cex',
    labels: labelMap(NODE_LABELS.cex),
    matchFeatures: [{ feature: 'kernel.enabledmodule', matchName: { op: 'In', value: ['ap', 'zcrypt'] } }],
  };
}

/**
 * Optional: a physical NIC whose name matches the plugin's `--interfaces` regex (NFD uses Go RE2 syntax, which
 * agrees with JavaScript for ordinary patterns).
 */
export function netdeviceRule(interfaces: string): NfdRule {
  return {
    name: 'netdevice',
    labels: labelMap(NODE_LABELS.netdevice),
    matchFeatures: [
      { feature: 'network.device', matchExpressions: { name: { op: 'InRegexp', value: [interfaces] } } },
    ],
  };
}
