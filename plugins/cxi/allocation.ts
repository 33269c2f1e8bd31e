/**
 * What a container gets for its CXI NICs: only the NICs it asked for. Directly, as device specs,
 * read-only library mounts and LD_LIBRARY_PATH; or, in CDI mode, as `hpe.com/cxi=<N>` names that the
 * runtime resolves from the spec cxi-cdi-generator wrote.
 */
import * as path from 'path';
import {
  AllocationError,
  GrpcStatus,
  qualifiedCdiName,
  readCdiSpec,
  type CdiSpec,
  type ContainerAllocation,
} from '../framework';
import { CXI_CDI_FILE, CXI_CDI_KIND, existingSpecErrors, specNicNames } from './cdi-spec';
import { deviceNodeHealth, XPMEM_CONTAINER_PATH, xpmemHostPath } from './devfs';
import { cxiLibraries, ldLibraryPath } from './libraries';
import { nicContainerPath, nicDevicePath } from './sysfs';

export interface AllocationRoots {
  devfsRoot: string;
  ofiRoot: string;
  cxiRoot: string;
}

/**
 * The kubelet saw these NICs Healthy at the last check; a node that vanished since would only fail
 * later, in the container runtime, with a vaguer message. Fail here and name it.
 */
export function assertNodesUsable(nics: number[], devfsRoot: string): void {
  const problems = nics
    .map((nic) => deviceNodeHealth(nicDevicePath(devfsRoot, nic)))
    .filter((h) => h.reason)
    .map((h) => h.reason);
  if (problems.length)
    throw new AllocationError(
      `CXI NIC not usable now: ${problems.join('; ')}`,
      GrpcStatus.FAILED_PRECONDITION,
    );
}

export function directAllocation(nics: number[], roots: AllocationRoots): ContainerAllocation {
  const devices = nics.map((nic) => ({
    containerPath: nicContainerPath(nic),
    hostPath: nicDevicePath(roots.devfsRoot, nic),
    permissions: 'rw',
  }));
  const xpmem = xpmemHostPath(roots.devfsRoot);
  if (xpmem) devices.push({ containerPath: XPMEM_CONTAINER_PATH, hostPath: xpmem, permissions: 'rw' });
  return {
    devices,
    mounts: cxiLibraries(roots.cxiRoot, roots.ofiRoot).map((file) => ({
      containerPath: file,
      hostPath: file,
      readOnly: true,
    })),
    envs: { LD_LIBRARY_PATH: ldLibraryPath(roots.ofiRoot, roots.cxiRoot) },
  };
}

/** Reads the generator's spec so a NIC it does not list fails now, not at container start. */
function readGeneratedSpec(cdiDir: string): CdiSpec {
  const file = path.join(cdiDir, CXI_CDI_FILE);
  const rerun = `run cxi-cdi-generator --cdi-dir ${cdiDir}`;
  let spec: unknown;
  try {
    spec = readCdiSpec(file);
  } catch (err) {
    throw new AllocationError(
      `cannot read CDI spec ${file}: ${(err as Error).message}`,
      GrpcStatus.FAILED_PRECONDITION,
    );
  }
  if (spec === undefined)
    throw new AllocationError(`CDI mode: ${file} does not exist (${rerun})`, GrpcStatus.FAILED_PRECONDITION);
  const errors = existingSpecErrors(spec);
  if (errors.length)
    throw new AllocationError(
      `CDI spec ${file} is not usable: ${errors.join('; ')}`,
      GrpcStatus.FAILED_PRECONDITION,
    );
  return spec as CdiSpec;
}

export function cdiAllocation(nics: number[], cdiDir: string): ContainerAllocation {
  const listed = new Set(specNicNames(readGeneratedSpec(cdiDir)));
  const missing = nics.filter((nic) => !listed.has(String(nic)));
  if (missing.length) {
    throw new AllocationError(
      `CDI spec ${path.join(cdiDir, CXI_CDI_FILE)} has no device for NIC ${missing.join(', ')} ` +
        `(re-run cxi-cdi-generator --cdi-dir ${cdiDir})`,
      GrpcStatus.FAILED_PRECONDITION,
    );
  }
  return { cdiDevices: nics.map((nic) => qualifiedCdiName(CXI_CDI_KIND, String(nic))) };
}
