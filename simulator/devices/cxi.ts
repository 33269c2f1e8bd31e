/**
 * Builds fake CXI nodes under a temp root for tests, the demo and the bench: a sysfs tree laid out
 * like the kernel's (class/cxi/cxiN → devices/…/<pci>/cxi/cxiN, with `device` → the PCI device),
 * `/dev/cxiN` and `/dev/xpmem` character devices (mknod, so root only), and library directories.
 * Openable nodes reuse /dev/null's numbers (1:3); "present but not openable" nodes use 240:0, a
 * local/experimental major no driver claims, so open() fails with ENXIO as for a dead NIC.
 */
import { execFileSync } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';

/** Attributes a fixture NIC can lack, to exercise discovery with missing files. */
export type FixtureAttribute =
  'vendor' | 'device' | 'uevent' | 'numa_node' | 'local_cpulist' | 'properties' | 'cxi-dir';

export interface FixtureNic {
  number: number;
  pciAddress: string;
  /** Class entry name; `cxi<number>` by default. */
  entry?: string;
  /** -1 for "no NUMA"; the attribute is written unless listed in `missing`. */
  numaNode?: number;
  vendor?: string;
  missing?: FixtureAttribute[];
  /** State of `/dev/cxiN`: openable (default), present but not openable, or absent. */
  node?: 'ok' | 'unopenable' | 'none';
}

export interface CxiFixture {
  root: string;
  sysfsRoot: string;
  devfsRoot: string;
  ofiRoot: string;
  cxiRoot: string;
  cdiDir: string;
}

/**
 * Four HPE NICs on two NUMA nodes, one of them `cxi10` (odd numbering) lacking its properties and
 * CPU list, plus a non-HPE entry and one whose vendor file is missing.
 */
export const DEFAULT_NICS: FixtureNic[] = [
  { number: 0, pciAddress: '0000:41:00.0', numaNode: 0 },
  { number: 1, pciAddress: '0000:42:00.0', numaNode: 0 },
  { number: 2, pciAddress: '0000:c1:00.0', numaNode: 1 },
  { number: 10, pciAddress: '0000:c2:00.0', numaNode: 1, missing: ['properties', 'local_cpulist'] },
  { number: 3, pciAddress: '0000:05:00.0', numaNode: 0, vendor: '0x15b3', node: 'none' },
  { number: 4, pciAddress: '0000:06:00.0', numaNode: 0, missing: ['vendor'], node: 'none' },
];

/** Why device nodes cannot be made here, or undefined when they can. */
export function deviceNodesUnavailable(): string | undefined {
  return process.getuid?.() === 0 ? undefined : 'creating device nodes with mknod needs root';
}

export function makeCharDevice(file: string, openable = true): void {
  fs.rmSync(file, { force: true });
  const [major, minor] = openable ? ['1', '3'] : ['240', '0'];
  execFileSync('mknod', [file, 'c', major, minor]);
}

function pciDir(fx: CxiFixture, nic: FixtureNic): string {
  return path.join(fx.sysfsRoot, 'devices', 'pci0000:00', nic.pciAddress);
}

function write(file: string, content: string): void {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, content + '\n');
}

export function addFixtureNic(fx: CxiFixture, nic: FixtureNic): void {
  const entry = nic.entry ?? `cxi${nic.number}`;
  const dev = pciDir(fx, nic);
  const has = (a: FixtureAttribute) => !nic.missing?.includes(a);
  fs.mkdirSync(dev, { recursive: true });
  if (has('vendor')) write(path.join(dev, 'vendor'), nic.vendor ?? '0x17db');
  if (has('device')) write(path.join(dev, 'device'), '0x0501');
  if (has('uevent'))
    write(
      path.join(dev, 'uevent'),
      `DRIVER=cxi_ss1\nPCI_CLASS=20000\nPCI_ID=17DB:0501\nPCI_SLOT_NAME=${nic.pciAddress}\nMODALIAS=pci:v000017DBd00000501`,
    );
  if (has('numa_node')) write(path.join(dev, 'numa_node'), String(nic.numaNode ?? -1));
  if (has('local_cpulist')) write(path.join(dev, 'local_cpulist'), nic.numaNode === 1 ? '32-63' : '0-31');
  if (has('properties')) {
    write(path.join(dev, 'properties', 'cassini_version'), '2');
    write(path.join(dev, 'properties', 'speed'), '200000');
  }
  // The class device lives under the PCI device; its `device` link points back up to it.
  const classDevice = path.join(dev, has('cxi-dir') ? 'cxi' : 'other', entry);
  fs.mkdirSync(classDevice, { recursive: true });
  fs.symlinkSync('../..', path.join(classDevice, 'device'));
  const classDir = path.join(fx.sysfsRoot, 'class', 'cxi');
  fs.mkdirSync(classDir, { recursive: true });
  fs.symlinkSync(path.relative(classDir, classDevice), path.join(classDir, entry));
  if ((nic.node ?? 'ok') !== 'none')
    makeCharDevice(path.join(fx.devfsRoot, `cxi${nic.number}`), nic.node !== 'unopenable');
}

/** Hot-unplug: the class entry, the PCI device and `/dev/cxiN` all go. */
export function removeFixtureNic(fx: CxiFixture, nic: FixtureNic): void {
  fs.rmSync(path.join(fx.sysfsRoot, 'class', 'cxi', nic.entry ?? `cxi${nic.number}`), { force: true });
  fs.rmSync(pciDir(fx, nic), { recursive: true, force: true });
  fs.rmSync(path.join(fx.devfsRoot, `cxi${nic.number}`), { force: true });
}

function writeLibraries(dir: string, files: Record<string, string | null>): void {
  fs.mkdirSync(dir, { recursive: true });
  for (const [name, target] of Object.entries(files)) {
    const file = path.join(dir, name);
    if (target === null) fs.writeFileSync(file, `fake ${name}\n`);
    else if (target === '/') fs.mkdirSync(file, { recursive: true });
    else fs.symlinkSync(target, file);
  }
}

/** A whole node under `root`. Pass `nics: []` for a node without NICs. */
export function buildCxiFixture(
  root: string,
  nics: FixtureNic[] = DEFAULT_NICS,
  options = { xpmem: true },
): CxiFixture {
  const fx: CxiFixture = {
    root,
    sysfsRoot: path.join(root, 'sys'),
    devfsRoot: path.join(root, 'dev'),
    ofiRoot: path.join(root, 'opt', 'cray', 'lib64'),
    cxiRoot: path.join(root, 'usr', 'lib64'),
    cdiDir: path.join(root, 'cdi'),
  };
  fs.mkdirSync(path.join(fx.sysfsRoot, 'class', 'cxi'), { recursive: true });
  fs.mkdirSync(fx.devfsRoot, { recursive: true });
  for (const nic of nics) addFixtureNic(fx, nic);
  if (options.xpmem) makeCharDevice(path.join(fx.devfsRoot, 'xpmem'));
  // null: a regular file; '/': a directory; anything else: a symlink to it.
  writeLibraries(fx.cxiRoot, {
    'libcxi.so.1.5.0': null,
    'libcxi.so.1': 'libcxi.so.1.5.0',
    'libcxi.so': 'libcxi.so.1',
    'libc.so.6': null,
  });
  writeLibraries(fx.ofiRoot, {
    'libfabric.so.1.22.0': null,
    'libfabric.so.1': 'libfabric.so.1.22.0',
    'libfabric.so': 'libfabric.so.1',
    libfabric: '/',
    'libfabric.so.dangling': 'libfabric.so.0.0.0',
    'libpmi.so': null,
  });
  return fx;
}
