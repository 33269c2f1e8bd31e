/** Demo: the devnode plugin with the crand example (fixtures/devnode/crand.yaml) on crand0..2 clones of /dev/random. */
import * as path from 'path';
import { fixturesDir, fixturesUnavailable, startOnFixture } from '../../simulator/devices/device-nodes';
import { command } from '../../plugins/devnode/command';
import type { DemoScenario } from '../scenario';

export const scenario: DemoScenario = {
  name: 'devnode',
  resources: ['github.com.ihcsim/crand'],
  unavailable: fixturesUnavailable,
  sample: { 'github.com.ihcsim/crand': ['crand0', 'crand2'] },
  async start(ctx) {
    const args = [`--config=${path.join(fixturesDir(), 'devnode', 'crand.yaml')}`];
    return (await startOnFixture(command, path.join(ctx.workDir, 'devnode'), ctx.devicePluginDir, args))
      .running;
  },
};
