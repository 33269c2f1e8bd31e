/**
 * Local checks the kubelet would otherwise make for us, so a mistake fails at start with a clear
 * message instead of as a refused registration or a silently truncated socket path.
 */
import { createHash } from 'crypto';

const DNS1123_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const QUALIFIED_NAME_PART = /^[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$/;

/** sun_path is 108 bytes including the terminating NUL; bind() truncates anything longer silently. */
export const MAX_UNIX_SOCKET_PATH_BYTES = 107;

function dnsSubdomainErrors(value: string): string[] {
  if (value.length > 253) return [`prefix "${value}" is longer than 253 characters`];
  if (!value.split('.').every((label) => DNS1123_LABEL.test(label))) {
    return [`prefix "${value}" is not a DNS subdomain (lower-case alphanumerics, '-' and '.')`];
  }
  return [];
}

/**
 * Errors for an extended resource name, following the kubelet's IsExtendedResourceName: it must be
 * `<domain>/<name>`, outside the `kubernetes.io` namespaces, and `requests.<name>` must still be a
 * qualified name (the form resource quotas use).
 */
export function resourceNameErrors(name: string): string[] {
  const slash = name.indexOf('/');
  if (slash < 0)
    return [`"${name}" has no domain prefix: extended resources look like "vendor.example/device"`];
  if (name.includes('kubernetes.io/'))
    return [`"${name}" is in a kubernetes.io namespace, reserved for native resources`];
  if (name.startsWith('requests.')) return [`"${name}" may not start with "requests."`];
  const prefix = name.slice(0, slash);
  const short = name.slice(slash + 1);
  const errors = dnsSubdomainErrors(`requests.${prefix}`);
  if (short.length === 0 || short.length > 63) errors.push(`name part "${short}" must be 1-63 characters`);
  else if (!QUALIFIED_NAME_PART.test(short)) {
    errors.push(
      `name part "${short}" must be alphanumerics, '-', '_' or '.', starting and ending alphanumeric`,
    );
  }
  return errors;
}

export function assertResourceName(name: string): void {
  const errors = resourceNameErrors(name);
  if (errors.length) throw new Error(`invalid extended resource name: ${errors.join('; ')}`);
}

/** Socket file name for a resource: stable, readable, and unique per resource name. */
/** Longest socket file name we make: the kubelet's dir (32 bytes) plus this stays far below 107. */
export const MAX_SOCKET_NAME_LENGTH = 64;

/**
 * Socket file name for a resource: readable and unique per resource name. A long resource name (up to
 * 316 characters are valid) is shortened and made unique with a hash of the full name, so the socket
 * path stays under the kernel limit.
 */
export function socketNameFor(resourceName: string): string {
  const readable = resourceName.replace(/[^A-Za-z0-9_.-]/g, '_');
  const name = `kdp-${readable}.sock`;
  if (name.length <= MAX_SOCKET_NAME_LENGTH) return name;
  const hash = createHash('sha256').update(resourceName).digest('hex').slice(0, 12);
  return `kdp-${readable.slice(0, MAX_SOCKET_NAME_LENGTH - 22)}-${hash}.sock`;
}

/**
 * Refuse a socket path bind() would silently truncate. `dirFlag` names the flag that sets its directory:
 * `--device-plugin-dir` for device-plugin sockets, `--kubelet-root-dir` for the DRA sockets.
 */
export function assertSocketPath(path: string, dirFlag = '--device-plugin-dir'): void {
  const bytes = Buffer.byteLength(path);
  if (bytes > MAX_UNIX_SOCKET_PATH_BYTES) {
    throw new Error(
      `unix socket path is ${bytes} bytes, over the kernel limit of ${MAX_UNIX_SOCKET_PATH_BYTES}: ${path} ` +
        `(use a shorter ${dirFlag})`,
    );
  }
}

/** Kubelet device IDs are at most 63 characters; duplicates would confuse its accounting. */
export function deviceIdErrors(ids: string[]): string[] {
  const errors: string[] = [];
  const seen = new Set<string>();
  for (const id of ids) {
    if (id.length === 0 || id.length > 63) errors.push(`device ID "${id}" must be 1-63 characters`);
    if (seen.has(id)) errors.push(`device ID "${id}" appears twice`);
    seen.add(id);
  }
  return errors;
}
