/** GetPreferredAllocation policy: one NUMA node, distinct NICs first, must-include and size honoured. */
import { completePreference } from '../../../plugins/framework';
import { kubeletDevices, nicOfId } from '../../../plugins/cxi/ids';
import { preferCxiDevices, type Placement } from '../../../plugins/cxi/preferred';

/** NICs 0 and 1 on NUMA node 0, NICs 2 and 10 on node 1, NIC 20 with no NUMA information. */
const NUMA: Record<number, number | undefined> = { 0: 0, 1: 0, 2: 1, 10: 1, 20: undefined };

function ids(k: number, nics = [0, 1, 2, 10]): string[] {
  return kubeletDevices(
    nics.map((number) => ({ number, health: 'Healthy' as const, numaNode: NUMA[number] })),
    k,
  ).map((d) => d.id);
}

/** What the kubelet gets: the plugin's preference completed by the framework. */
function prefer(k: number, available: string[], size: number, mustInclude: string[] = []): string[] {
  const placement = (id: string): Placement | undefined => {
    const nic = nicOfId(id, k);
    return nic === undefined ? undefined : { nic, numaNode: NUMA[nic] };
  };
  const preferred = preferCxiDevices({ available, mustInclude, size }, placement);
  return completePreference(preferred, available, mustInclude, size);
}

test('keeps a request on one NUMA node', () => {
  expect(prefer(1, ids(1), 2)).toEqual(['0', '1']);
  expect(prefer(1, ['0', '2', '10'], 2)).toEqual(['2', '10']); // node 0 cannot hold both
});

test('follows a must-include ID to its NUMA node', () => {
  expect(prefer(1, ids(1), 2, ['10'])).toEqual(['10', '2']);
  expect(prefer(1, ids(1), 1, ['10'])).toEqual(['10']);
});

test('spreads over distinct physical NICs before a second virtual slot of one NIC', () => {
  expect(prefer(3, ids(3), 2)).toEqual(['0-0', '1-0']);
  expect(prefer(3, ids(3), 3)).toEqual(['0-0', '1-0', '0-1']);
  // 1-0 is a must-include: the next pick is another NIC on its node, not 1-1.
  expect(prefer(3, ids(3), 2, ['1-0'])).toEqual(['1-0', '0-0']);
});

test('prefers a node whose NICs can each give one ID over one that needs shared slots', () => {
  // Node 0 offers only NIC 0 (three slots), node 1 offers NICs 2 and 10: two IDs fit on either node.
  const available = ['0-0', '0-1', '0-2', '2-0', '10-0'];
  expect(prefer(3, available, 2)).toEqual(['2-0', '10-0']);
});

test('spills over to another node only when one node is not enough, and always returns size IDs', () => {
  const result = prefer(1, ids(1), 3);
  expect(result).toHaveLength(3);
  expect(result.slice(0, 2)).toEqual(['0', '1']);
  expect(prefer(1, ids(1), 4).sort()).toEqual(['0', '1', '10', '2']);
});

test('NICs without NUMA information come after those with it', () => {
  expect(prefer(1, ['20', '2'], 1)).toEqual(['2']);
  expect(prefer(1, ['20'], 1)).toEqual(['20']);
});

test('IDs it does not know are never preferred, but the framework still completes the size', () => {
  const placement = (id: string): Placement | undefined => (id === 'x' ? undefined : { nic: Number(id) });
  expect(preferCxiDevices({ available: ['x', '3'], mustInclude: [], size: 1 }, placement)).toEqual(['3']);
});
