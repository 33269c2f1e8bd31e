/**
 * The CEX family is configured by environment variables, as upstream. Numbers outside their range
 * are clamped (with a warning), unparsable ones fall back to the default (with a warning); paths
 * default under the common --sysfs-root / --devfs-root so fixtures and containers can move them.
 */
import * as path from 'path';
import { CEX_INT_SETTINGS, CEX_SHADOW_SYSFS_DIR } from '../catalogue/cex';
import { type Logger, type CommonOptions, UsageError, type EnvDoc } from '../framework';

/** Everything the family needs, intervals in milliseconds. Tests build this directly (see docs). */
export interface CexSettings {
  nodeName: string;
  configFile: string;
  sysinfoFile: string;
  apBusDir: string;
  apDevsDir: string;
  zcryptClassDir: string;
  devfsRoot: string;
  shadowBaseDir: string;
  podResourcesSocket: string;
  apqnCheckIntervalMs: number;
  configCheckIntervalMs: number;
  podListerPollMs: number;
  deleteNeverUsedMs: number;
  deleteUnusedMs: number;
  /** APQN_OVERCOMMIT_LIMIT: devices per APQN for sets without `overcommit`. */
  overcommitLimit: number;
  /** APQN_LIVE_SYSFS: live shadow sysfs for sets without `livesysfs`. */
  liveSysfs: boolean;
  /** How long Allocate waits for a new zcrypt node's /dev entry (default 6400 ms). */
  nodeTimeoutMs?: number;
}

interface IntEnv {
  name: string;
  default: number;
  min: number;
  max: number;
  help: string;
}

/** A numeric variable of the catalogue (plugins/catalogue/cex.ts) as the reader takes it: `name` is the variable. */
function intEnv(setting: { env: string; default: number; min: number; max: number; help: string }): IntEnv {
  return {
    name: setting.env,
    default: setting.default,
    min: setting.min,
    max: setting.max,
    help: setting.help,
  };
}

/** The numeric variables with upstream's defaults and ranges. */
export const INT_ENV = {
  apqnCheckInterval: intEnv(CEX_INT_SETTINGS.apqnCheckInterval),
  configCheckInterval: intEnv(CEX_INT_SETTINGS.configCheckInterval),
  podListerPoll: intEnv(CEX_INT_SETTINGS.podListerPoll),
  deleteNeverUsed: intEnv(CEX_INT_SETTINGS.deleteNeverUsed),
  deleteUnused: intEnv(CEX_INT_SETTINGS.deleteUnused),
  overcommitLimit: intEnv(CEX_INT_SETTINGS.overcommitLimit),
  liveSysfs: intEnv(CEX_INT_SETTINGS.liveSysfs),
};

export const DEFAULT_CONFIG_FILE = '/config/cex_resources.json';
export const DEFAULT_SHADOW_BASE_DIR = CEX_SHADOW_SYSFS_DIR.default;
export const DEFAULT_SYSINFO_FILE = '/proc/sysinfo';

/** For --help and the docs. */
export const CEX_ENV: EnvDoc[] = [
  { name: 'NODENAME', help: "this node's name (required; from the pod spec, fieldRef spec.nodeName)" },
  { name: 'CCS_JSON_FILE', help: `crypto config sets file (default ${DEFAULT_CONFIG_FILE})` },
  ...Object.values(INT_ENV).map((e) => ({
    name: e.name,
    help: `${e.help} (default ${e.default}, clamped to ${e.min}-${e.max})`,
  })),
  {
    name: CEX_SHADOW_SYSFS_DIR.env,
    help: `${CEX_SHADOW_SYSFS_DIR.help} (default ${DEFAULT_SHADOW_BASE_DIR})`,
  },
  { name: 'APSYSFS_BUSDIR', help: 'AP bus sysfs dir (default <sysfs-root>/bus/ap)' },
  { name: 'APSYSFS_DEVSDIR', help: 'AP devices sysfs dir (default <sysfs-root>/devices/ap)' },
  {
    name: 'ZCRYPT_CLASSDIR',
    help: 'zcrypt class dir with create/destroy (default <sysfs-root>/class/zcrypt)',
  },
  { name: 'PROC_SYSINFO_FILE', help: `machine id source (default ${DEFAULT_SYSINFO_FILE})` },
];

/** Read the settings from the environment and the common flags. Throws UsageError without NODENAME. */
export function readSettings(env: NodeJS.ProcessEnv, common: CommonOptions, log: Logger): CexSettings {
  const nodeName = env.NODENAME?.trim();
  if (!nodeName)
    throw new UsageError('NODENAME is required: set it to the node name (env fieldRef spec.nodeName)');
  const int = (spec: IntEnv) => clampedInt(spec, env[spec.name], log);
  const str = (name: string, fallback: string) => env[name]?.trim() || fallback;
  return {
    nodeName,
    configFile: str('CCS_JSON_FILE', DEFAULT_CONFIG_FILE),
    sysinfoFile: str('PROC_SYSINFO_FILE', DEFAULT_SYSINFO_FILE),
    apBusDir: str('APSYSFS_BUSDIR', path.join(common.sysfsRoot, 'bus', 'ap')),
    apDevsDir: str('APSYSFS_DEVSDIR', path.join(common.sysfsRoot, 'devices', 'ap')),
    zcryptClassDir: str('ZCRYPT_CLASSDIR', path.join(common.sysfsRoot, 'class', 'zcrypt')),
    devfsRoot: common.devfsRoot,
    shadowBaseDir: str(CEX_SHADOW_SYSFS_DIR.env, DEFAULT_SHADOW_BASE_DIR),
    podResourcesSocket: common.podResourcesSocket,
    apqnCheckIntervalMs: int(INT_ENV.apqnCheckInterval) * 1000,
    configCheckIntervalMs: int(INT_ENV.configCheckInterval) * 1000,
    podListerPollMs: int(INT_ENV.podListerPoll) * 1000,
    deleteNeverUsedMs: int(INT_ENV.deleteNeverUsed) * 1000,
    deleteUnusedMs: int(INT_ENV.deleteUnused) * 1000,
    overcommitLimit: int(INT_ENV.overcommitLimit),
    liveSysfs: int(INT_ENV.liveSysfs) === 1,
  };
}

/** Upstream's getenvint: unset → default, not an integer → default, out of range → nearest bound. */
export function clampedInt(spec: IntEnv, raw: string | undefined, log: Logger): number {
  if (raw === undefined || raw.trim() === '') return spec.default;
  if (!/^[-+]?\d+$/.test(raw.trim())) {
    log.warn(`${spec.name} is not an integer; using the default`, { value: raw, used: spec.default });
    return spec.default;
  }
  const value = Number(raw);
  const used = Math.min(spec.max, Math.max(spec.min, value));
  if (used !== value)
    log.warn(`${spec.name} is out of range ${spec.min}-${spec.max}; clamped`, { value, used });
  return used;
}
