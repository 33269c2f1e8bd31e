/** Shared set-up for the CXI suites: a fixture node under a short temp root, torn down afterwards. */
import * as path from 'path';
import {
  buildCxiFixture,
  deviceNodesUnavailable,
  type CxiFixture,
  type FixtureNic,
} from '../../../simulator/devices/cxi';
import { describeUnless } from '../../helpers/root';
import { removeDir, tempDir } from '../../helpers/tmp';

/**
 * The CXI suites make real character devices with mknod, which needs root. Outside CI a non-root run
 * skips them with the reason printed; under CI=true a missing capability is a failure.
 */
export function describeAsRoot(name: string, fn: () => void): void {
  describeUnless(deviceNodesUnavailable(), name, fn);
}

export interface FixtureHandle extends CxiFixture {
  cleanup(): void;
}

export function fixture(nics?: FixtureNic[], options?: { xpmem: boolean }): FixtureHandle {
  const root = tempDir('kdp-cxi-');
  return { ...buildCxiFixture(root, nics, options), cleanup: () => removeDir(root) };
}

/** Flags pointing every root of the plugin at the fixture. */
export function rootFlags(fx: CxiFixture): string[] {
  return [
    `--sysfs-root=${fx.sysfsRoot}`,
    `--devfs-root=${fx.devfsRoot}`,
    `--ofi-root=${fx.ofiRoot}`,
    `--cxi-root=${fx.cxiRoot}`,
    `--cdi-dir=${fx.cdiDir}`,
  ];
}

/** The same roots as environment variables (what the Helm chart sets). */
export function rootEnv(fx: CxiFixture): NodeJS.ProcessEnv {
  return {
    SYSFS_ROOT: fx.sysfsRoot,
    DEVFS_ROOT: fx.devfsRoot,
    OFI_ROOT: fx.ofiRoot,
    CXI_ROOT: fx.cxiRoot,
    CDI_DIR: fx.cdiDir,
  };
}

/** The library files the fixture's libcxi/libfabric dirs should yield, in mount order. */
export const FIXTURE_LIBRARIES = {
  cxi: ['libcxi.so', 'libcxi.so.1', 'libcxi.so.1.5.0'],
  ofi: ['libfabric.so', 'libfabric.so.1', 'libfabric.so.1.22.0'],
};

export function fixtureLibraries(fx: CxiFixture): string[] {
  return [
    ...FIXTURE_LIBRARIES.cxi.map((name) => path.join(fx.cxiRoot, name)),
    ...FIXTURE_LIBRARIES.ofi.map((name) => path.join(fx.ofiRoot, name)),
  ];
}
