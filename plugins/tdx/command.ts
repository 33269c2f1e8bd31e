/** `kube-device-plugins tdx`: the TDX guest device and the CCNP socket directory for pods. */
import * as fs from 'fs';
import * as path from 'path';
import type { PluginCommand } from '../cli/command';
import { draFlags } from '../cli/dra';
import { UsageError } from '../cli/flags';
import { checkedResourceName, resourceNameFlag, SHARED_COUNT_FLAG } from '../device-nodes';
import { DEFAULT_UDS_DIR, ensureUdsDir, tsmReportDir, UDS_DIR_MODE } from './ccnp';
import {
  createTdxResource,
  DEFAULT_TDX_RESOURCE,
  DEPRECATED_TDX_NODE,
  findTdxNode,
  onlyDeprecatedNode,
  TDX_NODES,
  UdsResource,
} from './plugin';

export const command: PluginCommand = {
  name: 'tdx',
  summary:
    'Advertises the TDX guest device (<devfs-root>/tdx_guest or tdx-guest) as --shared-count interchangeable ' +
    'devices; Allocate returns the node (rw) and a read-write mount of the CCNP socket directory. ' +
    "With --mode dra: one device `tdx-guest` in the node's ResourceSlice (attributes interface, version) " +
    'that many claims may hold at once.',
  dra: true,
  flags: [
    resourceNameFlag('TDX_RESOURCE_NAME', DEFAULT_TDX_RESOURCE),
    SHARED_COUNT_FLAG,
    {
      name: 'uds-dir',
      env: 'UDS_DIR',
      type: 'string',
      default: DEFAULT_UDS_DIR,
      help: `host directory of the CCNP sockets, mounted read-write at ${DEFAULT_UDS_DIR} (created mode 0${UDS_DIR_MODE.toString(8)} when missing)`,
    },
    {
      name: 'uds-resource-name',
      env: 'UDS_RESOURCE_NAME',
      type: 'string',
      default: '',
      help: 'also offer the socket directory alone as this resource, e.g. tdx.intel.com/ccnp-uds (off when empty)',
    },
    {
      name: 'tsm-report',
      env: 'TSM_REPORT',
      type: 'bool',
      default: false,
      help: 'also mount <sysfs-root>/kernel/config/tsm/report read-write at /sys/kernel/config/tsm/report',
    },
    ...draFlags('tdx'),
  ],
  async run(ctx) {
    const { devfsRoot, sysfsRoot } = ctx.common;
    const resourceName = checkedResourceName(ctx.options.resourceName, 'resource-name');
    const udsResourceName = ctx.options.udsResourceName
      ? checkedResourceName(ctx.options.udsResourceName, 'uds-resource-name')
      : undefined;
    const shareCount = ctx.options.sharedCount as number;
    const udsDir = String(ctx.options.udsDir);
    const tsmReport = ctx.options.tsmReport === true;
    if (udsResourceName === resourceName)
      throw new UsageError('--uds-resource-name must differ from --resource-name');
    if (udsResourceName && `${udsResourceName.split('/')[1]}-${shareCount - 1}`.length > 63)
      throw new UsageError(
        `--uds-resource-name ${udsResourceName} is too long to make device IDs of at most 63 characters`,
      );
    if (!path.isAbsolute(udsDir)) throw new UsageError(`--uds-dir must be an absolute path, got "${udsDir}"`);

    if (onlyDeprecatedNode(devfsRoot)) {
      throw new Error(
        `only the deprecated TDX guest interface ${path.join(devfsRoot, DEPRECATED_TDX_NODE)} is present; ` +
          `this plugin needs ${TDX_NODES.map((n) => path.join(devfsRoot, n)).join(' or ')} (a kernel with the tdx_guest driver)`,
      );
    }
    const log = ctx.log.with({ resource: resourceName });
    if (!findTdxNode(devfsRoot)) {
      log.warn('no TDX guest device yet; advertising no devices until it appears', {
        lookedFor: TDX_NODES.map((n) => path.join(devfsRoot, n)),
      });
    }
    try {
      if (ensureUdsDir(udsDir)) log.info('created the CCNP socket directory', { dir: udsDir, mode: '0757' });
    } catch (err) {
      throw new UsageError(`invalid value for --uds-dir: ${(err as Error).message}`);
    }
    const mode = fs.statSync(udsDir).mode & 0o7777;
    if ((mode & 0o002) === 0) {
      // e.g. created 0755 by a DirectoryOrCreate hostPath volume before we ran: we leave an existing dir alone.
      log.warn(
        'the CCNP socket directory is not world-writable; CCNP clients that do not run as its owner cannot create sockets',
        {
          dir: udsDir,
          mode: `0${mode.toString(8)}`,
        },
      );
    }
    if (tsmReport && !fs.existsSync(tsmReportDir(sysfsRoot))) {
      log.warn(
        '--tsm-report is on but the configfs-tsm report directory is missing; allocations will fail until it exists',
        {
          dir: tsmReportDir(sysfsRoot),
        },
      );
    }

    const sharing = ctx.mode === 'dra' ? 'allocations' : 'ids';
    await ctx.resources.addResource(
      createTdxResource({
        resourceName,
        devfsRoot,
        sysfsRoot,
        shareCount,
        udsDir,
        mountUds: udsResourceName === undefined,
        tsmReport,
        log,
        sharing,
      }),
    );
    if (udsResourceName) {
      const udsLog = ctx.log.with({ resource: udsResourceName });
      await ctx.resources.addResource(new UdsResource(udsResourceName, udsDir, shareCount, udsLog, sharing));
    }
  },
};
