/**
 * netdevice in the demo: a veth pair made for the occasion (with an IPv4 and an IPv6 address, up), the
 * plugin offering its host end, and the sample allocation handing it out as a CDI name. The pair is
 * removed when the scenario stops.
 */
import * as path from 'path';
import { startPlugin } from '../../plugins/cli/command';
import { readCdiSpec } from '../../plugins/framework';
import { command } from '../../plugins/netdevice/command';
import { createVethPair, ipSync, vethUnavailable } from '../../simulator/devices/netdevice';
import type { DemoScenario } from '../scenario';

export const scenario: DemoScenario = {
  name: 'netdevice',
  resources: ['networking.k8s.io/netdevice'],
  unavailable: vethUnavailable,
  async start(ctx) {
    const veth = createVethPair('kdpd');
    try {
      ipSync('addr', 'add', '198.51.100.10/24', 'dev', veth.host);
      ipSync('addr', 'add', '2001:db8:100::10/64', 'dev', veth.host, 'nodad');
      ipSync('link', 'set', veth.host, 'up');
      console.log(`  veth pair ${veth.host}/${veth.peer} created; offering ${veth.host}`);
      const cdiDir = path.join(ctx.workDir, 'cdi');
      const running = await startPlugin(
        command,
        [
          `--device-plugin-dir=${ctx.devicePluginDir}`,
          `--pod-resources-socket=${ctx.podResourcesSocket}`,
          `--cdi-dir=${cdiDir}`,
          `--interfaces=^${veth.host}$`,
          // The default hooks mode names the hook program; on a node the init container installs it.
          `--hook-dir=${path.join(ctx.repoRoot, 'plugins', 'netdevice', 'hooks')}`,
          '--log-level=warn',
        ],
        { env: {} },
      );
      const spec = readCdiSpec(path.join(cdiDir, 'networking.k8s.io-netdevice.yaml'));
      console.log(
        `  CDI spec ${spec?.kind} v${spec?.cdiVersion}: ` +
          (spec?.devices ?? []).map((d) => `${d.name} ${JSON.stringify(d.containerEdits)}`).join('; '),
      );
      return {
        async stop() {
          await running.stop();
          veth.remove();
          console.log(`  veth pair ${veth.host}/${veth.peer} removed`);
        },
      };
    } catch (err) {
      veth.remove();
      throw err;
    }
  },
};
