/**
 * Container Device Interface specs: build, check and write them. The JSON schema upstream does not
 * check `kind`, device names or the version/feature match, so those rules (from the CDI SPEC.md) are
 * checked here; tests additionally validate every spec against the upstream schema.
 */
import * as fs from 'fs';
import * as path from 'path';
import * as yaml from 'js-yaml';

export interface CdiDeviceNode {
  path: string;
  hostPath?: string;
  type?: string;
  major?: number;
  minor?: number;
  fileMode?: number;
  permissions?: string;
  uid?: number;
  gid?: number;
}
export interface CdiMount {
  hostPath: string;
  containerPath: string;
  type?: string;
  options?: string[];
}
export interface CdiHook {
  hookName: 'prestart' | 'createRuntime' | 'createContainer' | 'startContainer' | 'poststart' | 'poststop';
  path: string;
  args?: string[];
  env?: string[];
  timeout?: number;
}
export interface CdiNetDevice {
  hostInterfaceName: string;
  name: string;
}
export interface CdiContainerEdits {
  env?: string[];
  deviceNodes?: CdiDeviceNode[];
  mounts?: CdiMount[];
  hooks?: CdiHook[];
  netDevices?: CdiNetDevice[];
  additionalGids?: number[];
}
export interface CdiDevice {
  name: string;
  annotations?: Record<string, string>;
  containerEdits: CdiContainerEdits;
}
export interface CdiSpec {
  cdiVersion: string;
  kind: string;
  annotations?: Record<string, string>;
  devices: CdiDevice[];
  containerEdits?: CdiContainerEdits;
}

export { DEFAULT_CDI_DIR } from '../catalogue/common';

const KIND_VENDOR = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const KIND_CLASS = /^[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$/;
const DEVICE_NAME = /^[A-Za-z0-9]([-A-Za-z0-9_.:]*[A-Za-z0-9])?$/;

/** `vendor.example/class=device`, as runtimes resolve it. */
export function qualifiedCdiName(kind: string, device: string): string {
  return `${kind}=${device}`;
}

export function isQualifiedCdiName(name: string): boolean {
  const eq = name.indexOf('=');
  if (eq < 0) return false;
  return kindErrors(name.slice(0, eq)).length === 0 && isValidCdiDeviceName(name.slice(eq + 1));
}

/** A CDI device name (the part after `=`): letters and digits, inner `-`, `_`, `.`, `:`. */
export function isValidCdiDeviceName(name: string): boolean {
  return DEVICE_NAME.test(name);
}

function kindErrors(kind: string): string[] {
  const slash = kind.indexOf('/');
  if (slash < 0) return [`kind "${kind}" must be <vendor>/<class>`];
  const vendor = kind.slice(0, slash);
  const cls = kind.slice(slash + 1);
  const errors: string[] = [];
  if (vendor.length > 253 || !KIND_VENDOR.test(vendor))
    errors.push(`kind vendor "${vendor}" is not a DNS subdomain`);
  if (cls.length > 63 || !KIND_CLASS.test(cls)) errors.push(`kind class "${cls}" is not a valid name`);
  return errors;
}

function allEdits(spec: CdiSpec): CdiContainerEdits[] {
  return [spec.containerEdits ?? {}, ...spec.devices.map((d) => d.containerEdits)];
}

/** The lowest cdiVersion whose features cover this spec (the CDI library's rule; 0.3.0 is the floor). */
export function minimumCdiVersion(spec: Omit<CdiSpec, 'cdiVersion'>): string {
  const edits = allEdits({ ...spec, cdiVersion: '' });
  if (edits.some((e) => (e.netDevices?.length ?? 0) > 0)) return '1.1.0';
  if (edits.some((e) => (e.additionalGids?.length ?? 0) > 0)) return '0.7.0';
  const hasAnnotations =
    Object.keys(spec.annotations ?? {}).length > 0 ||
    spec.devices.some((d) => Object.keys(d.annotations ?? {}).length > 0);
  if (hasAnnotations || spec.kind.slice(spec.kind.indexOf('/') + 1).includes('.')) return '0.6.0';
  if (
    edits.some((e) => e.deviceNodes?.some((n) => n.hostPath !== undefined)) ||
    spec.devices.some((d) => /^[0-9]/.test(d.name))
  ) {
    return '0.5.0';
  }
  if (edits.some((e) => e.mounts?.some((m) => m.type !== undefined))) return '0.4.0';
  return '0.3.0';
}

/** Every rule a CDI loader applies that the JSON schema leaves out. Empty when the spec is good. */
export function cdiSpecErrors(spec: CdiSpec): string[] {
  const errors = kindErrors(spec.kind);
  if (!spec.devices || spec.devices.length === 0) errors.push('a spec needs at least one device');
  const names = new Set<string>();
  for (const device of spec.devices ?? []) {
    if (!isValidCdiDeviceName(device.name)) errors.push(`device name "${device.name}" is not valid`);
    if (names.has(device.name)) errors.push(`device name "${device.name}" appears twice`);
    names.add(device.name);
  }
  for (const edits of allEdits(spec)) {
    for (const node of edits.deviceNodes ?? []) if (!node.path) errors.push('a device node needs a path');
    for (const m of edits.mounts ?? [])
      if (!m.hostPath || !m.containerPath) errors.push('a mount needs hostPath and containerPath');
    for (const n of edits.netDevices ?? [])
      if (!n.hostInterfaceName || !n.name) errors.push('a netDevice needs hostInterfaceName and name');
  }
  const needed = minimumCdiVersion(spec);
  if (compareVersions(spec.cdiVersion, needed) < 0) {
    errors.push(`cdiVersion ${spec.cdiVersion} is older than ${needed}, which this spec's features need`);
  }
  return errors;
}

function compareVersions(a: string, b: string): number {
  const pa = a.replace(/^v/, '').split('.').map(Number);
  const pb = b.replace(/^v/, '').split('.').map(Number);
  for (let i = 0; i < 3; i++) if ((pa[i] ?? 0) !== (pb[i] ?? 0)) return (pa[i] ?? 0) - (pb[i] ?? 0);
  return 0;
}

/** A spec with the minimal cdiVersion its content needs. */
export function buildCdiSpec(spec: Omit<CdiSpec, 'cdiVersion'>): CdiSpec {
  return { cdiVersion: minimumCdiVersion(spec), ...spec };
}

/** `vendor.example/class` → `vendor.example-class.yaml`, the file-name convention of CDI tools. */
export function cdiSpecFileName(kind: string): string {
  return `${kind.replace('/', '-')}.yaml`;
}

/**
 * Validate and write atomically: a runtime reading the directory sees the old spec or the new one,
 * never half a file. Mode 0644 so the container runtime (not always root-owned reads) can load it.
 */
export function writeCdiSpec(dir: string, spec: CdiSpec, fileName = cdiSpecFileName(spec.kind)): string {
  const errors = cdiSpecErrors(spec);
  if (errors.length)
    throw new Error(`refusing to write an invalid CDI spec for ${spec.kind}: ${errors.join('; ')}`);
  const target = path.join(dir, fileName);
  const temp = path.join(dir, `.${fileName}.${process.pid}.tmp`);
  try {
    fs.mkdirSync(dir, { recursive: true });
    fs.writeFileSync(temp, yaml.dump(spec, { noRefs: true, lineWidth: -1 }), { mode: 0o644 });
    fs.chmodSync(temp, 0o644); // the umask may have narrowed the mode given to writeFileSync
    fs.renameSync(temp, target);
  } catch (err) {
    // A full or read-only dir must not collect half-written temp files, one per attempt.
    try {
      fs.rmSync(temp, { force: true });
    } catch {
      // nothing was created (e.g. a read-only dir)
    }
    throw new CdiWriteError(target, err as NodeJS.ErrnoException);
  }
  return target;
}

/** Writing a spec failed (ENOSPC, EROFS, EACCES…): the message names the spec's path and the errno. */
export class CdiWriteError extends Error {
  readonly code?: string;
  constructor(
    readonly file: string,
    cause: NodeJS.ErrnoException,
  ) {
    super(
      `cannot write CDI spec ${file}: ${cause.code ? `${cause.code} ` : ''}${cause.message.replace(/^\w+: /, '')}`,
    );
    this.name = 'CdiWriteError';
    this.code = cause.code;
  }
}

export function readCdiSpec(file: string): CdiSpec | undefined {
  try {
    return yaml.load(fs.readFileSync(file, 'utf8')) as CdiSpec;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
}

export function removeCdiSpec(dir: string, kind: string, fileName = cdiSpecFileName(kind)): void {
  fs.rmSync(path.join(dir, fileName), { force: true });
}
