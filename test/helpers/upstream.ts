/**
 * Access to ../shared/upstream (schemas we validate against but may not commit). In a user's clone it
 * is absent: suites then skip with a printed reason; under CI=true its absence is an error.
 */
import * as fs from 'fs';
import * as path from 'path';

export const UPSTREAM_DIR =
  process.env.KDP_UPSTREAM_DIR ?? path.resolve(__dirname, '..', '..', '..', 'shared', 'upstream');

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
