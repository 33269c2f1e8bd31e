/**
 * Clean-up of zcrypt nodes and shadow dirs driven by the kubelet's PodResources API (served by the
 * simulator), with intervals shortened through the plugin's settings: poll 100 ms, unused 300 ms,
 * never used 1 s.
 */
import * as fs from 'fs';
import * as path from 'path';
import { eventually, sleep } from '../../helpers/tmp';
import { BLUE, CexHarness, rootTest, withCex } from './harness';

const settings = { podListerPollMs: 100, deleteUnusedMs: 300, deleteNeverUsedMs: 1000 };
const pod = (name: string, namespace = 'blue-ns') => ({ pod: name, namespace, container: 'main' });

function exists(h: CexHarness, id: string): { node: boolean; shadow: boolean } {
  return {
    node: fs.existsSync(path.join(h.host.paths.devfsRoot, `zcrypt-${id}`)),
    shadow: fs.existsSync(path.join(h.host.paths.shadowBaseDir, `sysfs-${id}`)),
  };
}

const gone = (h: CexHarness, id: string) => () => {
  const e = exists(h, id);
  return !e.node && !e.shadow;
};

describe('CEX clean-up', () => {
  rootTest('a node no pod ever used lives RESOURCE_DELETE_NEVER_USED, not RESOURCE_DELETE_UNUSED', () =>
    withCex({ settings }, async (h) => {
      await h.kubelet.waitForRegistration(BLUE);
      await h.kubelet.allocate(BLUE, [['apqn-0-6-0']]);
      await sleep(600); // twice the unused timeout, well inside the never-used one
      expect(exists(h, 'apqn-0-6-0')).toEqual({ node: true, shadow: true });
      await eventually(gone(h, 'apqn-0-6-0'), 5000, 'never-used node destroyed');
      expect(h.emulator.destroyed).toEqual(['zcrypt-apqn-0-6-0']);
      expect(h.logged('destroyed zcrypt node and shadow sysfs that no pod ever used')[0]).toMatchObject({
        deviceId: 'apqn-0-6-0',
        node: 'zcrypt-apqn-0-6-0',
      });
      expect(await h.manager.metrics.registry.getSingleMetricAsString('kdp_cex_cleanups_total')).toContain(
        'kdp_cex_cleanups_total{node="node-a",reason="never_used"} 1',
      );
    }),
  );

  rootTest('a node in use survives; once its pod is gone it is destroyed after RESOURCE_DELETE_UNUSED', () =>
    withCex({ settings }, async (h) => {
      await h.kubelet.waitForRegistration(BLUE);
      await h.kubelet.allocate(BLUE, [['apqn-0-7-0']], pod('p1'));
      await sleep(1500); // past the never-used timeout: in use, so kept
      expect(exists(h, 'apqn-0-7-0')).toEqual({ node: true, shadow: true });
      h.kubelet.removePod('p1', 'blue-ns');
      await eventually(gone(h, 'apqn-0-7-0'), 5000, 'unused node destroyed');
      expect(h.logged('destroyed zcrypt node and shadow sysfs no longer used by any pod')).toHaveLength(1);
    }),
  );

  rootTest(
    'after a restart, existing nodes and dirs are rediscovered: in use kept, leftovers cleaned',
    async () => {
      const h = new CexHarness({ settings });
      try {
        await h.start();
        await h.kubelet.waitForRegistration(BLUE);
        await h.kubelet.allocate(BLUE, [['apqn-0-6-0']], pod('p1'));
        await h.kubelet.allocate(BLUE, [['apqn-0-7-0']]);
        await h.stopPlugin();
        // Stopping leaves them: containers still use them.
        expect(exists(h, 'apqn-0-6-0')).toEqual({ node: true, shadow: true });

        await h.startPlugin();
        expect(
          h.logged('rediscovered zcrypt nodes / shadow sysfs dirs from an earlier run')[0].deviceIds,
        ).toEqual(['apqn-0-6-0', 'apqn-0-7-0']);
        await eventually(gone(h, 'apqn-0-7-0'), 5000, 'leftover destroyed');
        expect(exists(h, 'apqn-0-6-0')).toEqual({ node: true, shadow: true });
        h.kubelet.removePod('p1', 'blue-ns');
        await eventually(gone(h, 'apqn-0-6-0'), 5000, 'released node destroyed');
      } finally {
        await h.stop();
      }
    },
  );

  rootTest('without a PodResources answer nothing is destroyed, and the failure is logged once', () =>
    withCex(
      { settings, podResources: { list: () => Promise.reject(new Error('connection refused')) } },
      async (h) => {
        await h.kubelet.waitForRegistration(BLUE);
        await h.kubelet.allocate(BLUE, [['apqn-0-6-0']]);
        await sleep(1500);
        expect(exists(h, 'apqn-0-6-0')).toEqual({ node: true, shadow: true });
        const msg = 'cannot list pod resources from the kubelet; clean-up postponed';
        expect(h.logged(msg, 'warn')).toEqual([expect.objectContaining({ error: 'connection refused' })]);
        expect(h.logged(msg, 'debug').length).toBeGreaterThan(1);
      },
    ),
  );

  rootTest("a pod outside the set's project is warned about once and counted", () =>
    withCex({ settings }, async (h) => {
      await h.kubelet.waitForRegistration(BLUE);
      await h.kubelet.allocate(BLUE, [['apqn-0-6-0']], pod('spy', 'intruder'));
      const msg = /a container outside the set's project namespace uses a CEX device/;
      await eventually(() => h.logged(msg).length > 0, 3000, 'project warning');
      await sleep(300);
      expect(h.logged(msg)).toEqual([
        expect.objectContaining({
          level: 'warn',
          resource: BLUE,
          project: 'blue-ns',
          namespace: 'intruder',
          pod: 'spy',
          container: 'main',
          deviceId: 'apqn-0-6-0',
        }),
      ]);
      const metrics = await h.manager.metrics.registry.metrics();
      expect(metrics).toContain('kdp_cex_set_project_violations{set="blue",node="node-a"} 1');
    }),
  );

  rootTest('nodes and dirs that are not ours are never touched', () =>
    withCex({ settings }, async (h) => {
      await h.kubelet.waitForRegistration(BLUE);
      fs.writeFileSync(`${h.host.paths.zcryptClassDir}/create`, 'zcrypt-mine\n');
      fs.mkdirSync(path.join(h.host.paths.shadowBaseDir, 'something-else'));
      await eventually(() => fs.existsSync(path.join(h.host.paths.devfsRoot, 'zcrypt-mine')), 3000, 'node');
      await sleep(1500);
      expect(h.emulator.destroyed).toEqual([]);
      expect(fs.existsSync(path.join(h.host.paths.shadowBaseDir, 'something-else'))).toBe(true);
    }),
  );
});
