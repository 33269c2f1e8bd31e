/**
 * CXI on the default fixture node (simulator/devices/cxi.ts: NICs 0 and 1 on NUMA node 0, 2 and 10 on
 * NUMA node 1). Run options per docs/plugins/cxi.md (direct mode); then the topology checks: under the
 * `none` and `single-numa-node` policies on the harness's two fake NUMA nodes, the kubelet asks
 * GetPreferredAllocation when it has a choice and the NICs it hands out are NUMA-aligned.
 */
import * as fs from 'fs';
import * as path from 'path';
import {
  buildCxiFixture,
  deviceNodesUnavailable,
  makeCharDevice,
  type CxiFixture,
} from '../../../simulator/devices/cxi';
import { PREFERRED_MSG } from '../kubelet';
import { options, type PluginScenario, type ScenarioContext } from '../scenario';

const RESOURCE = 'beta.hpe.com/cxi';

/** The fixture's libcxi and libfabric files (regular files and links to them), mounted read-only. */
function libraries(fx: CxiFixture): string[] {
  return [
    ...['libcxi.so', 'libcxi.so.1', 'libcxi.so.1.5.0'].map((f) => path.join(fx.cxiRoot, f)),
    ...['libfabric.so', 'libfabric.so.1', 'libfabric.so.1.22.0'].map((f) => path.join(fx.ofiRoot, f)),
  ];
}

export const cxi: PluginScenario = {
  name: 'cxi',
  unavailable: deviceNodesUnavailable,
  setup(root) {
    const fx = buildCxiFixture(root);
    const node = (n: string) => path.join(fx.devfsRoot, `cxi${n}`);
    return {
      args: [
        `--sysfs-root=${fx.sysfsRoot}`,
        `--devfs-root=${fx.devfsRoot}`,
        `--ofi-root=${fx.ofiRoot}`,
        `--cxi-root=${fx.cxiRoot}`,
        `--cdi-dir=${fx.cdiDir}`,
      ],
      resources: [RESOURCE],
      resource: RESOURCE,
      devices: 4,
      expectOptions: (ids) =>
        options({
          devices: [
            ...ids.map((n) => ({ containerPath: `/dev/cxi${n}`, hostPath: node(n), permissions: 'rw' })),
            { containerPath: '/dev/xpmem', hostPath: path.join(fx.devfsRoot, 'xpmem'), permissions: 'rw' },
          ],
          mounts: libraries(fx).map((lib) => ({ containerPath: lib, hostPath: lib, readOnly: true })),
          envs: { LD_LIBRARY_PATH: `${fx.ofiRoot}:${fx.cxiRoot}` },
        }),
      // The plugin's devfs watch sees /dev/cxi2 go: NIC 2 turns Unhealthy.
      breakDevice: () => (fs.rmSync(node('2')), 1),
      repairDevice: () => makeCharDevice(node('2')),
      extraChecks: topologyChecks,
      cleanup: () => undefined,
    };
  },
};

/** NUMA node of each NIC as the kubelet knows it (from the plugin's ListAndWatch topology). */
async function numaOf(ctx: ScenarioContext): Promise<Record<string, number | undefined>> {
  const state = await ctx.kubelet.state();
  const out: Record<string, number | undefined> = {};
  for (const [id, dev] of Object.entries(state.healthyDevices?.[RESOURCE] ?? {})) out[id] = dev.numa?.[0];
  return out;
}

/** Admit a one-container pod asking for `count` NICs; its NICs, their NUMA nodes and whether the kubelet asked. */
async function admitNics(ctx: ScenarioContext, name: string, count: number) {
  const since = Date.now();
  const [c] = await ctx.admit({ name, containers: [{ name: 'c0', resources: { [RESOURCE]: count } }] });
  const nics = c.devices[RESOURCE] ?? [];
  const numa = await numaOf(ctx);
  const asked = ctx.kubelet.find(
    (l) => l.msg === PREFERRED_MSG && (l.kv?.podUID ?? '').endsWith(`-${name}`),
    since,
  );
  return { container: c, nics, nodes: [...new Set(nics.map((n) => numa[n]))], asked: asked.length };
}

async function topologyChecks(ctx: ScenarioContext): Promise<void> {
  const { kubelet } = ctx;
  await kubelet.remove('p1'); // every NIC free again

  await ctx.check(
    'CXI, topology policy none: GetPreferredAllocation is asked and NICs come NUMA-aligned',
    async () => {
      const a = await admitNics(ctx, 'numa-a', 2);
      const b = await admitNics(ctx, 'numa-b', 2);
      await kubelet.remove('numa-a');
      await kubelet.remove('numa-b');
      const summary = `numa-a ${a.nics} (NUMA ${a.nodes}), numa-b ${b.nics} (NUMA ${b.nodes})`;
      if (a.asked === 0)
        throw new Error(`the kubelet did not call GetPreferredAllocation for numa-a; ${summary}`);
      if (a.nodes.length !== 1 || b.nodes.length !== 1 || a.nodes[0] === b.nodes[0])
        throw new Error(`expected each pod's 2 NICs on one NUMA node, different nodes: ${summary}`);
      return summary;
    },
  );

  await ctx.check(
    'CXI, topology policy single-numa-node: aligned hints, preferred NICs, unalignable pod refused',
    async () => {
      ctx.policy = 'single-numa-node';
      await ctx.restartKubelet(0);
      const one = await admitNics(ctx, 'snn-1', 1);
      if (one.asked === 0)
        throw new Error('no GetPreferredAllocation call for snn-1 (2 aligned NICs to choose from)');
      if (one.container.numaAffinity?.length !== 1 || !one.container.preferred)
        throw new Error(`snn-1 affinity ${one.container.numaAffinity} preferred=${one.container.preferred}`);
      if (one.nodes[0] !== one.container.numaAffinity[0])
        throw new Error(
          `snn-1 got NIC ${one.nics} on NUMA ${one.nodes}, affinity ${one.container.numaAffinity}`,
        );
      const two = await admitNics(ctx, 'snn-2', 2);
      if (two.nodes.length !== 1 || two.nodes[0] === one.nodes[0])
        throw new Error(
          `snn-2 got ${two.nics} on NUMA ${two.nodes}; the only node with 2 free NICs is the other one`,
        );
      await kubelet.remove('snn-2');
      // 3 NICs are free (1 + 2) but no NUMA node has 3: single-numa-node must refuse.
      const refused = await kubelet.admit({
        name: 'snn-3',
        containers: [{ name: 'c0', resources: { [RESOURCE]: 3 } }],
      });
      if (refused.admitted) throw new Error('snn-3 (3 NICs, at most 2 per NUMA node) was admitted');
      await kubelet.remove('snn-1');
      return `snn-1 ${one.nics} on NUMA ${one.nodes}; snn-2 ${two.nics} on NUMA ${two.nodes}; snn-3 refused: ${refused.reason}`;
    },
  );
}
