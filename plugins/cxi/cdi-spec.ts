/**
 * The `hpe.com/cxi` CDI spec: one device per NIC named by its number (`/dev/cxiN`), a device `all`
 * with every NIC, and spec-level edits every CXI container needs (`/dev/xpmem`, the libcxi/libfabric
 * files read-only, the operator's env plus LD_LIBRARY_PATH).
 *
 * Updating an existing spec: the generator owns the NIC devices, `all`, and the spec-level env,
 * deviceNodes and mounts. Everything else an existing spec holds (annotations, other devices, hooks,
 * additional GIDs) is kept, so hand edits survive a re-run.
 */
import {
  buildCdiSpec,
  cdiSpecFileName,
  type CdiContainerEdits,
  type CdiDevice,
  type CdiDeviceNode,
  type CdiSpec,
} from '../framework';
import { nicContainerPath, nicDevicePath } from './sysfs';
import { XPMEM_CONTAINER_PATH } from './devfs';

export const CXI_CDI_KIND = 'hpe.com/cxi';
export const CXI_CDI_FILE = cdiSpecFileName(CXI_CDI_KIND);
export const ALL_DEVICE = 'all';
/** Upstream's options for the library bind mounts, less `relatime` (meaningless on a bind mount). */
export const LIBRARY_MOUNT_OPTIONS = ['ro', 'nosuid', 'nodev', 'bind'];

const NIC_DEVICE_NAME = /^(0|[1-9][0-9]*)$/;

export interface CxiSpecContent {
  /** NIC numbers, ascending. */
  nics: number[];
  devfsRoot: string;
  /** Host path of `/dev/xpmem`, when the node has it. */
  xpmem?: string;
  /** Library files to bind-mount read-only at the same path. */
  libraries: string[];
  /** `KEY=VALUE` entries, LD_LIBRARY_PATH included. */
  env: string[];
}

export function isNicDeviceName(name: string): boolean {
  return NIC_DEVICE_NAME.test(name);
}

function nicNode(devfsRoot: string, nic: number): CdiDeviceNode {
  return { path: nicContainerPath(nic), hostPath: nicDevicePath(devfsRoot, nic), type: 'c' };
}

/**
 * The spec for `content`, updating `existing` (an earlier spec of this kind) when given. With no NIC
 * and no other device the spec has no device at all: the caller removes the file instead.
 */
export function buildCxiSpec(content: CxiSpecContent, existing?: CdiSpec): CdiSpec {
  const previous = new Map((existing?.devices ?? []).map((d) => [d.name, d]));
  const keepAnnotations = (name: string) => {
    const annotations = previous.get(name)?.annotations;
    return annotations && Object.keys(annotations).length ? { annotations } : {};
  };
  const nicDevices: CdiDevice[] = content.nics.map((nic) => ({
    name: String(nic),
    ...keepAnnotations(String(nic)),
    containerEdits: { deviceNodes: [nicNode(content.devfsRoot, nic)] },
  }));
  // `all` with no node would be an empty device, which CDI loaders reject.
  const all: CdiDevice[] = content.nics.length
    ? [
        {
          name: ALL_DEVICE,
          ...keepAnnotations(ALL_DEVICE),
          containerEdits: { deviceNodes: content.nics.map((nic) => nicNode(content.devfsRoot, nic)) },
        },
      ]
    : [];
  const others = (existing?.devices ?? []).filter((d) => d.name !== ALL_DEVICE && !isNicDeviceName(d.name));

  const edits: CdiContainerEdits = { ...existing?.containerEdits };
  delete edits.env;
  delete edits.deviceNodes;
  delete edits.mounts;
  if (content.env.length) edits.env = content.env;
  if (content.xpmem) edits.deviceNodes = [{ path: XPMEM_CONTAINER_PATH, hostPath: content.xpmem, type: 'c' }];
  if (content.libraries.length) {
    edits.mounts = content.libraries.map((file) => ({
      hostPath: file,
      containerPath: file,
      options: LIBRARY_MOUNT_OPTIONS,
    }));
  }
  return buildCdiSpec({
    kind: CXI_CDI_KIND,
    ...(existing?.annotations && Object.keys(existing.annotations).length
      ? { annotations: existing.annotations }
      : {}),
    devices: [...nicDevices, ...all, ...others],
    ...(Object.keys(edits).length ? { containerEdits: edits } : {}),
  });
}

/** NIC device names in a spec (not `all`, not other devices). */
export function specNicNames(spec: CdiSpec | undefined): string[] {
  return (spec?.devices ?? []).map((d) => d.name).filter(isNicDeviceName);
}

/** NIC devices `next` adds to and drops from `previous`. */
export function nicChanges(
  previous: CdiSpec | undefined,
  next: CdiSpec,
): { added: string[]; removed: string[] } {
  const before = new Set(specNicNames(previous));
  const after = new Set(specNicNames(next));
  return {
    added: [...after].filter((n) => !before.has(n)),
    removed: [...before].filter((n) => !after.has(n)),
  };
}

/** `KEY=VALUE` entries of the env file, with LD_LIBRARY_PATH added unless the file sets it itself. */
export function specEnv(fileEnv: string[], ldLibraryPath: string): string[] {
  const setsLdPath = fileEnv.some((e) => e.startsWith('LD_LIBRARY_PATH='));
  return setsLdPath ? [...fileEnv] : [...fileEnv, `LD_LIBRARY_PATH=${ldLibraryPath}`];
}

/**
 * Checks an existing file's content before it is updated: a YAML document that is not a CDI spec of
 * this kind is not ours to rewrite.
 */
export function existingSpecErrors(content: unknown): string[] {
  if (typeof content !== 'object' || content === null || Array.isArray(content))
    return ['it is not a YAML mapping'];
  const spec = content as Partial<CdiSpec>;
  const errors: string[] = [];
  if (spec.kind !== CXI_CDI_KIND)
    errors.push(`its kind is ${JSON.stringify(spec.kind)}, not ${CXI_CDI_KIND}`);
  if (!Array.isArray(spec.devices)) errors.push('it has no devices list');
  else if (spec.devices.some((d) => typeof d?.name !== 'string' || typeof d.containerEdits !== 'object'))
    errors.push('a device lacks a name or containerEdits');
  return errors;
}
