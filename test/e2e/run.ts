/**
 * `npm run e2e`: every plugin, as a real process, against the kubelet's real device manager, topology
 * manager and PodResources server (test/e2e/kubelet/, built per kubelet version and cached). Prints a
 * table per kubelet version, writes the figures to dist/e2e/results.json (or $E2E_RESULTS) and exits 1
 * when any check failed.
 *
 * Environment: E2E_KUBELETS (default "1.37,1.36"), E2E_PLUGINS (default all), E2E_KUBELET_RESTARTS
 * (default 50), E2E_PLUGIN_RESTARTS (default 5), KDP_E2E_CACHE (harness build cache). Needs Go, and
 * root for mknod and network namespaces: without root the run fails (it never skips silently).
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { ensureHarness, KUBELET_VERSIONS, type BuiltHarness, type KubeletVersion } from './harness-build';
import { REPO_ROOT } from './plugin-process';
import { cex } from './plugins/cex';
import { cxi } from './plugins/cxi';
import { devnode, kvm, tdx } from './plugins/device-nodes';
import { netdevice } from './plugins/netdevice';
import { percentile } from '../../bench/scenario';
import { emptyResult, runScenario, type PluginResult, type PluginScenario } from './scenario';

const SCENARIOS: PluginScenario[] = [tdx, kvm, devnode, cxi, netdevice, cex];

function listEnv(name: string, all: string[]): string[] {
  const raw = process.env[name];
  if (!raw) return all;
  const wanted = raw.split(',').map((s) => s.trim());
  const unknown = wanted.filter((w) => !all.includes(w));
  if (unknown.length > 0)
    throw new Error(`${name}: unknown ${unknown.join(', ')} (known: ${all.join(', ')})`);
  return wanted;
}

function intEnv(name: string, fallback: number): number {
  const raw = process.env[name];
  if (!raw) return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 1) throw new Error(`${name}: ${raw} is not a positive integer`);
  return n;
}

interface VersionResult {
  kubelet: string;
  kubernetes: string;
  harness: { built: boolean; buildSeconds: number };
  /** Wall time of this version's scenarios. */
  seconds: number;
  plugins: (PluginResult & {
    reRegisterP50Ms?: number;
    reRegisterP99Ms?: number;
  })[];
}

const ms = (v: number | undefined) => (v === undefined ? '—' : `${Math.round(v)} ms`);

function registersSummary(r: PluginResult): string {
  if (r.registersPerRestart.length === 0) return '—';
  const exact = r.registersPerRestart.filter((n) => n === 1).length;
  const max = Math.max(...r.registersPerRestart);
  return `${exact}/${r.registersPerRestart.length} exactly 1${max > 1 ? ` (max ${max})` : ''}`;
}

function printTable(v: VersionResult): void {
  const rows = [
    ['plugin', 'first register', 're-register p50', 'p99', 'Register calls per restart', 'checks', 'result'],
    ...v.plugins.map((p) => [
      p.plugin,
      ms(p.firstRegisterMs),
      ms(p.reRegisterP50Ms),
      ms(p.reRegisterP99Ms),
      registersSummary(p),
      `${p.checks.filter((c) => c.ok).length}/${p.checks.length}`,
      p.ok ? 'pass' : 'FAIL',
    ]),
  ];
  const widths = rows[0].map((_, i) => Math.max(...rows.map((r) => r[i].length)));
  const build = v.harness.built ? `harness built in ${v.harness.buildSeconds} s` : 'harness cached';
  console.log(
    `\nkubelet ${v.kubernetes} (device manager + topology manager + PodResources v1; ${build}; ran ${v.seconds} s)`,
  );
  for (const row of rows) console.log('  ' + row.map((cell, i) => cell.padEnd(widths[i])).join('  '));
  for (const p of v.plugins)
    for (const c of p.checks.filter((c) => !c.ok)) console.log(`  ${p.plugin}: FAIL ${c.name}: ${c.detail}`);
}

async function runVersion(
  v: KubeletVersion,
  harness: BuiltHarness,
  scenarios: PluginScenario[],
  logRoot: string,
): Promise<VersionResult> {
  const logDir = path.join(logRoot, v.minor);
  fs.mkdirSync(logDir, { recursive: true });
  const result: VersionResult = {
    kubelet: v.minor,
    kubernetes: v.minor,
    harness: { built: harness.built, buildSeconds: Math.round(harness.seconds) },
    seconds: 0,
    plugins: [],
  };
  const started = Date.now();
  for (const scenario of scenarios) {
    console.log(`kubelet ${v.minor} · ${scenario.name}`);
    const why = scenario.unavailable?.();
    const plugin: PluginResult = why
      ? { ...emptyResult(scenario.name), ok: false }
      : await runScenario(
          scenario,
          harness.binary,
          fs.mkdtempSync(path.join(os.tmpdir(), `kde-${scenario.name}-`)),
          {
            kubeletRestarts: intEnv('E2E_KUBELET_RESTARTS', 50),
            pluginRestarts: intEnv('E2E_PLUGIN_RESTARTS', 5),
            logDir,
            onKubelet: (k) => (result.kubernetes = k),
          },
        );
    if (why) plugin.checks.push({ name: 'prerequisites', ok: false, detail: `cannot run here: ${why}` });
    result.plugins.push({
      ...plugin,
      reRegisterP50Ms: plugin.reRegisterMs.length ? percentile(plugin.reRegisterMs, 50) : undefined,
      reRegisterP99Ms: plugin.reRegisterMs.length ? percentile(plugin.reRegisterMs, 99) : undefined,
    });
  }
  result.seconds = Math.round((Date.now() - started) / 1000);
  return result;
}

async function main(): Promise<number> {
  const versions = listEnv(
    'E2E_KUBELETS',
    KUBELET_VERSIONS.map((v) => v.minor),
  ).map((m) => KUBELET_VERSIONS.find((v) => v.minor === m)!);
  const names = listEnv(
    'E2E_PLUGINS',
    SCENARIOS.map((s) => s.name),
  );
  const scenarios = SCENARIOS.filter((s) => names.includes(s.name));
  const logRoot = path.join(REPO_ROOT, 'dist', 'e2e', 'logs');
  fs.rmSync(logRoot, { recursive: true, force: true });

  // Build (or find) every harness first, so the timings below are not taken beside a compiler.
  const harnesses = new Map<string, BuiltHarness>();
  for (const v of versions) harnesses.set(v.minor, await ensureHarness(v));

  const results: VersionResult[] = [];
  for (const v of versions) results.push(await runVersion(v, harnesses.get(v.minor)!, scenarios, logRoot));
  for (const r of results) printTable(r);

  const out = process.env.E2E_RESULTS || path.join(REPO_ROOT, 'dist', 'e2e', 'results.json');
  fs.mkdirSync(path.dirname(out), { recursive: true });
  fs.writeFileSync(
    out,
    JSON.stringify({ date: new Date().toISOString(), host: os.hostname(), versions: results }, null, 2) +
      '\n',
  );
  console.log(`\nfigures: ${out}; logs: ${logRoot}`);
  const failed = results.flatMap((r) =>
    r.plugins.filter((p) => !p.ok).map((p) => `${r.kubernetes}/${p.plugin}`),
  );
  if (failed.length > 0) {
    console.log(`e2e FAILED: ${failed.join(', ')}`);
    return 1;
  }
  console.log('e2e passed');
  return 0;
}

main().then(
  (code) => process.exit(code),
  (err) => {
    console.error(err instanceof Error ? err.stack : err);
    process.exit(1);
  },
);
