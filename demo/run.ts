/**
 * `npm run demo`: the main job without a cluster. Every plugin that has a scenario in demo/scenarios
 * runs against the kubelet simulator and fixture device trees; exits 0 when all of them worked.
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { KubeletSimulator } from '../simulator/kubelet';
import type { WireContainerAllocateResponse } from '../plugins/framework/proto';
import { runDraDemo } from './dra';
import type { DemoScenario } from './scenario';

function loadScenarios(): DemoScenario[] {
  const dir = path.join(__dirname, 'scenarios');
  const files = fs.existsSync(dir)
    ? fs
        .readdirSync(dir)
        .filter((f) => f.endsWith('.js'))
        .sort()
    : [];
  // eslint-disable-next-line @typescript-eslint/no-require-imports -- modules found at run time by file name
  return files.map((f) => (require(path.join(dir, f)) as { scenario: DemoScenario }).scenario);
}

function summarise(res: WireContainerAllocateResponse): string {
  const parts: string[] = [];
  if (res.devices.length)
    parts.push(
      `devices ${res.devices.map((d) => `${d.host_path}->${d.container_path}:${d.permissions}`).join(', ')}`,
    );
  if (res.mounts.length)
    parts.push(
      `mounts ${res.mounts.map((m) => `${m.host_path}->${m.container_path}${m.read_only ? ':ro' : ''}`).join(', ')}`,
    );
  if (Object.keys(res.envs).length)
    parts.push(
      `envs ${Object.entries(res.envs)
        .map(([k, v]) => `${k}=${v}`)
        .join(' ')}`,
    );
  if (res.cdi_devices.length) parts.push(`cdi ${res.cdi_devices.map((c) => c.name).join(', ')}`);
  return parts.join('; ') || '(nothing)';
}

async function runScenario(scenario: DemoScenario, repoRoot: string): Promise<void> {
  const workDir = fs.mkdtempSync(path.join(os.tmpdir(), 'kdp-demo-'));
  const devicePluginDir = path.join(workDir, 'dp');
  const podResourcesSocket = path.join(workDir, 'pr.sock');
  const kubelet = new KubeletSimulator({ devicePluginDir, podResourcesSocket });
  await kubelet.start();
  const running = await scenario.start({ kubelet, devicePluginDir, podResourcesSocket, workDir, repoRoot });
  try {
    for (const resource of scenario.resources) {
      await kubelet.waitForRegistration(resource, 10_000);
      const devices = kubelet.resource(resource)?.devices ?? [];
      console.log(
        `  ${resource}: capacity ${kubelet.capacity(resource)}, allocatable ${kubelet.allocatable(resource)}`,
      );
      const ids =
        scenario.sample?.[resource] ??
        devices
          .filter((d) => d.health === 'Healthy')
          .slice(0, 1)
          .map((d) => d.id);
      if (ids.length === 0) {
        console.log('    no healthy device to allocate');
        continue;
      }
      const [response] = await kubelet.allocate(resource, [ids], {
        pod: 'demo',
        namespace: 'default',
        container: 'main',
      });
      console.log(`    Allocate ${ids.join(',')}: ${summarise(response)}`);
    }
  } finally {
    await running.stop();
    await kubelet.stop();
    fs.rmSync(workDir, { recursive: true, force: true });
  }
}

async function main(): Promise<void> {
  const repoRoot = path.resolve(__dirname, '..', '..');
  const scenarios = loadScenarios();
  if (scenarios.length === 0) {
    console.log('no plugin scenarios are built yet');
    return;
  }
  let failed = 0;
  for (const scenario of scenarios) {
    const why = scenario.unavailable?.();
    if (why) {
      console.log(`${scenario.name}: skipped (${why})`);
      continue;
    }
    console.log(`${scenario.name}:`);
    try {
      await runScenario(scenario, repoRoot);
    } catch (err) {
      failed += 1;
      console.log(`  FAILED: ${(err as Error).message}`);
    }
  }
  const draDir = fs.mkdtempSync(path.join(os.tmpdir(), 'kdp-demo-dra-'));
  try {
    await runDraDemo(draDir);
  } catch (err) {
    failed += 1;
    console.log(`  FAILED: ${(err as Error).message}`);
  } finally {
    fs.rmSync(draDir, { recursive: true, force: true });
  }
  console.log(
    failed
      ? `demo: ${failed} scenario(s) failed`
      : 'demo: every plugin registered and allocated; kvm prepared two claims in DRA mode',
  );
  process.exit(failed ? 1 : 0);
}

void main();
