/**
 * `kube-device-plugins cxi`: HPE Slingshot (Cassini) NICs as one extended resource
 * (default `beta.hpe.com/cxi`).
 */
import * as fs from 'fs';
import * as path from 'path';
import { definePlugin } from '../framework';
import { CXI_CDI_FILE } from './cdi-spec';
import { CXI_FLAGS, requireDirectory, requireResourceName } from './config';
import { CxiPlugin } from './plugin';

export const command = definePlugin({
  name: 'cxi',
  summary:
    'HPE Slingshot (Cassini) NICs: discovers /sys/class/cxi NICs of vendor 0x17db, offers their NIC numbers ' +
    '(or k virtual IDs each), checks /dev/cxiN health, and hands out /dev/cxiN, /dev/xpmem, the ' +
    'libcxi/libfabric files and LD_LIBRARY_PATH (or hpe.com/cxi CDI names with --cdi).',
  flags: CXI_FLAGS,
  async run(ctx) {
    const { common, options, log } = ctx;
    const { resourceName, ofiRoot, cxiRoot } = options;
    requireResourceName(resourceName);
    requireDirectory(common.sysfsRoot, 'sysfs-root', 'SYSFS_ROOT');
    requireDirectory(common.devfsRoot, 'devfs-root', 'DEVFS_ROOT');
    requireDirectory(ofiRoot, 'ofi-root', 'OFI_ROOT');
    requireDirectory(cxiRoot, 'cxi-root', 'CXI_ROOT');
    const cdi = options.cdi;
    const specFile = path.join(common.cdiDir, CXI_CDI_FILE);
    if (cdi && !fs.existsSync(specFile))
      log.warn(
        'CDI mode, but the CXI CDI spec does not exist yet: Allocate fails until cxi-cdi-generator writes it',
        {
          file: specFile,
        },
      );
    const plugin = new CxiPlugin({
      resourceName,
      sysfsRoot: common.sysfsRoot,
      devfsRoot: common.devfsRoot,
      ofiRoot,
      cxiRoot,
      virtualDevices: options.virtualDevices,
      cdiDir: cdi ? common.cdiDir : undefined,
      rescanIntervalMs: options.rescanInterval,
      healthIntervalMs: options.healthInterval,
      log: log.with({ resource: resourceName }),
    });
    log.info('starting CXI plugin', {
      resource: resourceName,
      sysfsRoot: common.sysfsRoot,
      devfsRoot: common.devfsRoot,
      ofiRoot,
      cxiRoot,
      virtualDevices: options.virtualDevices,
      cdi,
      ...(cdi ? { cdiSpec: specFile } : {}),
    });
    await ctx.manager.addResource(plugin);
  },
});
