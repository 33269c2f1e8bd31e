/**
 * HPE Slingshot CXI plugin. Reads /sys/class/cxi (the container's own sysfs shows it), host /dev (cxiN, xpmem)
 * and the two library roots it bind-mounts into pods. In CDI mode the `cxi-cdi-generator` runs first, as an
 * init container, and writes the `hpe.com/cxi` spec the plugin's CDI names refer to.
 */
import { Construct } from 'constructs';
import { labelMap, NODE_LABELS } from '../../nfd-rules';
import { withDefaults } from '../common';
import { DevicePluginDaemonSet, DevicePluginOptions, HOST_PATHS, HostPathMount } from '../daemonset';
import { NODE_RUNTIME_FLAGS } from '../../plugins/catalogue/node-flags';

export interface CxiPluginProps extends DevicePluginOptions {
  /** Default `beta.hpe.com/cxi`. */
  readonly resourceName?: string;
  /** Re-discovery period. Default `30s`. */
  readonly rescanInterval?: string;
  /** Health check period. Default `10s`. */
  readonly healthInterval?: string;
  /** Return CDI names (`hpe.com/cxi=<N>`) and run the generator. Default false. */
  readonly cdi?: boolean;
  /** IDs per NIC, so that several pods can share one NIC. Default 1. */
  readonly virtualDevices?: number;
  /** Host directory of libfabric. Default `/opt/cray/lib64`. */
  readonly ofiRoot?: string;
  /** Host directory of libcxi. Default `/usr/lib64`. */
  readonly cxiRoot?: string;
}

export const CXI_DEFAULTS = {
  resourceName: 'beta.hpe.com/cxi',
  rescanInterval: '30s',
  healthInterval: '10s',
  cdi: false,
  virtualDevices: 1,
  ofiRoot: '/opt/cray/lib64',
  cxiRoot: '/usr/lib64',
  httpPort: 8084,
  nodeSelector: labelMap(NODE_LABELS.cxi),
};

export class CxiPlugin extends Construct {
  readonly daemonSet: DevicePluginDaemonSet;

  constructor(scope: Construct, id: string, props: CxiPluginProps = {}) {
    super(scope, id);
    const p = withDefaults(CXI_DEFAULTS, props);
    // Same path inside as on the host: the plugin hands these paths to the kubelet. (The image does not rely on
    // its own /usr/lib64, see the Dockerfile, so the host's may cover it.)
    const libraries: HostPathMount[] = [
      { name: 'ofi-root', path: p.ofiRoot, type: 'Directory', readOnly: true },
      { name: 'cxi-root', path: p.cxiRoot, type: 'Directory', readOnly: true },
    ];
    this.daemonSet = new DevicePluginDaemonSet(this, 'daemonset', {
      ...p,
      plugin: 'cxi',
      args: [
        `--resource-name=${p.resourceName}`,
        `--rescan-interval=${p.rescanInterval}`,
        `--health-interval=${p.healthInterval}`,
        `--cdi=${p.cdi}`,
        `--virtual-devices=${p.virtualDevices}`,
        `--ofi-root=${p.ofiRoot}`,
        `--cxi-root=${p.cxiRoot}`,
      ],
      // In CDI mode the plugin reads the generated spec to answer Allocate.
      hostPaths: [HOST_PATHS.dev, ...libraries, { ...HOST_PATHS.cdi, readOnly: true, when: p.cdi }],
      initContainers: [
        {
          name: 'cdi-generator',
          when: p.cdi,
          command: ['node', ...NODE_RUNTIME_FLAGS, '/app/bin/cxi-cdi-generator.js'],
          args: ['--cdi-dir', HOST_PATHS.cdi.path],
          env: [
            { name: 'OFI_ROOT', value: p.ofiRoot },
            { name: 'CXI_ROOT', value: p.cxiRoot },
          ],
          hostPaths: [HOST_PATHS.dev, ...libraries, HOST_PATHS.cdi],
        },
      ],
    });
  }
}
