/**
 * CXI in the demo: a fixture node with four HPE Slingshot NICs on two NUMA nodes (one of them cxi10),
 * a non-HPE entry and a broken one. cxi-cdi-generator writes the CDI spec first, then the plugin
 * serves the NICs and the sample allocation asks for cxi0 and cxi10.
 */
import * as path from 'path';
import { startPlugin } from '../../plugins/cli/command';
import { command } from '../../plugins/cxi/command';
import { buildCxiFixture, deviceNodesUnavailable } from '../../simulator/devices/cxi';
import { runGenerator } from '../../plugins/cxi/generator-main';
import type { DemoScenario } from '../scenario';

const RESOURCE = 'beta.hpe.com/cxi';

export const scenario: DemoScenario = {
  name: 'cxi',
  resources: [RESOURCE],
  sample: { [RESOURCE]: ['0', '10'] },
  unavailable: deviceNodesUnavailable,
  async start(ctx) {
    const fx = buildCxiFixture(path.join(ctx.workDir, 'node'));
    const roots = [
      `--sysfs-root=${fx.sysfsRoot}`,
      `--devfs-root=${fx.devfsRoot}`,
      `--ofi-root=${fx.ofiRoot}`,
      `--cxi-root=${fx.cxiRoot}`,
      `--cdi-dir=${fx.cdiDir}`,
    ];
    const envFile = path.join(ctx.repoRoot, 'fixtures', 'cxi', 'env-vars.yaml');
    let generatorLog = '';
    const code = runGenerator([...roots, `--env-vars=${envFile}`], {
      env: {},
      stdout: () => undefined,
      stderr: (text) => (generatorLog += text),
    });
    const summary = generatorLog.split('\n').find((line) => line.includes('CDI spec written'));
    if (code !== 0 || !summary) throw new Error(`cxi-cdi-generator failed (exit ${code}): ${generatorLog}`);
    console.log(`  cxi-cdi-generator: ${summary.replace(/^\S+ INFO +/, '').replace(/ component=\S+/, '')}`);
    return startPlugin(
      command,
      [`--device-plugin-dir=${ctx.devicePluginDir}`, '--log-level=warn', ...roots],
      {
        env: {},
      },
    );
  },
};
