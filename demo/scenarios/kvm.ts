/** Demo: the kvm plugin on fixtures/kvm (a /dev/kvm stand-in), with its CDI spec. */
import * as path from 'path';
import { fixturesUnavailable, startOnFixture } from '../../simulator/devices/device-nodes';
import { command } from '../../plugins/kvm/command';
import type { DemoScenario } from '../scenario';

export const scenario: DemoScenario = {
  name: 'kvm',
  resources: ['github.com.ihcsim/kvm'],
  unavailable: fixturesUnavailable,
  async start(ctx) {
    return (await startOnFixture(command, path.join(ctx.workDir, 'kvm'), ctx.devicePluginDir)).running;
  },
};
