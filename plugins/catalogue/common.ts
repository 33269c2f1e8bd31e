/**
 * The flags every plugin accepts, and the defaults they name. Catalogue data: the framework's plugin contract
 * re-exports them, and the chart takes `logLevel` and `logFormat` (values.yaml, schema, DaemonSet args) from
 * here. Every path a plugin reads is under one of these roots.
 */
import type { FlagSpec } from './setting';

export const LOG_LEVELS = ['debug', 'info', 'warn', 'error'] as const;
export const LOG_FORMATS = ['json', 'text'] as const;

export const DEFAULT_DEVICE_PLUGIN_DIR = '/var/lib/kubelet/device-plugins';
export const DEFAULT_POD_RESOURCES_SOCKET = '/var/lib/kubelet/pod-resources/kubelet.sock';
/** Where CDI specs are written unless --cdi-dir says otherwise (a spec dir the runtimes read by default). */
export const DEFAULT_CDI_DIR = '/var/run/cdi';

/** Flags every plugin accepts. Every path a plugin reads is under one of these roots. */
export const COMMON_FLAGS = [
  {
    name: 'mode',
    env: 'PLUGIN_MODE',
    type: 'enum',
    choices: ['device-plugin', 'dra'],
    default: 'device-plugin',
    help: 'device-plugin (the kubelet device-plugin API), or dra: a DRA driver (kvm, tdx and devnode only)',
  },
  {
    name: 'device-plugin-dir',
    env: 'DEVICE_PLUGIN_DIR',
    type: 'string',
    default: DEFAULT_DEVICE_PLUGIN_DIR,
    help: 'kubelet device-plugin directory (kubelet.sock and our sockets)',
  },
  { name: 'sysfs-root', env: 'SYSFS_ROOT', type: 'string', default: '/sys', help: 'where sysfs is mounted' },
  { name: 'devfs-root', env: 'DEVFS_ROOT', type: 'string', default: '/dev', help: 'where device nodes are' },
  {
    name: 'cdi-dir',
    env: 'CDI_DIR',
    type: 'string',
    default: DEFAULT_CDI_DIR,
    help: 'directory CDI specs are written to',
  },
  {
    name: 'pod-resources-socket',
    env: 'POD_RESOURCES_SOCKET',
    type: 'string',
    default: DEFAULT_POD_RESOURCES_SOCKET,
    help: 'kubelet PodResources API socket',
  },
  {
    name: 'http-addr',
    env: 'HTTP_ADDR',
    type: 'string',
    default: '',
    help: 'listen address for /healthz, /readyz and /metrics, e.g. :8080 (off when empty)',
  },
  {
    name: 'log-level',
    env: 'LOG_LEVEL',
    type: 'enum',
    choices: LOG_LEVELS,
    default: 'info',
    help: 'least severe level logged',
    chart: { key: 'logLevel', help: 'Log level of every plugin' },
  },
  {
    name: 'log-format',
    env: 'LOG_FORMAT',
    type: 'enum',
    choices: LOG_FORMATS,
    default: 'json',
    help: 'log line format',
    chart: { key: 'logFormat', help: 'Log format of every plugin' },
  },
] as const satisfies readonly FlagSpec[];
