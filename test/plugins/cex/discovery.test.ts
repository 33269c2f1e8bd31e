/** APQN discovery, set eligibility and health, through the kubelet simulator. */
import * as fs from 'fs';
import { CexHarness, BLUE, MACHINE_ID, RED, withCex } from './harness';

const set = (name: string, fields: Record<string, unknown>) => ({ setname: name, project: 'p', ...fields });

describe('CEX discovery', () => {
  test('one resource per set, overcommit devices per eligible APQN, all healthy', () =>
    withCex({}, async (h) => {
      await h.kubelet.waitForRegistration(BLUE);
      await h.kubelet.waitForRegistration(RED);
      expect(h.deviceIds(BLUE)).toEqual(['apqn-0-6-0', 'apqn-0-7-0']);
      expect(h.deviceIds(RED)).toEqual(['apqn-1-6-0', 'apqn-1-6-1']);
      expect(h.kubelet.allocatable(BLUE)).toBe(2);
      expect(h.kubelet.resourceNames().sort()).toEqual([BLUE, RED]);
      expect(h.logged('crypto configuration loaded')[0]).toMatchObject({ sets: ['blue', 'red'] });
    }));

  test('an offline queue is Unhealthy, a vanished one disappears, a hot-plugged one appears', () =>
    withCex({}, async (h) => {
      await h.kubelet.waitForRegistration(BLUE);
      h.host.setOnline(0, 7, false);
      await h.kubelet.waitFor(() => h.health(BLUE, 'apqn-0-7-0') === 'Unhealthy', 5000, 'offline APQN');
      expect(h.kubelet.allocatable(BLUE)).toBe(1);

      h.host.setOnline(0, 7, true);
      await h.kubelet.waitFor(() => h.health(BLUE, 'apqn-0-7-0') === 'Healthy', 5000, 'online again');

      h.host.removeQueue(0, 7);
      await h.kubelet.waitFor(() => h.kubelet.capacity(BLUE) === 1, 5000, 'unplugged APQN gone');
      expect(h.deviceIds(BLUE)).toEqual(['apqn-0-6-0']);

      h.host.addQueue(0, 7);
      await h.kubelet.waitFor(() => h.kubelet.capacity(BLUE) === 2, 5000, 'hot-plugged APQN');

      h.host.removeCard(0);
      await h.kubelet.waitFor(() => h.kubelet.capacity(BLUE) === 0, 5000, 'unplugged card');
      expect(h.kubelet.resource(BLUE)?.connected).toBe(true);
    }));

  test('an APQN for another machine is not offered; an empty machine id matches any', () =>
    withCex(
      {
        config: {
          cryptoconfigsets: [
            set('mine', {
              apqns: [
                { adapter: 0, domain: 6, machineid: MACHINE_ID },
                { adapter: 0, domain: 7 },
              ],
            }),
            set('theirs', { apqns: [{ adapter: 1, domain: 6, machineid: 'IBM-8561-OTHER' }] }),
          ],
        },
      },
      async (h) => {
        await h.kubelet.waitForRegistration('cex.s390.ibm.com/theirs');
        expect(h.deviceIds('cex.s390.ibm.com/mine')).toEqual(['apqn-0-6-0', 'apqn-0-7-0']);
        expect(h.deviceIds('cex.s390.ibm.com/theirs')).toEqual([]);
      },
    ));

  test('adapters and domains are read as hex from sysfs and named in decimal', () =>
    withCex(
      { config: { cryptoconfigsets: [set('accel', { apqns: [{ adapter: 10, domain: 31 }] })] } },
      async (h) => {
        await h.kubelet.waitForRegistration('cex.s390.ibm.com/accel');
        expect(h.deviceIds('cex.s390.ibm.com/accel')).toEqual(['apqn-10-31-0']);
      },
    ));

  test('upstream defect: cexmode is enforced (a cca set does not get an ep11 APQN)', () =>
    withCex(
      {
        config: {
          cryptoconfigsets: [
            set('cca', {
              cexmode: 'cca',
              apqns: [
                { adapter: 0, domain: 6 },
                { adapter: 1, domain: 6 },
              ],
            }),
          ],
        },
      },
      async (h) => {
        await h.kubelet.waitForRegistration('cex.s390.ibm.com/cca');
        expect(h.deviceIds('cex.s390.ibm.com/cca')).toEqual(['apqn-1-6-0']);
        expect(h.logged('APQNs named by the set are not offered')[0].excluded).toEqual([
          "APQN (0,6): card mode ep11 is not the set's cexmode cca",
        ]);
      },
    ));

  test('upstream defect: mincexgen is compared as a number (CEX10 passes cex7, CEX5 does not)', () =>
    withCex(
      {
        cards: [
          { adapter: 2, type: 'CEX10P', domains: [1] },
          { adapter: 3, type: 'CEX5P', domains: [1] },
          { adapter: 4, type: 'CEX7P', domains: [1] },
        ],
        config: {
          cryptoconfigsets: [
            set('new', {
              mincexgen: 'cex7',
              apqns: [2, 3, 4].map((adapter) => ({ adapter, domain: 1 })),
            }),
          ],
        },
      },
      async (h) => {
        await h.kubelet.waitForRegistration('cex.s390.ibm.com/new');
        expect(h.deviceIds('cex.s390.ibm.com/new')).toEqual(['apqn-2-1-0', 'apqn-4-1-0']);
      },
    ));

  test('upstream defect: the env defaults apply from the first device list (APQN_OVERCOMMIT_LIMIT)', () =>
    withCex({ settings: { overcommitLimit: 3 } }, async (h) => {
      await h.kubelet.waitForRegistration(BLUE);
      // The very first list the kubelet got already has three devices per APQN.
      expect(h.kubelet.resource(BLUE)?.updates).toBe(1);
      expect(h.deviceIds(BLUE)).toEqual([
        'apqn-0-6-0',
        'apqn-0-6-1',
        'apqn-0-6-2',
        'apqn-0-7-0',
        'apqn-0-7-1',
        'apqn-0-7-2',
      ]);
      // red says overcommit 2 itself.
      await h.kubelet.waitForRegistration(RED);
      expect(h.kubelet.capacity(RED)).toBe(2);
    }));

  test('a card that cannot be read is skipped with a warning, the others still served', async () => {
    const h = new CexHarness({});
    try {
      fs.writeFileSync(h.host.paths.apDevsDir + '/card00/type', 'PCICA\n');
      await h.start();
      await h.kubelet.waitForRegistration(RED);
      expect(h.deviceIds(BLUE)).toEqual([]);
      expect(h.logged('some AP devices could not be read')[0].problems).toEqual([
        'card00: card type "PCICA" is not CEX<gen><A|C|P>; card skipped',
      ]);
    } finally {
      await h.stop();
    }
  });
});
