/**
 * Prerequisites of the suites that need root (mknod, device cgroups) or other machine features: where one
 * is missing they are skipped with the reason printed, but under CI=true a missing one is an error.
 */
import * as fs from 'fs';

export function isRoot(): boolean {
  return process.getuid?.() === 0;
}

/** `describe`, unless `why` names a missing prerequisite (see the file comment). */
export function describeUnless(why: string | undefined, name: string, fn: () => void): void {
  if (!why) return describe(name, fn);
  if (process.env.CI === 'true') throw new Error(`CI=true but ${why}: "${name}" cannot run`);
  console.warn(`SKIPPED "${name}": ${why}`);
  describe.skip(name, fn);
}

/** `test`, unless `why` names a missing prerequisite (see the file comment). */
export function testUnless(why: string | undefined, name: string, fn: () => void | Promise<void>): void {
  if (!why) return test(name, fn);
  if (process.env.CI === 'true') throw new Error(`CI=true but ${why}: "${name}" cannot run`);
  console.warn(`SKIPPED "${name}": ${why}`);
  test.skip(name, fn);
}

/** `describe` for suites that create device nodes with mknod. */
export function describeAsRoot(name: string, fn: () => void): void {
  describeUnless(isRoot() ? undefined : 'creating device nodes with mknod needs root', name, fn);
}

/** Open file descriptors of this process. */
export function openFds(): number {
  return fs.readdirSync('/proc/self/fd').length;
}
