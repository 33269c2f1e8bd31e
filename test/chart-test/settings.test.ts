/**
 * kdp-chart-test's settings and resource names (the checks themselves run against a real kube-apiserver in
 * `npm run e2e:apiserver`).
 */
import { resourcesOf } from '../../chart-test/checks';
import { main, settingsFromEnvironment } from '../../chart-test/main';

const GOOD = {
  KDP_NAMESPACE: 'kube-system',
  KDP_INSTANCE: 'one',
  KDP_SERVICE_ACCOUNT: 'one-kube-device-plugins-test',
  KDP_IMAGE: 'ghcr.io/kube-device-plugins/kube-device-plugins:0.1.0',
  KDP_PLUGINS: '{"kvm":{"enabled":true,"resourceName":"github.com.ihcsim/kvm"}}',
};

test('settings come from the environment the chart sets', () => {
  const settings = settingsFromEnvironment({ ...GOOD, KDP_TIMEOUT_SECONDS: '30', KDP_CXI_NETWORKS: '[]' });
  expect(settings).toMatchObject({
    namespace: 'kube-system',
    instance: 'one',
    timeoutSeconds: 30,
    cxiNetworks: '[]',
  });
  expect(settings.plugins.kvm.enabled).toBe(true);
  expect(settingsFromEnvironment(GOOD)).toMatchObject({ timeoutSeconds: 120, cxiNetworks: undefined });
  expect(settingsFromEnvironment(GOOD).draDrivers).toBeUndefined();
  expect(
    settingsFromEnvironment({ ...GOOD, KDP_DRA_DRIVERS: '{"kvm":"kvm.kube-device-plugins.io"}' }).draDrivers,
  ).toEqual({ kvm: 'kvm.kube-device-plugins.io' });
});

test.each([
  [{ KDP_NAMESPACE: '' }, 'KDP_NAMESPACE is not set'],
  [{ KDP_PLUGINS: '{nope' }, 'KDP_PLUGINS is not JSON'],
  [{ KDP_DRA_DRIVERS: '{nope' }, 'KDP_DRA_DRIVERS is not JSON'],
  [{ KDP_TIMEOUT_SECONDS: 'soon' }, 'KDP_TIMEOUT_SECONDS must be a whole number'],
])('bad settings %j are refused naming the variable, and main exits 2', async (override, message) => {
  const env = { ...GOOD, ...override };
  expect(() => settingsFromEnvironment(env)).toThrow(message);
  const write = jest.spyOn(process.stdout, 'write').mockImplementation(() => true);
  try {
    expect(await main(env)).toBe(2);
    expect(String(write.mock.calls[0][0])).toContain(message);
  } finally {
    write.mockRestore();
  }
});

test('the resources each plugin advertises, from its values', () => {
  expect(
    resourcesOf('tdx', { enabled: true, resourceName: 'tdx.intel.com/tdx-guest', udsResourceName: '' }),
  ).toEqual(['tdx.intel.com/tdx-guest']);
  expect(
    resourcesOf('tdx', { enabled: true, resourceName: 'a.b/c', udsResourceName: 'tdx.intel.com/ccnp-uds' }),
  ).toEqual(['a.b/c', 'tdx.intel.com/ccnp-uds']);
  expect(
    resourcesOf('devnode', { enabled: true, config: { resources: [{ name: 'x.y/a' }, { name: 'x.y/b' }] } }),
  ).toEqual(['x.y/a', 'x.y/b']);
  expect(resourcesOf('cex', { enabled: true, configSets: [{ setname: 'ep11' }] })).toEqual([
    'cex.s390.ibm.com/ep11',
  ]);
  expect(resourcesOf('cex', { enabled: true, configSets: [] })).toEqual([]);
  expect(resourcesOf('cxi', { enabled: true, resourceName: 'beta.hpe.com/cxi' })).toEqual([
    'beta.hpe.com/cxi',
  ]);
});
