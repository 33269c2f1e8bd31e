/**
 * `kube-device-plugins cex`: IBM Z CryptoExpress (CEX) crypto config sets as extended resources
 * `cex.s390.ibm.com/<setname>`. Configured by environment variables, as upstream's
 * k8s-cex-dev-plugin; see docs/plugins/cex.md.
 */
import { type PluginCommand } from '../framework';
import { CexPlugin } from './plugin';
import { CEX_ENV, readSettings } from './settings';

export const command: PluginCommand = {
  name: 'cex',
  summary:
    'IBM Z CryptoExpress (CEX) device plugin: one resource cex.s390.ibm.com/<setname> per crypto config set ' +
    '(CCS_JSON_FILE); each container gets its own zcrypt node as /dev/z90crypt and a shadow AP sysfs.',
  flags: [],
  env: CEX_ENV,
  async run(ctx) {
    const log = ctx.log;
    const settings = readSettings(ctx.env, ctx.common, log);
    const cex = new CexPlugin(settings, { manager: ctx.manager, log });
    ctx.onShutdown(() => cex.stop());
    await cex.start();
  },
};
