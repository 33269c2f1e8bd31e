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
import { CXI_SETTINGS } from '../../plugins/catalogue/cxi';
import { chartArgs, chartDefaults, type ChartDefaults } from '../../plugins/catalogue/setting';

/**
 * The plugin's settings are the catalogue's (plugins/catalogue/cxi.ts): `resourceName`, `rescanInterval`,
 * `healthInterval`, `cdi`, `virtualDevices`, `ofiRoot`, `cxiRoot`, each defaulting to its flag's default.
 */
export interface CxiPluginProps extends DevicePluginOptions, Partial<ChartDefaults<typeof CXI_SETTINGS>> {}

export const CXI_DEFAULTS = {
  ...chartDefaults(CXI_SETTINGS),
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
      args: chartArgs(CXI_SETTINGS, p),
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
