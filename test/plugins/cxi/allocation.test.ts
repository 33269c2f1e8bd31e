/** What Allocate hands a container, directly and in CDI mode. */
import * as fs from 'fs';
import * as path from 'path';
import { AllocationError, buildCdiSpec, writeCdiSpec } from '../../../plugins/framework';
import { assertNodesUsable, cdiAllocation, directAllocation } from '../../../plugins/cxi/allocation';
import { makeCharDevice } from '../../../simulator/devices/cxi';
import { describeAsRoot, fixture, fixtureLibraries, type FixtureHandle } from './helpers';

let fx: FixtureHandle;
afterEach(() => fx?.cleanup());

function failure(fn: () => unknown): AllocationError {
  try {
    fn();
  } catch (err) {
    if (err instanceof AllocationError) return err;
    throw err;
  }
  throw new Error('expected an AllocationError');
}

describeAsRoot('CXI direct allocation', () => {
  test('the requested NICs rw, /dev/xpmem, every library read-only at its path, LD_LIBRARY_PATH', () => {
    fx = fixture();
    const allocation = directAllocation([2, 10], fx);
    expect(allocation.devices).toEqual([
      { containerPath: '/dev/cxi2', hostPath: path.join(fx.devfsRoot, 'cxi2'), permissions: 'rw' },
      { containerPath: '/dev/cxi10', hostPath: path.join(fx.devfsRoot, 'cxi10'), permissions: 'rw' },
      { containerPath: '/dev/xpmem', hostPath: path.join(fx.devfsRoot, 'xpmem'), permissions: 'rw' },
    ]);
    expect(allocation.mounts).toEqual(
      fixtureLibraries(fx).map((f) => ({ containerPath: f, hostPath: f, readOnly: true })),
    );
    expect(allocation.envs).toEqual({ LD_LIBRARY_PATH: `${fx.ofiRoot}:${fx.cxiRoot}` });
  });

  test('no /dev/xpmem on the node: only the NIC nodes', () => {
    fx = fixture(undefined, { xpmem: false });
    expect(directAllocation([0], fx).devices).toEqual([
      { containerPath: '/dev/cxi0', hostPath: path.join(fx.devfsRoot, 'cxi0'), permissions: 'rw' },
    ]);
  });

  test('a NIC whose node vanished or stopped opening is FAILED_PRECONDITION naming it', () => {
    fx = fixture();
    expect(() => assertNodesUsable([0, 1], fx.devfsRoot)).not.toThrow();
    fs.rmSync(path.join(fx.devfsRoot, 'cxi1'));
    makeCharDevice(path.join(fx.devfsRoot, 'cxi0'), false);
    const error = failure(() => assertNodesUsable([0, 1], fx.devfsRoot));
    expect(error.grpcCode).toBe(9);
    expect(error.message).toBe(
      `CXI NIC not usable now: ${path.join(fx.devfsRoot, 'cxi0')} cannot be opened read-only: ENXIO (no such device or address); ` +
        `${path.join(fx.devfsRoot, 'cxi1')} does not exist`,
    );
  });
});

describeAsRoot('CXI CDI allocation', () => {
  const spec = (names: string[]) =>
    buildCdiSpec({
      kind: 'hpe.com/cxi',
      devices: names.map((name) => ({
        name,
        containerEdits: { deviceNodes: [{ path: `/dev/cxi${name}` }] },
      })),
    });

  test('fully-qualified hpe.com/cxi=<N> names, nothing else', () => {
    fx = fixture();
    writeCdiSpec(fx.cdiDir, spec(['0', '10', 'all']));
    expect(cdiAllocation([0, 10], fx.cdiDir)).toEqual({ cdiDevices: ['hpe.com/cxi=0', 'hpe.com/cxi=10'] });
  });

  test('a missing spec, a NIC the spec lacks, or a file that is no CXI spec fail with the fix in the message', () => {
    fx = fixture();
    const file = path.join(fx.cdiDir, 'hpe.com-cxi.yaml');
    let error = failure(() => cdiAllocation([0], fx.cdiDir));
    expect(error.grpcCode).toBe(9);
    expect(error.message).toBe(
      `CDI mode: ${file} does not exist (run cxi-cdi-generator --cdi-dir ${fx.cdiDir})`,
    );

    writeCdiSpec(fx.cdiDir, spec(['0', 'all']));
    error = failure(() => cdiAllocation([0, 2, 10], fx.cdiDir));
    expect(error.message).toBe(
      `CDI spec ${file} has no device for NIC 2, 10 (re-run cxi-cdi-generator --cdi-dir ${fx.cdiDir})`,
    );

    fs.writeFileSync(file, 'kind: other.com/x\ndevices: []\n');
    error = failure(() => cdiAllocation([0], fx.cdiDir));
    expect(error.message).toBe(`CDI spec ${file} is not usable: its kind is "other.com/x", not hpe.com/cxi`);

    fs.writeFileSync(file, 'kind: [unclosed\n');
    expect(failure(() => cdiAllocation([0], fx.cdiDir)).message).toMatch(
      /^cannot read CDI spec .*hpe\.com-cxi\.yaml: /,
    );
  });
});
