/**
 * Names the CEX family derives from an APQN (adapter, domain): the device IDs the kubelet sees, the
 * zcrypt device node and shadow sysfs dir made for each, and the AP bus sysfs dir names. Keeping them
 * in one place is what lets clean-up find, after a restart, what an earlier Allocate made.
 */

export const RESOURCE_DOMAIN = 'cex.s390.ibm.com';

export interface DeviceRef {
  adapter: number;
  domain: number;
  /** Overcommit index: 0 … overcommit-1. */
  index: number;
}

const DEVICE_ID = /^apqn-(\d{1,3})-(\d{1,3})-(\d{1,3})$/;

/** Device IDs are `<base>-<index>` with base `apqn-<adapter>-<domain>`, decimal, as upstream. */
export function deviceIdBase(adapter: number, domain: number): string {
  return `apqn-${adapter}-${domain}`;
}

export function parseDeviceId(id: string): DeviceRef | undefined {
  const match = DEVICE_ID.exec(id);
  if (!match) return undefined;
  const [adapter, domain, index] = match.slice(1).map(Number);
  if (adapter > 255 || domain > 255) return undefined;
  return { adapter, domain, index };
}

export function resourceNameFor(setName: string): string {
  return `${RESOURCE_DOMAIN}/${setName}`;
}

/** The set name of one of our resources, or undefined for anybody else's. */
export function setNameOf(resourceName: string): string | undefined {
  const prefix = `${RESOURCE_DOMAIN}/`;
  return resourceName.startsWith(prefix) ? resourceName.slice(prefix.length) : undefined;
}

/** zcrypt device node for a device ID: `/dev/zcrypt-apqn-<a>-<d>-<i>` (kernel limit: 31 characters). */
export function zcryptNodeName(id: string): string {
  return `zcrypt-${id}`;
}

export const ZCRYPT_NODE_PATTERN = /^zcrypt-(apqn-\d+-\d+-\d+)$/;

/** Shadow sysfs dir for a device ID, under SHADOWSYSFS_BASEDIR. */
export function shadowDirName(id: string): string {
  return `sysfs-${id}`;
}

export const SHADOW_DIR_PATTERN = /^sysfs-(apqn-\d+-\d+-\d+)$/;

/** `card0a` */
export function cardDirName(adapter: number): string {
  return `card${hex(adapter, 2)}`;
}

/** `0a.001f` */
export function queueDirName(adapter: number, domain: number): string {
  return `${hex(adapter, 2)}.${hex(domain, 4)}`;
}

function hex(value: number, width: number): string {
  return value.toString(16).padStart(width, '0');
}
