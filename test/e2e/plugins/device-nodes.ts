/**
 * tdx, kvm and devnode on their fixture trees (fixtures/<family>/tree.yaml, real char devices made with
 * mknod). Expected run options are those of docs/plugins/{tdx,kvm,devnode}.md.
 */
import * as fs from 'fs';
import * as path from 'path';
import {
  buildFixture,
  fixturesDir,
  fixturesUnavailable,
  makeNode,
} from '../../../simulator/devices/device-nodes';
import { options, type PluginScenario } from '../scenario';

/** The fixture's one node `name`, removed and made again (the kubelet should see Unhealthy, then Healthy). */
function removable(devfsRoot: string, name: string, node: { major: number; minor: number }) {
  const file = path.join(devfsRoot, name);
  return {
    remove: () => fs.rmSync(file),
    restore: () => makeNode(file, { type: 'char', ...node }),
  };
}

export const tdx: PluginScenario = {
  name: 'tdx',
  unavailable: fixturesUnavailable,
  setup(root) {
    const tree = buildFixture('tdx', root);
    const udsDir = path.join(root, 'ccnp', 'uds');
    const node = removable(tree.devfsRoot, 'tdx_guest', { major: 1, minor: 3 });
    const shared = 110;
    return {
      args: [`--devfs-root=${tree.devfsRoot}`, `--sysfs-root=${tree.sysfsRoot}`, `--uds-dir=${udsDir}`],
      resources: ['tdx.intel.com/tdx-guest'],
      resource: 'tdx.intel.com/tdx-guest',
      devices: shared,
      // docs/plugins/tdx.md, Allocate: the node rw, and the CCNP socket dir rw at /run/ccnp/uds.
      expectOptions: () =>
        options({
          devices: [
            {
              containerPath: '/dev/tdx_guest',
              hostPath: path.join(tree.devfsRoot, 'tdx_guest'),
              permissions: 'rw',
            },
          ],
          mounts: [{ containerPath: '/run/ccnp/uds', hostPath: udsDir, readOnly: false }],
        }),
      // Every ID stands for the one node: all of them go Unhealthy.
      breakDevice: () => (node.remove(), shared),
      repairDevice: node.restore,
      cleanup: () => undefined,
    };
  },
};

export const kvm: PluginScenario = {
  name: 'kvm',
  unavailable: fixturesUnavailable,
  setup(root) {
    const tree = buildFixture('kvm', root);
    const cdiDir = path.join(root, 'cdi');
    const node = removable(tree.devfsRoot, 'kvm', { major: 1, minor: 3 });
    const shared = 110;
    return {
      args: [`--devfs-root=${tree.devfsRoot}`, `--cdi-dir=${cdiDir}`],
      resources: ['github.com.ihcsim/kvm'],
      resource: 'github.com.ihcsim/kvm',
      devices: shared,
      // docs/plugins/kvm.md, Allocate: /dev/kvm rw, and (with --cdi, the default) the CDI name.
      expectOptions: () =>
        options({
          devices: [
            { containerPath: '/dev/kvm', hostPath: path.join(tree.devfsRoot, 'kvm'), permissions: 'rw' },
          ],
          cdiDevices: ['github.com.ihcsim/kvm=kvm'],
        }),
      breakDevice: () => (node.remove(), shared),
      repairDevice: node.restore,
      cleanup: () => undefined,
    };
  },
};

export const devnode: PluginScenario = {
  name: 'devnode',
  unavailable: fixturesUnavailable,
  setup(root) {
    const tree = buildFixture('devnode', root);
    const crand2 = path.join(tree.devfsRoot, 'crand2');
    return {
      args: [
        `--devfs-root=${tree.devfsRoot}`,
        `--config=${path.join(fixturesDir(), 'devnode', 'crand.yaml')}`,
      ],
      resources: ['github.com.ihcsim/crand'],
      resource: 'github.com.ihcsim/crand',
      devices: 3,
      // docs/plugins/devnode.md, Allocate: one DeviceSpec per node, container path /dev/{path}, rw.
      expectOptions: (ids) =>
        options({
          devices: ids.map((id) => ({
            containerPath: `/dev/${id}`,
            hostPath: path.join(tree.devfsRoot, id),
            permissions: 'rw',
          })),
        }),
      // A matching entry that is not a device node is listed Unhealthy (a vanished one leaves the list).
      breakDevice: () => {
        fs.rmSync(crand2);
        fs.writeFileSync(crand2, 'not a device\n');
        return 1;
      },
      repairDevice: () => makeNode(crand2, { type: 'char', major: 1, minor: 8 }),
      cleanup: () => undefined,
    };
  },
};
