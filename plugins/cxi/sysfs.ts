/**
 * Discovery of HPE Slingshot (Cassini) NICs in sysfs. Every entry of `<sysfs>/class/cxi` whose PCI
 * device (`<entry>/device`) has vendor 0x17db is a NIC; its number N is the one of `/dev/cxiN`.
 * Discovery is pure: it reports what it skipped and why, and the caller decides what to log.
 */
import * as fs from 'fs';
import * as path from 'path';

export const HPE_VENDOR_ID = '0x17db';
export const CXI_CLASS_DIR = path.join('class', 'cxi');

export interface CxiNic {
  /** The class entry, e.g. `cxi0`. */
  name: string;
  /** N of `/dev/cxiN`: the whole number (`cxi10` is 10, not 0 as upstream parsed it). */
  number: number;
  /** PCI address (DBDF) from `device/uevent` `PCI_SLOT_NAME=`, when readable. */
  pciAddress?: string;
  /** PCI device id, e.g. `0x0501`. */
  pciDeviceId?: string;
  /** NUMA node of the PCI device; absent when unknown or -1 (no NUMA). */
  numaNode?: number;
  localCpuList?: string;
  cassiniVersion?: string;
  /** Link speed as the driver reports it (`properties/speed`). */
  speed?: string;
}

export interface SkippedEntry {
  entry: string;
  reason: string;
}

export interface Discovery {
  /** NICs sorted by number. */
  nics: CxiNic[];
  /** Class entries that are not (usable) HPE NICs. */
  skipped: SkippedEntry[];
  /** False when `<sysfs>/class/cxi` does not exist (no CXI driver loaded). */
  classDirFound: boolean;
}

const NIC_NAME = /^cxi(0|[1-9][0-9]*)$/;

export function classDir(sysfsRoot: string): string {
  return path.join(sysfsRoot, CXI_CLASS_DIR);
}

/** The trimmed content of a sysfs attribute, or undefined when it is missing or unreadable. */
function readAttribute(file: string): string | undefined {
  try {
    return fs.readFileSync(file, 'utf8').trim();
  } catch {
    return undefined;
  }
}

function listDir(dir: string): string[] | undefined {
  try {
    return fs.readdirSync(dir).sort();
  } catch {
    return undefined;
  }
}

function pciSlotName(deviceDir: string): string | undefined {
  const uevent = readAttribute(path.join(deviceDir, 'uevent'));
  const line = uevent?.split('\n').find((l) => l.startsWith('PCI_SLOT_NAME='));
  return line?.slice('PCI_SLOT_NAME='.length).trim() || undefined;
}

function parseNumaNode(text: string | undefined): number | undefined {
  if (text === undefined || !/^-?[0-9]+$/.test(text)) return undefined;
  const node = Number(text);
  return node >= 0 ? node : undefined;
}

/**
 * The NIC number from the `device/cxi/cxiN` entry (the one named like the class entry when there are
 * several); the class entry's own name is the fallback when that directory is missing.
 */
function nicNumber(entry: string, deviceDir: string): number | undefined {
  const names = (listDir(path.join(deviceDir, 'cxi')) ?? []).filter((n) => NIC_NAME.test(n));
  const name = names.includes(entry) ? entry : (names[0] ?? (NIC_NAME.test(entry) ? entry : undefined));
  return name === undefined ? undefined : Number(NIC_NAME.exec(name)![1]);
}

/** Read one class entry: a NIC, or the reason it is not one. */
export function readNic(sysfsRoot: string, entry: string): CxiNic | SkippedEntry {
  const deviceDir = path.join(classDir(sysfsRoot), entry, 'device');
  const vendor = readAttribute(path.join(deviceDir, 'vendor'));
  if (vendor === undefined) return { entry, reason: `cannot read ${path.join(deviceDir, 'vendor')}` };
  if (vendor.toLowerCase() !== HPE_VENDOR_ID)
    return { entry, reason: `vendor ${vendor} is not HPE (${HPE_VENDOR_ID})` };
  const number = nicNumber(entry, deviceDir);
  if (number === undefined)
    return { entry, reason: `no cxiN entry under ${path.join(deviceDir, 'cxi')} and no number in its name` };
  const nic: CxiNic = {
    name: entry,
    number,
    pciAddress: pciSlotName(deviceDir),
    pciDeviceId: readAttribute(path.join(deviceDir, 'device')),
    numaNode: parseNumaNode(readAttribute(path.join(deviceDir, 'numa_node'))),
    localCpuList: readAttribute(path.join(deviceDir, 'local_cpulist')),
    cassiniVersion: readAttribute(path.join(deviceDir, 'properties', 'cassini_version')),
    speed: readAttribute(path.join(deviceDir, 'properties', 'speed')),
  };
  // Drop unknown attributes so logs and comparisons only carry what sysfs really said.
  for (const key of Object.keys(nic) as (keyof CxiNic)[]) if (nic[key] === undefined) delete nic[key];
  return nic;
}

export function discoverNics(sysfsRoot: string): Discovery {
  const entries = listDir(classDir(sysfsRoot));
  if (entries === undefined) return { nics: [], skipped: [], classDirFound: false };
  const byNumber = new Map<number, CxiNic>();
  const skipped: SkippedEntry[] = [];
  for (const entry of entries) {
    const result = readNic(sysfsRoot, entry);
    if ('reason' in result) skipped.push(result);
    else if (byNumber.has(result.number))
      skipped.push({
        entry,
        reason: `NIC number ${result.number} is already taken by ${byNumber.get(result.number)!.name}`,
      });
    else byNumber.set(result.number, result);
  }
  const nics = [...byNumber.values()].sort((a, b) => a.number - b.number);
  return { nics, skipped, classDirFound: true };
}

/** A NIC as log fields: `nic=cxi0` first, then what sysfs said about it. */
export function nicLogFields(nic: CxiNic): Record<string, unknown> {
  const { name, ...facts } = nic;
  return { nic: name, ...facts };
}

/** `<devfs>/cxiN`: the host path of a NIC's character device. */
export function nicDevicePath(devfsRoot: string, number: number): string {
  return path.join(devfsRoot, `cxi${number}`);
}

/** `/dev/cxiN` as a container sees it. */
export function nicContainerPath(number: number): string {
  return `/dev/cxi${number}`;
}
