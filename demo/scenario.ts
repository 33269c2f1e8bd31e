/**
 * A demo scenario per plugin family (demo/scenarios/<plugin>.ts exports `scenario`). The runner starts
 * the kubelet simulator, starts each scenario's plugin against fixture trees, waits for its resources
 * to register, prints capacity/allocatable and one sample allocation, and stops it again.
 */
import type { KubeletSimulator } from '../simulator/kubelet';

export interface DemoContext {
  kubelet: KubeletSimulator;
  devicePluginDir: string;
  /** PodResources socket the simulator serves. */
  podResourcesSocket: string;
  /** A scratch directory for this scenario (fixture copies, CDI dir…), removed afterwards. */
  workDir: string;
  /** The repository root (fixtures/ lives there). */
  repoRoot: string;
}

export interface DemoScenario {
  name: string;
  /** Resources this scenario's plugin registers. */
  resources: string[];
  /** Start the plugin; return something to stop it with. */
  start(ctx: DemoContext): Promise<{ stop(): Promise<void> }>;
  /** Device IDs for the sample allocation, per resource (default: the first healthy device). */
  sample?: Record<string, string[]>;
  /** Why the scenario cannot run here (e.g. needs root), or undefined when it can. */
  unavailable?(): string | undefined;
}
