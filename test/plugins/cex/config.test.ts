/** The crypto configuration, the environment settings and the machine id: pure parsing and validation. */
import { parseCryptoConfig, resolveSet, type CryptoConfig } from '../../../plugins/cex/config';
import { clampedInt, INT_ENV, readSettings } from '../../../plugins/cex/settings';
import { machineIdFromSysinfo } from '../../../plugins/cex/sysinfo';
import { UsageError } from '../../../plugins/framework/flags';
import { createLogger } from '../../../plugins/framework';
import type { CommonOptions } from '../../../plugins/cli/command';
import { CONFIG } from './harness';

function errorsOf(config: unknown): string[] {
  const result = parseCryptoConfig(typeof config === 'string' ? config : JSON.stringify(config));
  return 'errors' in result ? result.errors : [];
}

function parsed(config: unknown): CryptoConfig {
  const result = parseCryptoConfig(JSON.stringify(config));
  if ('errors' in result) throw new Error(result.errors.join('; '));
  return result.config;
}

const set = (fields: Record<string, unknown>) => ({ setname: 's1', project: 'p', ...fields });
const one = (fields: Record<string, unknown>) => ({ cryptoconfigsets: [set(fields)] });

describe('crypto configuration', () => {
  test('the example parses, with upstream field names', () => {
    const config = parsed(CONFIG);
    expect(config.sets.map((s) => s.setName)).toEqual(['blue', 'red']);
    expect(config.sets[1]).toMatchObject({
      project: 'red-ns',
      cexMode: 'cca',
      overcommit: 2,
      liveSysfs: 0,
      apqns: [{ adapter: 1, domain: 6, machineId: 'IBM-8561-00000000000A1B2C' }],
    });
  });

  test.each([
    ['missing setname', one({ setname: undefined }), 'cryptoconfigsets[0]: setname: is required'],
    ['setname not qualified', one({ setname: 'a b' }), 'set "a b": setname: "a b" is not a qualified name'],
    ['setname with a prefix', one({ setname: 'x.io/s' }), 'set "x.io/s": setname:'],
    ['setname too long', one({ setname: 'a'.repeat(64) }), 'is longer than 63 characters'],
    ['empty project', one({ project: '' }), 'set "s1": project: is required'],
    ['unknown cexmode', one({ cexmode: 'ep12' }), 'set "s1": cexmode: "ep12" is not one of'],
    ['mincexgen cex3', one({ mincexgen: 'cex3' }), 'set "s1": mincexgen: "cex3" is not one of'],
    ['mincexgen cex10', one({ mincexgen: 'cex10' }), 'set "s1": mincexgen: "cex10"'],
    ['negative overcommit', one({ overcommit: -1 }), 'set "s1": overcommit: -1 is out of range 0..100'],
    ['huge overcommit', one({ overcommit: 101 }), 'set "s1": overcommit: 101 is out of range 0..100'],
    ['negative livesysfs', one({ livesysfs: -1 }), 'set "s1": livesysfs: -1 is below 0'],
    ['string overcommit', one({ overcommit: '2' }), 'set "s1": overcommit: must be an integer, not "2"'],
    [
      'adapter 256',
      one({ apqns: [{ adapter: 256, domain: 0 }] }),
      'apqns[0].adapter: 256 is out of range 0..255',
    ],
    ['domain -1', one({ apqns: [{ adapter: 0, domain: -1 }] }), 'apqns[0].domain: -1 is out of range 0..255'],
    ['missing domain', one({ apqns: [{ adapter: 0 }] }), 'set "s1": apqns[0].domain: is required'],
    [
      'same APQN twice in a set',
      one({
        apqns: [
          { adapter: 1, domain: 2 },
          { adapter: 1, domain: 2, machineid: 'M' },
        ],
      }),
      'set "s1": apqns[1]: names the same APQN as apqns[0]',
    ],
    [
      'duplicate set names',
      { cryptoconfigsets: [set({}), set({})] },
      'set "s1": setname: defined more than once',
    ],
    [
      'an APQN in two sets',
      {
        cryptoconfigsets: [
          set({ apqns: [{ adapter: 3, domain: 4, machineid: 'M1' }] }),
          set({ setname: 's2', apqns: [{ adapter: 3, domain: 4 }] }),
        ],
      },
      'set "s1": apqns[0] (adapter 3, domain 4) is also in set "s2"',
    ],
    ['no cryptoconfigsets', { sets: [] }, '"cryptoconfigsets" must be an array'],
    ['not JSON', '{"cryptoconfigsets": [', 'not valid JSON'],
  ])('%s is rejected with an error naming the set and field', (_name, config, message) => {
    const errors = errorsOf(config);
    expect(errors.join('\n')).toContain(message);
  });

  test('the same adapter/domain on two different machines is allowed', () => {
    const config = parsed({
      cryptoconfigsets: [
        set({ apqns: [{ adapter: 3, domain: 4, machineid: 'M1' }] }),
        set({ setname: 's2', apqns: [{ adapter: 3, domain: 4, machineid: 'M2' }] }),
      ],
    });
    expect(config.sets).toHaveLength(2);
  });

  test('every error is reported at once, and unknown fields only warn', () => {
    expect(
      errorsOf({ cryptoconfigsets: [set({ project: '' }), set({ setname: 's2', cexmode: 'x' })] }),
    ).toHaveLength(2);
    const result = parseCryptoConfig(
      JSON.stringify(one({ overcomit: 3, apqns: [{ adapter: 1, domain: 1, x: 1 }] })),
    );
    const warnings = 'warnings' in result ? result.warnings.join('\n') : '';
    expect(warnings).toContain('set "s1": unknown field "overcomit" is ignored');
    expect(warnings).toContain('set "s1": apqns[0]: unknown field "x" is ignored');
  });

  test('upstream defect: per-set overcommit and livesysfs are honoured; absent ones take the env defaults', () => {
    const [explicit, absent, zero] = parsed({
      cryptoconfigsets: [
        set({ overcommit: 3, livesysfs: 0 }),
        set({ setname: 's2' }),
        set({ setname: 's3', overcommit: 0, livesysfs: 1 }),
      ],
    }).sets.map((s) => resolveSet(s, { overcommit: 5, liveSysfs: true }));
    expect([explicit.overcommit, explicit.liveSysfs]).toEqual([3, false]);
    expect([absent.overcommit, absent.liveSysfs]).toEqual([5, true]);
    expect([zero.overcommit, zero.liveSysfs]).toEqual([5, true]);
    expect(absent.resourceName).toBe('cex.s390.ibm.com/s2');
  });

  test('mincexgen resolves to a number', () => {
    const [s] = parsed(one({ mincexgen: 'cex7' })).sets;
    expect(resolveSet(s, { overcommit: 1, liveSysfs: true }).minCexGen).toBe(7);
  });
});

describe('environment settings', () => {
  const common = {
    sysfsRoot: '/host/sys',
    devfsRoot: '/host/dev',
    podResourcesSocket: '/pr.sock',
  } as CommonOptions;

  function capture() {
    const lines: { level: string; msg: string; value?: unknown; used?: number }[] = [];
    return { lines, log: createLogger({ write: (l) => lines.push(JSON.parse(l)) }) };
  }

  test('upstream defaults, paths under the root flags', () => {
    const { lines, log } = capture();
    const s = readSettings({ NODENAME: 'n1' }, common, log);
    expect(s).toMatchObject({
      nodeName: 'n1',
      configFile: '/config/cex_resources.json',
      sysinfoFile: '/proc/sysinfo',
      apBusDir: '/host/sys/bus/ap',
      apDevsDir: '/host/sys/devices/ap',
      zcryptClassDir: '/host/sys/class/zcrypt',
      devfsRoot: '/host/dev',
      shadowBaseDir: '/var/tmp/shadowsysfs',
      podResourcesSocket: '/pr.sock',
      apqnCheckIntervalMs: 30_000,
      configCheckIntervalMs: 120_000,
      podListerPollMs: 30_000,
      deleteNeverUsedMs: 1_800_000,
      deleteUnusedMs: 120_000,
      overcommitLimit: 1,
      liveSysfs: true,
    });
    expect(lines).toEqual([]);
  });

  test('every env var is read', () => {
    const { log } = capture();
    const s = readSettings(
      {
        NODENAME: 'n1',
        CCS_JSON_FILE: '/c.json',
        PROC_SYSINFO_FILE: '/s',
        APSYSFS_BUSDIR: '/b',
        APSYSFS_DEVSDIR: '/d',
        ZCRYPT_CLASSDIR: '/z',
        SHADOWSYSFS_BASEDIR: '/sh',
        APQN_CHECK_INTERVAL: '60',
        CRYPTOCONFIG_CHECK_INTERVAL: '60',
        PODLISTER_POLL_INTERVAL: '20',
        RESOURCE_DELETE_NEVER_USED: '600',
        RESOURCE_DELETE_UNUSED: '60',
        APQN_OVERCOMMIT_LIMIT: '4',
        APQN_LIVE_SYSFS: '0',
      },
      common,
      log,
    );
    expect(s).toMatchObject({
      configFile: '/c.json',
      sysinfoFile: '/s',
      apBusDir: '/b',
      apDevsDir: '/d',
      zcryptClassDir: '/z',
      shadowBaseDir: '/sh',
      apqnCheckIntervalMs: 60_000,
      configCheckIntervalMs: 60_000,
      podListerPollMs: 20_000,
      deleteNeverUsedMs: 600_000,
      deleteUnusedMs: 60_000,
      overcommitLimit: 4,
      liveSysfs: false,
    });
  });

  test.each([
    [INT_ENV.apqnCheckInterval.name, '5', 10, INT_ENV.apqnCheckInterval],
    [INT_ENV.apqnCheckInterval.name, '500', 120, INT_ENV.apqnCheckInterval],
    [INT_ENV.configCheckInterval.name, '1', 30, INT_ENV.configCheckInterval],
    [INT_ENV.configCheckInterval.name, '301', 300, INT_ENV.configCheckInterval],
    [INT_ENV.podListerPoll.name, '9', 10, INT_ENV.podListerPoll],
    [INT_ENV.podListerPoll.name, '61', 60, INT_ENV.podListerPoll],
    [INT_ENV.deleteNeverUsed.name, '0', 30, INT_ENV.deleteNeverUsed],
    [INT_ENV.deleteNeverUsed.name, '9999', 3600, INT_ENV.deleteNeverUsed],
    [INT_ENV.deleteUnused.name, '29', 30, INT_ENV.deleteUnused],
    [INT_ENV.deleteUnused.name, '901', 900, INT_ENV.deleteUnused],
    [INT_ENV.overcommitLimit.name, '0', 1, INT_ENV.overcommitLimit],
    [INT_ENV.overcommitLimit.name, '101', 100, INT_ENV.overcommitLimit],
    [INT_ENV.liveSysfs.name, '2', 1, INT_ENV.liveSysfs],
    [INT_ENV.liveSysfs.name, '-1', 0, INT_ENV.liveSysfs],
  ])('%s=%s is clamped to %d with a warning', (_name, raw, expected, spec) => {
    const { lines, log } = capture();
    expect(clampedInt(spec, raw, log)).toBe(expected);
    expect(lines).toEqual([
      expect.objectContaining({ level: 'warn', msg: expect.stringContaining(spec.name), used: expected }),
    ]);
  });

  test('a value that is not an integer falls back to the default with a warning', () => {
    const { lines, log } = capture();
    expect(clampedInt(INT_ENV.podListerPoll, '30s', log)).toBe(30);
    expect(lines[0]).toMatchObject({
      level: 'warn',
      msg: expect.stringContaining('not an integer'),
      value: '30s',
    });
  });

  test('NODENAME is required', () => {
    const { log } = capture();
    expect(() => readSettings({}, common, log)).toThrow(UsageError);
    expect(() => readSettings({ NODENAME: ' ' }, common, log)).toThrow(/NODENAME is required/);
  });
});

describe('machine id', () => {
  test('Manufacturer-Type-Sequence Code from sysinfo, first matching lines only', () => {
    const text = [
      'Manufacturer:         IBM',
      'Type:                 3931',
      'Sequence Code:        0000000000011111',
      'Type 1 Percentage:    0',
      'LPAR Type:            X',
    ].join('\n');
    expect(machineIdFromSysinfo(text)).toBe('IBM-3931-0000000000011111');
  });

  test('a missing field is named', () => {
    expect(() => machineIdFromSysinfo('Manufacturer: IBM\nType: 1\n')).toThrow(/"Sequence Code:"/);
  });
});
