/** Demo: the tdx plugin on fixtures/tdx, with the CCNP socket dir also as its own resource and configfs-tsm. */
import * as path from 'path';
import { fixturesUnavailable, startOnFixture } from '../../simulator/devices/device-nodes';
import { command } from '../../plugins/tdx/command';
import type { DemoScenario } from '../scenario';

export const scenario: DemoScenario = {
  name: 'tdx',
  resources: ['tdx.intel.com/tdx-guest', 'tdx.intel.com/ccnp-uds'],
  unavailable: fixturesUnavailable,
  async start(ctx) {
    const root = path.join(ctx.workDir, 'tdx');
    const args = [
      `--uds-dir=${path.join(root, 'run/ccnp/uds')}`,
      '--uds-resource-name=tdx.intel.com/ccnp-uds',
      '--tsm-report',
    ];
    return (await startOnFixture(command, root, ctx.devicePluginDir, args)).running;
  },
};
