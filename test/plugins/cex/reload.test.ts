/**
 * Hot reload of the crypto configuration through ConfigMap-style symlink swaps: sets become
 * resources at run time, and a bad configuration never costs the good one. The fallback poll is set
 * to 10 minutes in these tests, so every change here is seen by the directory watch.
 */
import * as fs from 'fs';
import * as grpc from '@grpc/grpc-js';
import { AllocationError } from '../../../plugins/framework';
import { eventually } from '../../helpers/tmp';
import { BLUE, CexHarness, CONFIG, RED, rootTest, withCex } from './harness';

const GREEN = 'cex.s390.ibm.com/green';
const green = {
  setname: 'green',
  project: 'green-ns',
  cexmode: 'accel',
  apqns: [{ adapter: 10, domain: 31 }],
};

describe('CEX configuration reload', () => {
  test('a set added to the ConfigMap becomes a resource; a removed one is withdrawn', () =>
    withCex({}, async (h) => {
      await h.kubelet.waitForRegistration(RED);
      h.host.writeConfig({ cryptoconfigsets: [...CONFIG.cryptoconfigsets, green] });
      await h.kubelet.waitForRegistration(GREEN, 3000);
      expect(h.deviceIds(GREEN)).toEqual(['apqn-10-31-0']);

      h.host.writeConfig({ cryptoconfigsets: [CONFIG.cryptoconfigsets[0], green] });
      await h.kubelet.waitFor(() => h.kubelet.resource(RED)?.connected === false, 3000, 'red withdrawn');
      await waitForLog(h, 'crypto configuration changed', 2);
      expect(h.manager.resources().sort()).toEqual([BLUE, GREEN]);
      expect(h.kubelet.resource(BLUE)?.connected).toBe(true);
      expect(h.logged('crypto configuration changed').map((r) => [r.added, r.removed])).toEqual([
        [['green'], []],
        [[], ['red']],
      ]);
    }));

  test('a changed set keeps its resource and updates its devices (overcommit)', () =>
    withCex({}, async (h) => {
      await h.kubelet.waitForRegistration(BLUE);
      const registrations = h.kubelet.resource(BLUE)?.registrations;
      h.host.writeConfig({
        cryptoconfigsets: [{ ...CONFIG.cryptoconfigsets[0], overcommit: 3 }, CONFIG.cryptoconfigsets[1]],
      });
      await h.kubelet.waitFor(() => h.kubelet.capacity(BLUE) === 6, 3000, 'overcommit 3');
      expect(h.kubelet.resource(BLUE)?.registrations).toBe(registrations);
      await waitForLog(h, 'crypto configuration changed');
      expect(h.logged('crypto configuration changed')[0]).toMatchObject({ changed: ['blue'] });
    }));

  test('upstream defect: an invalid config keeps the last good one and logs why', () =>
    withCex({}, async (h) => {
      await h.kubelet.waitForRegistration(BLUE);
      await h.kubelet.waitForRegistration(RED);
      h.host.writeConfig({
        cryptoconfigsets: [{ ...CONFIG.cryptoconfigsets[0], cexmode: 'ep12' }, CONFIG.cryptoconfigsets[1]],
      });
      await waitForLog(h, 'new crypto configuration is invalid; keeping the last good one');
      const [record] = h.logged('new crypto configuration is invalid; keeping the last good one', 'error');
      expect(record.errors).toEqual(['set "blue": cexmode: "ep12" is not one of "", "ep11", "cca", "accel"']);
      expect(record.sets).toEqual(['blue', 'red']);
      expect(h.manager.resources().sort()).toEqual([BLUE, RED]);
      expect(h.kubelet.allocatable(BLUE)).toBe(2);

      h.host.writeConfig('{ not json');
      await waitForLog(h, 'new crypto configuration is invalid; keeping the last good one', 2);
      expect(h.kubelet.allocatable(RED)).toBe(2);

      // The next valid one is applied.
      h.host.writeConfig({ cryptoconfigsets: [CONFIG.cryptoconfigsets[0]] });
      await h.kubelet.waitFor(() => h.kubelet.resource(RED)?.connected === false, 3000, 'red withdrawn');
    }));

  test('a config file that vanishes keeps the last good config', () =>
    withCex({}, async (h) => {
      await h.kubelet.waitForRegistration(BLUE);
      fs.rmSync(h.host.paths.configFile);
      await waitForLog(h, 'cannot read the crypto configuration; keeping the last good one');
      expect(h.manager.resources().sort()).toEqual([BLUE, RED]);
    }));

  test('an empty set list withdraws everything, with a warning', () =>
    withCex({}, async (h) => {
      await h.kubelet.waitForRegistration(BLUE);
      h.host.writeConfig({ cryptoconfigsets: [] });
      await waitForLog(h, 'no crypto config sets are configured: no CEX resources are offered');
      expect(h.manager.resources()).toEqual([]);
    }));

  rootTest('upstream defect: Allocate on a set removed by a reload is a clean gRPC error, not a crash', () =>
    withCex({}, async (h) => {
      await h.kubelet.waitForRegistration(RED);
      const red = h.cex.setPlugin('red');
      h.host.writeConfig({ cryptoconfigsets: [CONFIG.cryptoconfigsets[0]] });
      await h.kubelet.waitFor(() => h.kubelet.resource(RED)?.connected === false, 3000, 'red withdrawn');
      const error = await red?.allocate(['apqn-1-6-0']).catch((err: unknown) => err);
      expect(error).toBeInstanceOf(AllocationError);
      expect(error).toMatchObject({
        grpcCode: grpc.status.FAILED_PRECONDITION,
        message: expect.stringContaining('set "red" was removed from the crypto configuration'),
      });
      // The plugin carries on.
      const [res] = await h.kubelet.allocate(BLUE, [['apqn-0-6-0']]);
      expect(res.devices).toHaveLength(1);
    }),
  );

  test('an invalid config at start is a usage error naming the file and the problem', async () => {
    const h = new CexHarness({
      config: { cryptoconfigsets: [{ setname: 'x', project: '' }] },
      noStart: true,
    });
    try {
      await h.start();
      await expect(h.startPlugin()).rejects.toThrow(
        /invalid crypto configuration .*cex_resources.json \(CCS_JSON_FILE\): set "x": project: is required/,
      );
    } finally {
      await h.stop();
    }
  });

  test('the fallback poll re-reads a file whose change no watch reported', async () => {
    const h = new CexHarness({ settings: { configCheckIntervalMs: 200 }, noStart: true });
    try {
      await h.start();
      // A config file outside the watched dir's events: the dir is watched, the file is a link elsewhere.
      const elsewhere = `${h.dir}/elsewhere.json`;
      fs.writeFileSync(elsewhere, JSON.stringify(CONFIG));
      fs.rmSync(h.host.paths.configFile);
      fs.symlinkSync(elsewhere, h.host.paths.configFile);
      await h.startPlugin();
      await h.kubelet.waitForRegistration(RED);
      fs.writeFileSync(elsewhere, JSON.stringify({ cryptoconfigsets: [CONFIG.cryptoconfigsets[0]] }));
      await h.kubelet.waitFor(() => h.kubelet.resource(RED)?.connected === false, 3000, 'red withdrawn');
    } finally {
      await h.stop();
    }
  });
});

function waitForLog(h: CexHarness, msg: string, count = 1): Promise<void> {
  return eventually(() => h.logged(msg).length >= count, 3000, `log "${msg}"`);
}
