/**
 * netdevice on three real veth pairs (unique `kdt…` names, removed afterwards), offering the `a` ends.
 * Run options per docs/plugins/netdevice.md: only the CDI name. Its own check is the PodResources
 * bookkeeping against the harness's real PodResources server: an interface that leaves the host while
 * a pod holds it stays advertised, one no pod holds is withdrawn, and a holder that goes away without
 * returning its interface lets it be withdrawn too.
 */
import * as fs from 'fs';
import * as path from 'path';
import { vethUnavailable } from '../../../simulator/devices/netdevice';
import { ip, NetFixture } from '../../plugins/netdevice/net';
import { sleep } from '../../helpers/tmp';
import type { NodeState } from '../kubelet';
import { options, type PluginScenario, type ScenarioContext } from '../scenario';

const RESOURCE = 'networking.k8s.io/netdevice';

export const netdevice: PluginScenario = {
  name: 'netdevice',
  unavailable: vethUnavailable,
  setup(root) {
    const net = new NetFixture();
    const hosts = [net.veth(), net.veth(), net.veth()].map((v) => v.host);
    for (const host of hosts) ip('link', 'set', host, 'up');
    return {
      args: [`--interfaces=^${net.prefix}a`, `--cdi-dir=${path.join(root, 'cdi')}`, '--rescan-interval=1s'],
      resources: [RESOURCE],
      resource: RESOURCE,
      devices: hosts.length,
      expectOptions: (ids) => options({ cdiDevices: ids.map((id) => `${RESOURCE}=${id}`) }),
      // Administratively down = Unhealthy.
      breakDevice: () => (ip('link', 'set', hosts[2], 'down'), 1),
      repairDevice: () => ip('link', 'set', hosts[2], 'up'),
      extraChecks: (ctx) => bookkeeping(ctx, net, hosts),
      cleanup: () => net.cleanup(),
    };
  },
};

async function bookkeeping(ctx: ScenarioContext, net: NetFixture, hosts: string[]): Promise<void> {
  await ctx.check('netdevice bookkeeping through the kubelet’s PodResources server', async () => {
    const state = await ctx.kubelet.state();
    const held = state.pods?.p1?.c0?.[RESOURCE]?.[0];
    const free = hosts.find(
      (h) => !Object.values(state.pods?.p1 ?? {}).some((c) => c[RESOURCE]?.includes(h)),
    );
    if (!held || !free)
      throw new Error(`expected p1 to hold an interface and one to be free: ${JSON.stringify(state.pods)}`);
    const ns = net.netns();
    const ids = async () => Object.keys((await ctx.kubelet.state()).healthyDevices?.[RESOURCE] ?? {}).sort();

    // The runtime moves p1's interface into the pod: PodResources says p1 holds it, so it stays.
    ip('link', 'set', held, 'netns', ns);
    await sleep(2500); // more than two rescans (1 s) after the link event
    if (!(await ids()).includes(held))
      throw new Error(`${held} (held by p1, moved into a pod) was withdrawn`);

    // An interface no pod holds leaves the host: withdrawn.
    ip('link', 'set', free, 'netns', ns);
    const gone = (s: NodeState, link: string, capacity: number) =>
      s.capacity?.[RESOURCE] === capacity && !s.healthyDevices?.[RESOURCE]?.[link];
    await ctx.waitForState((s) => gone(s, free, hosts.length - 1), `${free} withdrawn`, 5000);

    // p1 is deleted and its interface never came back: withdrawn at the next rescan.
    await ctx.kubelet.remove('p1');
    await ctx.waitForState((s) => gone(s, held, hosts.length - 2), `${held} withdrawn after p1 went`, 5000);

    // Both return to the host and are offered again.
    for (const link of [held, free]) {
      ip('-n', ns, 'link', 'set', link, 'netns', '1');
      ip('link', 'set', link, 'up');
    }
    await ctx.waitForState(
      (s) => ctx.allocatable(s) === hosts.length,
      `all ${hosts.length} interfaces back`,
      5000,
    );
    const log = fs.readFileSync(path.join(ctx.logDir, 'netdevice.log'), 'utf8');
    if (!log.includes('still advertised while the pod holds it'))
      throw new Error('the plugin never logged that it kept an interface a pod holds');
    return `${held} kept while p1 held it in a pod, ${free} (free) withdrawn, ${held} withdrawn once p1 was gone, both back`;
  });
}
