/**
 * IBM Z CryptoExpress plugin, configured like IBM's k8s-cex-dev-plugin (env vars and the
 * `cex-resources-config` ConfigMap). The one privileged plugin: it creates zcrypt device nodes through
 * /sys/class/zcrypt and writes their masks, and builds shadow sysfs trees that pods mount.
 */
import { Construct } from 'constructs';
import { labelMap, NODE_LABELS } from '../../nfd-rules';
import { CexConfigSet, cexResourcesJson } from '../cex-config';
import { withDefaults } from '../common';
import { objectName } from '../release';
import { DevicePluginDaemonSet, DevicePluginOptions, HOST_PATHS } from '../daemonset';
import { derive, toStr } from '../helm/symbolic';
import { CEX_SETTINGS } from '../../plugins/catalogue/cex';
import { chartDefaults, type ChartDefaults } from '../../plugins/catalogue/setting';

export interface CexPluginProps extends DevicePluginOptions, Partial<ChartDefaults<typeof CEX_SETTINGS>> {
  /** The crypto config sets (the ConfigMap content). Default none. */
  readonly configSets?: CexConfigSet[];
  // apqnCheckInterval … shadowSysfsDir: the catalogue's (plugins/catalogue/cex.ts), each an env var of the pod.
}

export const CEX_DEFAULTS = {
  configSets: [] as CexConfigSet[],
  ...chartDefaults(CEX_SETTINGS),
  httpPort: 8086,
  nodeSelector: labelMap(NODE_LABELS.cex),
};

/** Upstream's file name and place, which its documentation and users expect. */
const CONFIG_DIR = '/config';
const CONFIG_FILE = 'cex_resources.json';

export class CexPlugin extends Construct {
  readonly daemonSet: DevicePluginDaemonSet;

  constructor(scope: Construct, id: string, props: CexPluginProps = {}) {
    super(scope, id);
    const p = withDefaults(CEX_DEFAULTS, props);
    this.daemonSet = new DevicePluginDaemonSet(this, 'daemonset', {
      ...p,
      plugin: 'cex',
      privileged: true,
      env: [
        { name: 'CCS_JSON_FILE', value: `${CONFIG_DIR}/${CONFIG_FILE}` },
        // The catalogue's, in its order: numbers as strings (env values), the directory as it is.
        ...CEX_SETTINGS.map((setting) => ({
          name: setting.env,
          value: setting.type === 'int' ? toStr(p[setting.chart.key]) : p[setting.chart.key],
        })),
        { name: 'NODENAME', valueFrom: { fieldRef: { fieldPath: 'spec.nodeName' } } },
      ],
      hostPaths: [
        { name: 'sys', path: '/sys', type: 'Directory', readOnly: false },
        { ...HOST_PATHS.dev, readOnly: false },
        { name: 'shadowsysfs', path: p.shadowSysfsDir, type: 'DirectoryOrCreate', readOnly: false },
        HOST_PATHS.podResources,
      ],
      configFile: {
        // Upstream's cex-resources-config, after the release's name prefix.
        configMapName: objectName(this, 'cex-resources-config'),
        mountPath: CONFIG_DIR,
        fileName: CONFIG_FILE,
        content: derive(cexResourcesJson, { sets: p.configSets }),
      },
    });
  }
}
