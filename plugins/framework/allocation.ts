/**
 * Turning what a plugin returns into the kubelet's ContainerAllocateResponse: merge parts, drop
 * duplicates, and refuse CDI names a runtime could not resolve.
 */
import type { ContainerAllocation } from './types';
import type { WireContainerAllocateResponse } from './proto';
import { isQualifiedCdiName } from './cdi';

/** Merge several allocations (e.g. a device part and a socket-dir part); later parts win on key clashes. */
export function mergeAllocations(...parts: ContainerAllocation[]): ContainerAllocation {
  const devices = new Map<string, NonNullable<ContainerAllocation['devices']>[number]>();
  const mounts = new Map<string, NonNullable<ContainerAllocation['mounts']>[number]>();
  const cdi = new Set<string>();
  const envs: Record<string, string> = {};
  const annotations: Record<string, string> = {};
  for (const part of parts) {
    for (const d of part.devices ?? []) devices.set(d.containerPath, d);
    for (const m of part.mounts ?? []) mounts.set(m.containerPath, m);
    for (const name of part.cdiDevices ?? []) cdi.add(name);
    Object.assign(envs, part.envs);
    Object.assign(annotations, part.annotations);
  }
  return {
    devices: [...devices.values()],
    mounts: [...mounts.values()],
    envs,
    annotations,
    cdiDevices: [...cdi],
  };
}

export function toWireResponse(allocation: ContainerAllocation): WireContainerAllocateResponse {
  const merged = mergeAllocations(allocation);
  const badCdi = (merged.cdiDevices ?? []).filter((name) => !isQualifiedCdiName(name));
  if (badCdi.length) {
    throw new Error(
      `plugin returned CDI device names that are not fully qualified (vendor/class=name): ${badCdi.join(', ')}`,
    );
  }
  return {
    envs: merged.envs ?? {},
    annotations: merged.annotations ?? {},
    devices: (merged.devices ?? []).map((d) => ({
      container_path: d.containerPath,
      host_path: d.hostPath,
      permissions: d.permissions,
    })),
    mounts: (merged.mounts ?? []).map((m) => ({
      container_path: m.containerPath,
      host_path: m.hostPath,
      read_only: m.readOnly,
    })),
    cdi_devices: (merged.cdiDevices ?? []).map((name) => ({ name })),
  };
}
