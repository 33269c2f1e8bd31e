/**
 * Access to ../shared/upstream (schemas we validate against but may not commit). In a user's clone it
 * is absent: suites then skip with a printed reason; under CI=true its absence is an error.
 */
import * as fs from 'fs';
import * as path from 'path';

/** ../shared/upstream beside the repo: seen from test/helpers (jest) or from dist/test/helpers (the e2e tiers). */
function besideTheRepo(): string {
  const candidates = [1, 2].map((up) =>
    path.resolve(__dirname, ...Array<string>(2 + up).fill('..'), 'shared', 'upstream'),
  );
  return candidates.find((dir) => fs.existsSync(dir)) ?? candidates[0];
}

export const UPSTREAM_DIR = process.env.KDP_UPSTREAM_DIR ?? besideTheRepo();

export function upstreamAvailable(): boolean {
  if (fs.existsSync(UPSTREAM_DIR)) return true;
  if (process.env.CI === 'true')
    throw new Error(`CI=true but the upstream schemas are missing at ${UPSTREAM_DIR}`);
  return false;
}

/** `describe` that runs only when ../shared/upstream is present, printing why it was skipped. */
export function describeWithUpstream(name: string, fn: () => void): void {
  if (upstreamAvailable()) {
    describe(name, fn);
  } else {
    console.warn(`SKIPPED "${name}": ${UPSTREAM_DIR} is not present (it is beside the repo in CI)`);
    describe.skip(name, fn);
  }
}
