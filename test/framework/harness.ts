/** A kubelet simulator plus a PluginManager in one temp dir, torn down together. */
import {
  PluginManager,
  silentLogger,
  type ManagerOptions,
  type ResourcePlugin,
} from '../../plugins/framework';
import { KubeletSimulator, type KubeletSimulatorOptions } from '../../simulator/kubelet';
import { removeDir, tempDir } from '../helpers/tmp';

export interface Harness {
  dir: string;
  kubelet: KubeletSimulator;
  manager: PluginManager;
  close(): Promise<void>;
}

export async function harness(
  options: Partial<ManagerOptions> & {
    startKubelet?: boolean;
    kubelet?: Partial<KubeletSimulatorOptions>;
  } = {},
): Promise<Harness> {
  const dir = tempDir();
  const kubelet = new KubeletSimulator({
    devicePluginDir: dir,
    podResourcesSocket: `${dir}/pr.sock`,
    ...options.kubelet,
  });
  if (options.startKubelet !== false) await kubelet.start();
  const manager = new PluginManager({
    devicePluginDir: dir,
    log: silentLogger,
    initialBackoffMs: 20,
    maxBackoffMs: 200,
    ...options,
  });
  return {
    dir,
    kubelet,
    manager,
    async close() {
      await manager.stop();
      await kubelet.stop();
      removeDir(dir);
    },
  };
}

/** A harness with one plugin added and registered with the simulated kubelet. */
export async function harnessWith(plugin: ResourcePlugin): Promise<Harness> {
  const h = await harness();
  await h.manager.addResource(plugin);
  await h.kubelet.waitForRegistration(plugin.resourceName);
  return h;
}
