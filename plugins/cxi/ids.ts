/**
 * Kubelet device IDs for CXI NICs. With one ID per NIC (the default) the ID is the NIC number
 * (`"0"`, `"10"`); with k virtual devices per NIC (so k pods can share it) the IDs are `N-0 … N-(k-1)`.
 * An ID therefore names its physical NIC by itself, stable across restarts and rescans.
 */
import { AllocationError, echoIds, GrpcStatus, sharedDevices, type Device, type Health } from '../framework';

const NUMBER = '(0|[1-9][0-9]*)';
const SINGLE_ID = new RegExp(`^${NUMBER}$`);
const VIRTUAL_ID = new RegExp(`^${NUMBER}-${NUMBER}$`);

export interface NicState {
  number: number;
  health: Health;
  numaNode?: number;
}

/** The kubelet's view: every NIC's IDs, in NIC order. */
export function kubeletDevices(nics: NicState[], virtualDevices: number): Device[] {
  return nics.flatMap((nic) => {
    const numaNodes = nic.numaNode === undefined ? undefined : [nic.numaNode];
    if (virtualDevices === 1)
      return [{ id: String(nic.number), health: nic.health, ...(numaNodes ? { numaNodes } : {}) }];
    return sharedDevices(String(nic.number), virtualDevices, nic.health, numaNodes);
  });
}

/** The NIC number an ID names, or undefined when the ID is not one this configuration hands out. */
export function nicOfId(id: string, virtualDevices: number): number | undefined {
  if (virtualDevices === 1) {
    const match = SINGLE_ID.exec(id);
    return match ? Number(match[1]) : undefined;
  }
  const match = VIRTUAL_ID.exec(id);
  return match && Number(match[2]) < virtualDevices ? Number(match[1]) : undefined;
}

/** The distinct NICs behind `ids`, ascending. A malformed ID is a gRPC INVALID_ARGUMENT naming it. */
export function nicsOfIds(ids: string[], virtualDevices: number): number[] {
  const nics = new Set<number>();
  const malformed: string[] = [];
  for (const id of ids) {
    const nic = nicOfId(id, virtualDevices);
    if (nic === undefined) malformed.push(id);
    else nics.add(nic);
  }
  if (malformed.length)
    throw new AllocationError(`malformed CXI device IDs: ${echoIds(malformed)}`, GrpcStatus.INVALID_ARGUMENT);
  return [...nics].sort((a, b) => a - b);
}
