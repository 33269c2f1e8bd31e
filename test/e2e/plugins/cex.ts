/**
 * CEX on the demo's fake IBM Z host (fixtures/cex/host.json) with its crypto config sets
 * (fixtures/cex/cex_resources.json: `ep11-prod`, 3 APQNs × overcommit 2, live sysfs; `cca-test`), the
 * zcrypt kernel side emulated in this process. Configured by environment variables as the DaemonSet
 * does, with the shortest intervals the plugin accepts. Run options per docs/plugins/cex.md; its own
 * check is clean-up driven by the harness's real PodResources server.
 */
import * as fs from 'fs';
import * as path from 'path';
import { FakeIbmZ, type FakeCard, type FakeMachine } from '../../../simulator/devices/cex/fake-ibmz';
import { ZcryptEmulator } from '../../../simulator/devices/cex/zcrypt-emulator';
import { parseDeviceId, queueDirName, shadowDirName, zcryptNodeName } from '../../../plugins/cex/ids';
import { fixturesDir } from '../../../simulator/devices/device-nodes';
import { options, type PluginScenario, type ScenarioContext } from '../scenario';

const SET = 'ep11-prod';
const RESOURCE = `cex.s390.ibm.com/${SET}`;
/** The plugin's minimum clean-up timings (seconds): poll every 10 s, destroy after 30 s unused. */
const POLL_S = 10;
const UNUSED_S = 30;

export const cex: PluginScenario = {
  name: 'cex',
  unavailable: ZcryptEmulator.unavailable,
  setup(root) {
    const fixtures = path.join(fixturesDir(), 'cex');
    const spec = JSON.parse(fs.readFileSync(path.join(fixtures, 'host.json'), 'utf8')) as {
      machine: FakeMachine;
      cards: FakeCard[];
    };
    const host = FakeIbmZ.create(path.join(root, 'ibmz'), spec.cards, spec.machine);
    host.writeConfig(fs.readFileSync(path.join(fixtures, 'cex_resources.json'), 'utf8'));
    const emulator = ZcryptEmulator.forHost(host.paths);
    emulator.start();
    const p = host.paths;
    return {
      args: [`--sysfs-root=${p.sysfsRoot}`, `--devfs-root=${p.devfsRoot}`],
      env: {
        NODENAME: 'e2e-node',
        CCS_JSON_FILE: p.configFile,
        PROC_SYSINFO_FILE: p.sysinfoFile,
        SHADOWSYSFS_BASEDIR: p.shadowBaseDir,
        APQN_CHECK_INTERVAL: '10',
        PODLISTER_POLL_INTERVAL: String(POLL_S),
        RESOURCE_DELETE_UNUSED: String(UNUSED_S),
        RESOURCE_DELETE_NEVER_USED: String(UNUSED_S),
      },
      resources: [RESOURCE, 'cex.s390.ibm.com/cca-test'],
      resource: RESOURCE,
      namespace: 'payments', // the set's project
      devices: 6,
      // docs/plugins/cex.md, Allocate: its own zcrypt node as /dev/z90crypt, the shadow sysfs read-only,
      // and (live sysfs, the default for this set) the host's queue dir over the shadow one.
      expectOptions: ([id]) => {
        const ref = parseDeviceId(id)!;
        const shadow = path.join(p.shadowBaseDir, shadowDirName(id));
        return options({
          devices: [
            {
              containerPath: '/dev/z90crypt',
              hostPath: path.join(p.devfsRoot, zcryptNodeName(id)),
              permissions: 'rw',
            },
          ],
          mounts: [
            { containerPath: '/sys/bus/ap', hostPath: path.join(shadow, 'bus', 'ap'), readOnly: true },
            {
              containerPath: '/sys/devices/ap',
              hostPath: path.join(shadow, 'devices', 'ap'),
              readOnly: true,
            },
            {
              containerPath: `/sys/bus/ap/devices/${queueDirName(ref.adapter, ref.domain)}`,
              hostPath: path.join(shadow, 'tmp_bus'),
              readOnly: true,
            },
          ],
        });
      },
      // APQN 00.0005 goes offline: its two devices turn Unhealthy at the next APQN check (≤ 10 s).
      breakDevice: () => (host.setOnline(0, 5, false), 2),
      repairDevice: () => host.setOnline(0, 5, true),
      extraChecks: (ctx) => cleanup(ctx, p.zcryptClassDir),
      cleanup: () => emulator.stop(),
    };
  },
};

async function cleanup(ctx: ScenarioContext, classDir: string): Promise<void> {
  await ctx.check(
    'CEX clean-up follows the kubelet’s PodResources: nodes of pods gone are destroyed, held ones kept',
    async () => {
      const exists = (id: string) => fs.existsSync(path.join(classDir, zcryptNodeName(id)));
      const state = await ctx.kubelet.state();
      const held = Object.values(state.pods?.p1 ?? {}).flatMap((c) => c[RESOURCE] ?? []);
      if (held.length === 0 || !held.every(exists))
        throw new Error(`p1 holds ${held}; their zcrypt nodes must exist`);
      const [c] = await ctx.admit(ctx.pod('short-lived', 1));
      const [gone] = c.devices[RESOURCE] ?? [];
      if (!gone || !exists(gone))
        throw new Error(`short-lived got ${gone}, whose zcrypt node does not exist`);
      const removedAt = Date.now();
      await ctx.kubelet.remove('short-lived');
      const limitMs = (UNUSED_S + 3 * POLL_S) * 1000;
      while (exists(gone)) {
        if (Date.now() - removedAt > limitMs)
          throw new Error(`the zcrypt node of ${gone} still exists ${limitMs} ms after its pod went`);
        await new Promise((r) => setTimeout(r, 250));
      }
      const destroyedMs = Date.now() - removedAt;
      // p1's nodes are far older than RESOURCE_DELETE_NEVER_USED by now: only PodResources keeps them.
      const lost = held.filter((id) => !exists(id));
      if (lost.length > 0) throw new Error(`zcrypt nodes of ${lost}, still held by p1, were destroyed`);
      return `${gone} destroyed ${Math.round(destroyedMs / 1000)} s after its pod went; p1's ${held.join(', ')} kept`;
    },
  );
}
