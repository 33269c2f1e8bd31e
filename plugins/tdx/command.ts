/** `kube-device-plugins tdx`: the TDX guest device and the CCNP socket directory for pods. */
import * as fs from 'fs';
import * as path from 'path';
import { TDX_SETTINGS } from '../catalogue/tdx';
import { definePlugin, draFlags, UsageError } from '../framework';
import { checkedResourceName } from '../device-nodes';
import { ensureUdsDir, tsmReportDir } from './ccnp';
import {
  createTdxResource,
  DEPRECATED_TDX_NODE,
  findTdxNode,
  onlyDeprecatedNode,
  TDX_NODES,
  UdsResource,
} from './plugin';

export const command = definePlugin({
  name: 'tdx',
  summary:
    'Advertises the TDX guest device (<devfs-root>/tdx_guest or tdx-guest) as --shared-count interchangeable ' +
    'devices; Allocate returns the node (rw) and a read-write mount of the CCNP socket directory. ' +
    "With --mode dra: one device `tdx-guest` in the node's ResourceSlice (attributes interface, version) " +
    'that many claims may hold at once.',
  dra: true,
  flags: [...TDX_SETTINGS, ...draFlags('tdx')],
  async run(ctx) {
    const { devfsRoot, sysfsRoot } = ctx.common;
    const resourceName = checkedResourceName(ctx.options.resourceName, 'resource-name');
    const udsResourceName = ctx.options.udsResourceName
      ? checkedResourceName(ctx.options.udsResourceName, 'uds-resource-name')
      : undefined;
    const shareCount = ctx.options.sharedCount;
    const udsDir = ctx.options.udsDir;
    const tsmReport = ctx.options.tsmReport;
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
});
