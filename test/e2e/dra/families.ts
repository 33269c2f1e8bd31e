/**
 * The DRA-mode families on their fixture trees (fixtures/<family>/tree.yaml, real char devices made with
 * mknod): the flags each runs with, the CEL selectors a ResourceClaimTemplate uses on the attributes of
 * docs/DRA.md (`device.attributes["<driver>"].path` …), and how one of its devices is made unhealthy or
 * made to vanish.
 */
import * as fs from 'fs';
import * as path from 'path';
import { buildFixture, fixturesDir, makeNode } from '../../../plugins/device-nodes/fixture';

export interface DeviceFault {
  /** The container path (the `path` attribute) of the device it breaks. */
  path: string;
  apply(): void;
  undo(): void;
}

export interface DraFamily {
  family: string;
  driverName: string;
  /** The family's own flags. */
  args: string[];
  /** The container path the first pod's claim selects (by CEL on the `path` attribute). */
  path: string;
  /** CEL of the first pod's request. */
  cel: string;
  /** CEL of the second pod's request (another device for an exclusive family, the same one when shared). */
  celSecond: string;
  /** One device many claims hold at once (allowMultipleAllocations). */
  shared: boolean;
  /** The node made a regular file: the family reports it unhealthy. */
  unhealthy: DeviceFault;
  /** The node removed. */
  vanish: DeviceFault;
}

export const driverName = (family: string) => `${family}.kube-device-plugins.io`;

/** `device.attributes["<driver>"].<name>` in CEL. */
export const attr = (family: string, name: string) => `device.attributes["${driverName(family)}"].${name}`;

/** Replace the node with a regular file (not a device: unhealthy), and make it again. */
export function notADevice(
  file: string,
  containerPath: string,
  node: { major: number; minor: number },
): DeviceFault {
  return {
    path: containerPath,
    apply: () => (fs.rmSync(file, { force: true }), fs.writeFileSync(file, 'not a device\n')),
    undo: () => makeNode(file, { type: 'char', ...node }),
  };
}

function removed(file: string, containerPath: string, node: { major: number; minor: number }): DeviceFault {
  return {
    path: containerPath,
    apply: () => fs.rmSync(file, { force: true }),
    undo: () => makeNode(file, { type: 'char', ...node }),
  };
}

export function setUpFamily(family: string, root: string): DraFamily {
  const tree = buildFixture(family, root);
  const dev = (name: string) => path.join(tree.devfsRoot, name);
  switch (family) {
    case 'kvm': {
      const node = { major: 1, minor: 3 };
      return {
        family,
        driverName: driverName(family),
        args: [`--devfs-root=${tree.devfsRoot}`],
        path: '/dev/kvm',
        cel: `${attr(family, 'path')} == "/dev/kvm"`,
        celSecond: `${attr(family, 'path')} == "/dev/kvm"`,
        shared: true,
        unhealthy: notADevice(dev('kvm'), '/dev/kvm', node),
        vanish: removed(dev('kvm'), '/dev/kvm', node),
      };
    }
    case 'tdx': {
      const node = { major: 1, minor: 3 };
      return {
        family,
        driverName: driverName(family),
        args: [
          `--devfs-root=${tree.devfsRoot}`,
          `--sysfs-root=${tree.sysfsRoot}`,
          `--uds-dir=${path.join(root, 'ccnp', 'uds')}`,
        ],
        path: '/dev/tdx_guest',
        // The interface version is a typed `version` attribute: compared as a semver.
        cel: `${attr(family, 'path')} == "/dev/tdx_guest" && ${attr(family, 'version')}.compareTo(semver("1.0.0")) >= 0`,
        celSecond: `${attr(family, 'path')} == "/dev/tdx_guest"`,
        shared: true,
        unhealthy: notADevice(dev('tdx_guest'), '/dev/tdx_guest', node),
        vanish: removed(dev('tdx_guest'), '/dev/tdx_guest', node),
      };
    }
    case 'devnode': {
      // fixtures/devnode: crand0..2, char 1:8 (clones of /dev/random), one exclusive device each.
      const node = { major: 1, minor: 8 };
      return {
        family,
        driverName: driverName(family),
        args: [
          `--devfs-root=${tree.devfsRoot}`,
          `--config=${path.join(fixturesDir(), 'devnode', 'crand.yaml')}`,
        ],
        path: '/dev/crand1',
        cel: `${attr(family, 'path')} == "/dev/crand1" && ${attr(family, 'major')} == 1`,
        celSecond: `${attr(family, 'glob')} == "crand*"`,
        shared: false,
        unhealthy: notADevice(dev('crand2'), '/dev/crand2', node),
        vanish: removed(dev('crand0'), '/dev/crand0', node),
      };
    }
    default:
      throw new Error(`no DRA fixture for ${family}`);
  }
}

export const FAMILIES = ['kvm', 'tdx', 'devnode'];
