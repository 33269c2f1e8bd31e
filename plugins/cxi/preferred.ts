/**
 * GetPreferredAllocation for CXI: keep a pod's NICs on one NUMA node, and spread it over distinct
 * physical NICs before it takes a second virtual slot of the same NIC. The framework then makes sure
 * the answer holds every must-include ID and exactly `size` IDs (completePreference).
 */
import type { PreferredAllocationRequest } from '../framework';

export interface Placement {
  nic: number;
  numaNode?: number;
}

/** What is known of one NUMA node's candidate IDs, in the order nodes are preferred. */
interface NodeGroup {
  node: number | undefined;
  ids: string[];
  /** This node alone can supply every ID still needed. */
  fits: boolean;
  /** A must-include ID already sits on this node. */
  home: boolean;
  /** NICs on this node none of whose IDs is chosen yet. */
  freeNics: number;
}

const byNaturalOrder = (a: string, b: string) => a.localeCompare(b, undefined, { numeric: true });

export function preferCxiDevices(
  request: PreferredAllocationRequest,
  placement: (id: string) => Placement | undefined,
): string[] {
  const chosen = [...new Set(request.mustInclude)];
  const chosenPerNic = new Map<number, number>();
  const take = (id: string) => {
    const nic = placement(id)?.nic;
    if (nic !== undefined) chosenPerNic.set(nic, (chosenPerNic.get(nic) ?? 0) + 1);
  };
  chosen.forEach(take);
  let need = request.size - chosen.length;
  if (need <= 0) return chosen;

  const taken = new Set(chosen);
  const candidates = request.available.filter((id) => !taken.has(id) && placement(id) !== undefined);
  const homeNodes = new Set<number | undefined>(
    chosen.map((id) => placement(id)?.numaNode).filter((node) => node !== undefined),
  );
  for (const group of nodeGroups(candidates, placement, need, homeNodes, chosenPerNic)) {
    const pool = [...group.ids];
    while (need > 0 && pool.length > 0) {
      // The least-used NIC first; ties go to the lower NIC number (pool is in natural order).
      let best = 0;
      for (let i = 1; i < pool.length; i++) {
        if (usage(pool[i]) < usage(pool[best])) best = i;
      }
      const [id] = pool.splice(best, 1);
      chosen.push(id);
      take(id);
      need -= 1;
    }
    if (need === 0) break;
  }
  return chosen;

  function usage(id: string): number {
    return chosenPerNic.get(placement(id)!.nic) ?? 0;
  }
}

/**
 * Candidates grouped by NUMA node, best node first: one that can supply everything, then the node of
 * the must-include IDs, then one with enough unused NICs to give every ID its own NIC, then more
 * unused NICs, more IDs, and the lower node number (unknown NUMA last).
 */
function nodeGroups(
  candidates: string[],
  placement: (id: string) => Placement | undefined,
  need: number,
  homeNodes: Set<number | undefined>,
  chosenPerNic: Map<number, number>,
): NodeGroup[] {
  const byNode = new Map<number | undefined, string[]>();
  for (const id of candidates) {
    const node = placement(id)!.numaNode;
    byNode.set(node, [...(byNode.get(node) ?? []), id]);
  }
  const groups = [...byNode.entries()].map(([node, ids]): NodeGroup => {
    const nics = new Set(ids.map((id) => placement(id)!.nic));
    return {
      node,
      ids: ids.sort((a, b) => placement(a)!.nic - placement(b)!.nic || byNaturalOrder(a, b)),
      fits: ids.length >= need,
      home: homeNodes.has(node),
      freeNics: [...nics].filter((nic) => !chosenPerNic.has(nic)).length,
    };
  });
  const flag = (b: boolean) => (b ? 1 : 0);
  return groups.sort(
    (a, b) =>
      flag(b.fits) - flag(a.fits) ||
      flag(b.home) - flag(a.home) ||
      flag(b.freeNics >= need) - flag(a.freeNics >= need) ||
      b.freeNics - a.freeNics ||
      b.ids.length - a.ids.length ||
      (a.node ?? Infinity) - (b.node ?? Infinity),
  );
}
