/**
 * Which host interfaces may be handed to pods. The operator's --interfaces regex opts interfaces in; a
 * few rules keep the node itself working whatever the regex says.
 */
import { isValidCdiDeviceName } from '../framework';
import type { HostLink } from './ip';

export interface Selection {
  /** Interfaces that match the regex and pass every rule, by name. */
  candidates: Map<string, HostLink>;
  /** Interfaces that match the regex but are held back, with the reason (for the operator's logs). */
  excluded: Map<string, string>;
}

/** Kinds whose `link` attribute is a peer, not a lower device they depend on. */
const PEER_KINDS = new Set(['veth', 'netkit']);

export function selectInterfaces(
  links: HostLink[],
  defaultRouteInterfaces: Set<string>,
  pattern: RegExp,
): Selection {
  // A VLAN, macvlan, ipvlan, VXLAN… stacked on a link breaks when that link leaves the namespace.
  const upperOf = new Map<string, string>();
  for (const link of links) {
    if (link.lower && !PEER_KINDS.has(link.kind ?? '')) upperOf.set(link.lower, link.name);
  }
  const selection: Selection = { candidates: new Map(), excluded: new Map() };
  for (const link of links) {
    if (!pattern.test(link.name)) continue;
    const reason = exclusionReason(link, defaultRouteInterfaces, upperOf);
    if (reason) selection.excluded.set(link.name, reason);
    else selection.candidates.set(link.name, link);
  }
  return selection;
}

function exclusionReason(
  link: HostLink,
  defaultRouteInterfaces: Set<string>,
  upperOf: Map<string, string>,
): string | undefined {
  if (link.loopback) return 'loopback';
  if (defaultRouteInterfaces.has(link.name)) return 'carries a default route';
  if (link.master) return `uplink of ${link.master}`;
  const upper = upperOf.get(link.name);
  if (upper) return `lower device of ${upper}`;
  // Interface names may hold characters a CDI device name may not (e.g. a trailing `_` or `@`).
  if (!isValidCdiDeviceName(link.name)) return 'name is not a valid CDI device name';
  return undefined;
}
