/**
 * `kdp-chart-test`: the program the chart's `helm test` hook pod runs (see synth/chart-test.ts). Settings come
 * from the environment the chart sets; each check is logged as one JSON line; the exit status is 1 when any
 * check failed, 2 on bad settings.
 */
import { CheckResult, TestSettings, runChecks } from './checks';
import { configFromEnvironment } from './kube-api';

function required(env: NodeJS.ProcessEnv, name: string): string {
  const value = env[name];
  if (!value) throw new Error(`${name} is not set`);
  return value;
}

export function settingsFromEnvironment(env: NodeJS.ProcessEnv = process.env): TestSettings {
  const timeoutSeconds = Number(env.KDP_TIMEOUT_SECONDS ?? '120');
  if (!Number.isInteger(timeoutSeconds) || timeoutSeconds < 0)
    throw new Error(`KDP_TIMEOUT_SECONDS must be a whole number of seconds, got ${env.KDP_TIMEOUT_SECONDS}`);
  let plugins: TestSettings['plugins'];
  try {
    plugins = JSON.parse(required(env, 'KDP_PLUGINS')) as TestSettings['plugins'];
  } catch (err) {
    throw new Error(`KDP_PLUGINS is not JSON: ${(err as Error).message}`);
  }
  let draDrivers: TestSettings['draDrivers'];
  try {
    draDrivers = env.KDP_DRA_DRIVERS
      ? (JSON.parse(env.KDP_DRA_DRIVERS) as TestSettings['draDrivers'])
      : undefined;
  } catch (err) {
    throw new Error(`KDP_DRA_DRIVERS is not JSON: ${(err as Error).message}`);
  }
  return {
    namespace: required(env, 'KDP_NAMESPACE'),
    instance: required(env, 'KDP_INSTANCE'),
    plugins,
    cxiNetworks: env.KDP_CXI_NETWORKS || undefined,
    draDrivers,
    serviceAccount: required(env, 'KDP_SERVICE_ACCOUNT'),
    image: required(env, 'KDP_IMAGE'),
    timeoutSeconds,
  };
}

function log(level: 'info' | 'error', msg: string, fields: object): void {
  process.stdout.write(JSON.stringify({ time: new Date().toISOString(), level, msg, ...fields }) + '\n');
}

export async function main(env: NodeJS.ProcessEnv = process.env): Promise<number> {
  let settings: TestSettings;
  try {
    settings = settingsFromEnvironment(env);
  } catch (err) {
    log('error', 'bad settings', { error: (err as Error).message });
    return 2;
  }
  let results: CheckResult[];
  try {
    results = await runChecks(configFromEnvironment(env), settings);
  } catch (err) {
    log('error', 'checks could not run', { error: (err as Error).message });
    return 1;
  }
  for (const result of results)
    log(result.outcome === 'fail' ? 'error' : 'info', `check ${result.outcome}`, result);
  const failed = results.filter((r) => r.outcome === 'fail').length;
  log(failed ? 'error' : 'info', failed ? `${failed} checks failed` : 'all checks passed', {
    release: settings.instance,
    namespace: settings.namespace,
  });
  return failed ? 1 : 0;
}
