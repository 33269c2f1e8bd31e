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

export interface CexPluginProps extends DevicePluginOptions {
  /** The crypto config sets (the ConfigMap content). Default none. */
  readonly configSets?: CexConfigSet[];
  /** Seconds between APQN scans (10–120). Default 30. */
  readonly apqnCheckInterval?: number;
  /** Seconds between config checks (30–300). Default 120. */
  readonly cryptoconfigCheckInterval?: number;
  /** Seconds between PodResources polls (10–60). Default 30. */
  readonly podlisterPollInterval?: number;
  /** Seconds before a never-used zcrypt node is removed (30–3600). Default 1800. */
  readonly resourceDeleteNeverUsed?: number;
  /** Seconds before an unused zcrypt node is removed (30–900). Default 120. */
  readonly resourceDeleteUnused?: number;
  /** Default pods per APQN (1–100). Default 1. */
  readonly apqnOvercommitLimit?: number;
  /** Default sysfs view, live (1) or static (0). Default 1. */
  readonly apqnLiveSysfs?: number;
  /** Host directory of the shadow sysfs trees. Default `/var/tmp/shadowsysfs`. */
  readonly shadowSysfsDir?: string;
}

export const CEX_DEFAULTS = {
  configSets: [] as CexConfigSet[],
  apqnCheckInterval: 30,
  cryptoconfigCheckInterval: 120,
  podlisterPollInterval: 30,
  resourceDeleteNeverUsed: 1800,
  resourceDeleteUnused: 120,
  apqnOvercommitLimit: 1,
  apqnLiveSysfs: 1,
  shadowSysfsDir: '/var/tmp/shadowsysfs',
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
        { name: 'APQN_CHECK_INTERVAL', value: toStr(p.apqnCheckInterval) },
        { name: 'CRYPTOCONFIG_CHECK_INTERVAL', value: toStr(p.cryptoconfigCheckInterval) },
        { name: 'PODLISTER_POLL_INTERVAL', value: toStr(p.podlisterPollInterval) },
        { name: 'RESOURCE_DELETE_NEVER_USED', value: toStr(p.resourceDeleteNeverUsed) },
        { name: 'RESOURCE_DELETE_UNUSED', value: toStr(p.resourceDeleteUnused) },
        { name: 'APQN_OVERCOMMIT_LIMIT', value: toStr(p.apqnOvercommitLimit) },
        { name: 'APQN_LIVE_SYSFS', value: toStr(p.apqnLiveSysfs) },
        { name: 'SHADOWSYSFS_BASEDIR', value: p.shadowSysfsDir },
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
