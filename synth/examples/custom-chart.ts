/**
 * Example: a platform team composes its own chart from the library instead of taking the whole bundle.
 * Here: TDX and CXI only, in namespace `device-plugins`, CXI in CDI mode on two NICs with site ranges, the
 * CXI networks policy, and NFD rules for both.
 *
 *   npm run build && node dist/synth/examples/custom-chart.js > hpc-devices.yaml
 */
import { App, Chart } from 'cdk8s';
import { Construct } from 'constructs';
import {
  CxiNetworkAttachment,
  CxiNetworksPolicy,
  CxiNic,
  CxiPlugin,
  NodeFeatureRule,
  TdxPlugin,
  cxiNetworks,
  cxiNicRule,
  tdxGuestRule,
} from '..';

export class HpcDevicesChart extends Chart {
  constructor(scope: Construct, id: string) {
    super(scope, id);
    const namespace = 'device-plugins';
    const image = 'registry.example.com/kube-device-plugins:0.1.0';

    new TdxPlugin(this, 'tdx', {
      namespace,
      image,
      sharedCount: 32,
      udsResourceName: 'tdx.intel.com/ccnp-uds',
    });
    new NodeFeatureRule(this, 'tdx-rule', { name: 'hpc-tdx', rules: [tdxGuestRule()] });

    const nics: CxiNic[] = [
      { master: 'hsn0', mode: 'l2', range: '10.200.0.0/24' },
      { master: 'hsn1', mode: 'l2', range: '10.200.1.0/24' },
    ];
    new CxiPlugin(this, 'cxi', {
      namespace,
      image,
      cdi: true,
      virtualDevices: 2,
      tolerations: [{ key: 'hpc.example.com/dedicated', operator: 'Exists', effect: 'NoSchedule' }],
      resources: { requests: { cpu: '20m', memory: '96Mi' }, limits: { memory: '192Mi' } },
    });
    new NodeFeatureRule(this, 'cxi-rule', { name: 'hpc-cxi', rules: [cxiNicRule()] });
    for (const nic of nics) new CxiNetworkAttachment(this, `network-${nic.master}`, { namespace, nic });
    new CxiNetworksPolicy(this, 'cxi-networks', { networks: cxiNetworks(this, nics, namespace) });
  }
}

if (require.main === module) {
  const app = new App();
  new HpcDevicesChart(app, 'hpc-devices');
  process.stdout.write(app.synthYaml());
}
