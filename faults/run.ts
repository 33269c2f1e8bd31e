/**
 * `npm run faults`: the fault tier. Each case drives real plugin processes (or the demo's in-process
 * plugins) with faults a node can throw at them, on loopback sockets and temp dirs only, bounded in
 * count and time (a few minutes in all). Prints a table (case, count, failures, figure) and exits 1 on
 * any failure. FAULTS_ONLY=a,b runs only the cases whose names start with those words. Needs root
 * (device-node fixtures, tmpfs mounts, an unprivileged uid).
 */
import { printTable, type Case } from './harness';
import { malformedRpcs } from './malformed';
import {
  cdiDirFaults,
  configFlips,
  deviceDirNotWritable,
  kill9,
  memoryPressure,
  soak,
} from './process-cases';

const CASES: [string, () => Promise<Case>][] = [
  ['malformed', malformedRpcs],
  ['soak', soak],
  ['kill9', kill9],
  ['cdi', cdiDirFaults],
  ['eacces', deviceDirNotWritable],
  ['config', configFlips],
  ['memory', memoryPressure],
];

async function main(): Promise<void> {
  if (process.getuid?.() !== 0) {
    console.error('npm run faults needs root (device-node fixtures, tmpfs mounts, setpriv)');
    process.exit(1);
  }
  const only = process.env.FAULTS_ONLY?.split(',').filter(Boolean);
  const results = [];
  for (const [key, run] of CASES) {
    if (only && !only.includes(key)) continue;
    const started = Date.now();
    console.log(`${key}: running`);
    try {
      const c = await run();
      console.log(
        `${key}: ${c.failures.length ? 'FAILED' : 'ok'} in ${((Date.now() - started) / 1000).toFixed(1)} s`,
      );
      results.push(c.result());
    } catch (err) {
      console.log(`${key}: crashed: ${(err as Error).stack}`);
      results.push({
        name: key,
        count: 0,
        failures: [`the case itself failed: ${(err as Error).message}`],
        figure: '',
      });
    }
  }
  printTable(results);
  const failed = results.filter((r) => r.failures.length).length;
  console.log(failed ? `faults: ${failed} case(s) failed` : 'faults: every case passed');
  process.exit(failed ? 1 : 0);
}

void main();
