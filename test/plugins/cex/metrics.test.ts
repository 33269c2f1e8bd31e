/** CEX figures on the plugin's own metrics registry (what /metrics serves). */
import { eventually } from '../../helpers/tmp';
import { BLUE, RED, rootTest, withCex } from './harness';

describe('CEX metrics', () => {
  rootTest('devices available and used, request counters, per set and for the node', () =>
    withCex({}, async (h) => {
      await h.kubelet.waitForRegistration(BLUE);
      await h.kubelet.waitForRegistration(RED);
      h.host.setRequestCount(0, 6, 100);
      h.host.setRequestCount(0, 7, 23);
      h.host.setRequestCount(1, 6, 5);
      h.host.setRequestCount(10, 31, 999); // in no set
      h.host.setOnline(0, 7, false);
      await h.kubelet.waitFor(() => h.kubelet.allocatable(BLUE) === 1, 5000, 'offline APQN');
      await h.kubelet.allocate(RED, [['apqn-1-6-1']], { pod: 'p', namespace: 'red-ns', container: 'c' });
      const registry = h.manager.metrics.registry;
      await eventually(
        async () => (await registry.metrics()).includes('kdp_cex_devices_used{node="node-a"} 1'),
        3000,
        'used device counted',
      );
      const text = await registry.metrics();
      for (const line of [
        'kdp_cex_set_devices_available{set="blue",node="node-a"} 1',
        'kdp_cex_set_devices_available{set="red",node="node-a"} 2',
        'kdp_cex_set_devices_used{set="blue",node="node-a"} 0',
        'kdp_cex_set_devices_used{set="red",node="node-a"} 1',
        'kdp_cex_set_requests_total{set="blue",node="node-a"} 123',
        'kdp_cex_set_requests_total{set="red",node="node-a"} 5',
        'kdp_cex_devices_available{node="node-a"} 3',
        'kdp_cex_requests_total{node="node-a"} 128',
        'kdp_cex_zcrypt_nodes_created_total{node="node-a"} 1',
        '# TYPE kdp_cex_requests_total counter',
      ])
        expect(text).toContain(line);
    }),
  );

  test('a withdrawn set leaves the metrics; reloads are counted by result', () =>
    withCex({}, async (h) => {
      await h.kubelet.waitForRegistration(RED);
      h.host.writeConfig('{');
      h.host.writeConfig({ cryptoconfigsets: [] });
      await eventually(() => h.manager.resources().length === 0, 3000, 'sets withdrawn');
      const text = await h.manager.metrics.registry.metrics();
      expect(text).not.toContain('set="red"');
      expect(text).toContain('kdp_cex_devices_available{node="node-a"} 0');
      expect(text).toMatch(/kdp_cex_config_reloads_total\{node="node-a",result="applied"\} 1/);
    }));
});
