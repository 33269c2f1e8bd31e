/**
 * CEX in the demo: a fake IBM Z host (fixtures/cex/host.json: four CEX cards, one of them an
 * accelerator in no set) with the zcrypt kernel side emulated, and the crypto config sets of
 * fixtures/cex/cex_resources.json mounted ConfigMap-style. The plugin runs as the CLI starts it,
 * configured by environment variables; each sample allocation creates a zcrypt node (mknod, as root).
 */
import * as fs from 'fs';
import * as path from 'path';
import { command } from '../../plugins/cex/command';
import { FakeIbmZ, type FakeCard, type FakeMachine } from '../../simulator/devices/cex/fake-ibmz';
import { ZcryptEmulator } from '../../simulator/devices/cex/zcrypt-emulator';
import { startPlugin } from '../../plugins/cli/command';
import type { DemoScenario } from '../scenario';

export const scenario: DemoScenario = {
  name: 'cex',
  resources: ['cex.s390.ibm.com/ep11-prod', 'cex.s390.ibm.com/cca-test'],
  unavailable: ZcryptEmulator.unavailable,
  async start(ctx) {
    const fixtures = path.join(ctx.repoRoot, 'fixtures', 'cex');
    const spec = JSON.parse(fs.readFileSync(path.join(fixtures, 'host.json'), 'utf8')) as {
      machine: FakeMachine;
      cards: FakeCard[];
    };
    const host = FakeIbmZ.create(path.join(ctx.workDir, 'ibmz'), spec.cards, spec.machine);
    host.writeConfig(fs.readFileSync(path.join(fixtures, 'cex_resources.json'), 'utf8'));
    const emulator = ZcryptEmulator.forHost(host.paths);
    emulator.start();
    console.log(`  fake IBM Z ${host.machineId}: ${spec.cards.map((c) => c.type).join(', ')}`);
    const running = await startPlugin(
      command,
      [
        `--device-plugin-dir=${ctx.devicePluginDir}`,
        `--sysfs-root=${host.paths.sysfsRoot}`,
        `--devfs-root=${host.paths.devfsRoot}`,
        `--pod-resources-socket=${ctx.podResourcesSocket}`,
        '--log-level=warn',
      ],
      {
        env: {
          NODENAME: 'demo-node',
          CCS_JSON_FILE: host.paths.configFile,
          PROC_SYSINFO_FILE: host.paths.sysinfoFile,
          SHADOWSYSFS_BASEDIR: host.paths.shadowBaseDir,
        },
      },
    ).catch(async (err) => {
      await emulator.stop();
      throw err;
    });
    return {
      async stop() {
        await running.stop();
        await emulator.stop();
      },
    };
  },
};
