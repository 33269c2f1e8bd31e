/**
 * The CEX family's settings: environment variables, as upstream's k8s-cex-dev-plugin (no flags). A number
 * outside its bounds is clamped and an unparsable one falls back to the default, as upstream does
 * (plugins/cex/settings.ts); the chart's schema refuses both. From here come --help's and the README's env
 * table, the chart's `cex.*` values (values.yaml, values.schema.json bounds) and the DaemonSet's env.
 */
import type { EnvSetting } from './setting';

const int = <const Env extends string, const Key extends string>(
  env: Env,
  key: Key,
  bounds: { default: number; min: number; max: number },
  help: string,
  chartHelp: string,
) => ({ env, type: 'int', ...bounds, help, chart: { key, help: chartHelp } }) as const satisfies EnvSetting;

/** The numeric variables, upstream's defaults and ranges, by what the plugin calls them. */
export const CEX_INT_SETTINGS = {
  apqnCheckInterval: int(
    'APQN_CHECK_INTERVAL',
    'apqnCheckInterval',
    { default: 30, min: 10, max: 120 },
    'seconds between APQN rescans (health, hot plug)',
    'Seconds between APQN scans',
  ),
  configCheckInterval: int(
    'CRYPTOCONFIG_CHECK_INTERVAL',
    'cryptoconfigCheckInterval',
    { default: 120, min: 30, max: 300 },
    'seconds between config re-reads (fallback; file changes are seen at once)',
    'Seconds between config checks',
  ),
  podListerPoll: int(
    'PODLISTER_POLL_INTERVAL',
    'podlisterPollInterval',
    { default: 30, min: 10, max: 60 },
    'seconds between clean-up passes over the kubelet PodResources API',
    'Seconds between PodResources polls',
  ),
  deleteNeverUsed: int(
    'RESOURCE_DELETE_NEVER_USED',
    'resourceDeleteNeverUsed',
    { default: 1800, min: 30, max: 3600 },
    'seconds before a zcrypt node / shadow dir no pod ever used is destroyed',
    'Seconds before a never-used zcrypt node is removed',
  ),
  deleteUnused: int(
    'RESOURCE_DELETE_UNUSED',
    'resourceDeleteUnused',
    { default: 120, min: 30, max: 900 },
    'seconds before a zcrypt node / shadow dir no pod uses any more is destroyed',
    'Seconds before an unused zcrypt node is removed',
  ),
  overcommitLimit: int(
    'APQN_OVERCOMMIT_LIMIT',
    'apqnOvercommitLimit',
    { default: 1, min: 1, max: 100 },
    'devices per APQN for sets without "overcommit"',
    'Default pods per APQN',
  ),
  liveSysfs: int(
    'APQN_LIVE_SYSFS',
    'apqnLiveSysfs',
    { default: 1, min: 0, max: 1 },
    'live (1) or static (0) shadow sysfs for sets without "livesysfs"',
    'Default sysfs view: 1 live, 0 static',
  ),
};

export const CEX_SHADOW_SYSFS_DIR = {
  env: 'SHADOWSYSFS_BASEDIR',
  type: 'string',
  default: '/var/tmp/shadowsysfs',
  help: 'where shadow sysfs trees are made',
  chart: { key: 'shadowSysfsDir', help: 'Host directory of the shadow sysfs trees', format: 'absolutePath' },
} as const satisfies EnvSetting;

/** The settings the chart carries, in the order of values.yaml and the DaemonSet's env. */
export const CEX_SETTINGS = [
  CEX_INT_SETTINGS.apqnCheckInterval,
  CEX_INT_SETTINGS.configCheckInterval,
  CEX_INT_SETTINGS.podListerPoll,
  CEX_INT_SETTINGS.deleteNeverUsed,
  CEX_INT_SETTINGS.deleteUnused,
  CEX_INT_SETTINGS.overcommitLimit,
  CEX_INT_SETTINGS.liveSysfs,
  CEX_SHADOW_SYSFS_DIR,
] as const satisfies readonly EnvSetting[];
