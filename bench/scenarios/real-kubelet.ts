/**
 * Registration timings under the kubelet's real device manager, from the last `npm run e2e`
 * (dist/e2e/results.json, or $E2E_RESULTS): that run takes minutes and needs Go, so the bench reports
 * its figures instead of repeating it.
 */
import * as fs from 'fs';
import * as path from 'path';
import { ms, percentile, type BenchRow, type BenchScenario } from '../scenario';

interface E2EResults {
  date: string;
  versions: {
    kubernetes: string;
    seconds: number;
    plugins: {
      plugin: string;
      firstRegisterMs?: number;
      reRegisterMs: number[];
      restartGapsMs?: number[];
      registersPerRestart: number[];
      ok: boolean;
    }[];
  }[];
}

function resultsFile(): string {
  return process.env.E2E_RESULTS || path.join(__dirname, '..', '..', 'e2e', 'results.json');
}

const show = (v: number | undefined) => (v === undefined ? '—' : ms(v));

export const bench: BenchScenario = {
  name: 'real-kubelet',
  unavailable: () =>
    fs.existsSync(resultsFile()) ? undefined : `no ${resultsFile()}: run \`npm run e2e\` first`,
  notes: [
    'From `npm run e2e` (test/e2e/): each plugin as a real process against k8s.io/kubernetes’ own device manager, topology manager and PodResources server, linked into test/e2e/kubelet/ at the versions shown.',
    'First register: plugin process spawned → the kubelet logs "Got registration request". Re-register: a new device manager started on the same dir and checkpoint (the old one stopped, its dead kubelet.sock left behind) → the same log line; one sample per kubelet restart.',
    'Register calls per restart: how many of the restarts (per resource) brought exactly one Register, as the kubelet logged them.',
    'A re-registration of about 1 s is the framework’s fallback (plugins/framework/manager.ts, restreamGraceMs 1000: registered, but no ListAndWatch stream, so register again; the plugin logs it as a warning), taken when its watch of the device-plugin dir did not lead to a Register; the row "re-registrations over 100 ms" says how often and after which stop → start pauses (the driver cycles 0, 10, 50 and 200 ms).',
  ],
  async run(): Promise<BenchRow[]> {
    const results = JSON.parse(fs.readFileSync(resultsFile(), 'utf8')) as E2EResults;
    const rows: BenchRow[] = [{ metric: 'e2e run', value: results.date }];
    for (const v of results.versions) {
      const all = v.plugins.flatMap((p) => p.reRegisterMs);
      for (const p of v.plugins) {
        const exact = p.registersPerRestart.filter((n) => n === 1).length;
        rows.push({
          metric: `kubelet ${v.kubernetes}, ${p.plugin}: first register / re-register p50 / p99 (${p.reRegisterMs.length} restarts); restarts with exactly one Register`,
          value: `${show(p.firstRegisterMs)} / ${show(p.reRegisterMs.length ? percentile(p.reRegisterMs, 50) : undefined)} / ${show(p.reRegisterMs.length ? percentile(p.reRegisterMs, 99) : undefined)}; ${exact}/${p.registersPerRestart.length}`,
        });
      }
      const slow = v.plugins.flatMap((p) =>
        p.reRegisterMs.flatMap((t, i) => (t > 100 ? [p.restartGapsMs?.[i] ?? NaN] : [])),
      );
      if (slow.length > 0)
        rows.push({
          metric: `kubelet ${v.kubernetes}: re-registrations over 100 ms; the stop → start pause before each`,
          value: `${slow.length} of ${all.length}; ${[...new Set(slow)].map((g) => `${g} ms`).join(', ')}`,
        });
      if (all.length > 0)
        rows.push({
          metric: `kubelet ${v.kubernetes}, every plugin: re-register p50 / p99 (${all.length} restarts)`,
          value: `${ms(percentile(all, 50))} / ${ms(percentile(all, 99))}`,
          target: 'p99 ≤ 50 ms',
          met: percentile(all, 99) <= 50,
        });
    }
    return rows;
  },
};
