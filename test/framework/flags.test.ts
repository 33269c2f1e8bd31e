import { parseDuration, parseFlags, UsageError, type FlagSpec } from '../../plugins/framework/flags';

const specs: FlagSpec[] = [
  { name: 'shared-count', env: 'SHARED_COUNT', type: 'int', default: 110, min: 1, help: '' },
  { name: 'cdi', env: 'CDI', type: 'bool', default: true, help: '' },
  { name: 'mode', env: 'MODE', type: 'enum', choices: ['a', 'b'], default: 'a', help: '' },
  { name: 'every', env: 'EVERY', type: 'duration', default: '30s', help: '' },
  { name: 'match', env: 'MATCH', type: 'regex', help: '' },
  { name: 'dry-run', env: 'DRY_RUN', type: 'bool', short: 'n', default: false, help: '' },
];

test('defaults, then env vars, then the command line win', () => {
  expect(parseFlags(specs, [], {}).values).toMatchObject({
    sharedCount: 110,
    cdi: true,
    mode: 'a',
    every: 30_000,
    dryRun: false,
  });
  expect(parseFlags(specs, [], { SHARED_COUNT: '7', CDI: 'false' }).values).toMatchObject({
    sharedCount: 7,
    cdi: false,
  });
  expect(
    parseFlags(specs, ['--shared-count', '3', '--cdi=true', '-n'], { SHARED_COUNT: '7', CDI: 'false' })
      .values,
  ).toMatchObject({
    sharedCount: 3,
    cdi: true,
    dryRun: true,
  });
  expect((parseFlags(specs, ['--match=^eth[0-9]$'], {}).values.match as RegExp).test('eth1')).toBe(true);
});

test.each([
  [['--bogus'], /unknown flag --bogus/],
  [['--shared-count', 'many'], /--shared-count: "many" is not an integer/],
  [['--shared-count=0'], /below the minimum 1/],
  [['--cdi=maybe'], /not a boolean/],
  [['--mode', 'c'], /not one of a, b/],
  [['--every', '30'], /not a duration/],
  [['--match', '('], /not a regular expression/],
  [['--shared-count'], /needs a value/],
])('%j is a usage error', (argv, message) => {
  expect(() => parseFlags(specs, argv as string[], {})).toThrow(UsageError);
  expect(() => parseFlags(specs, argv as string[], {})).toThrow(message);
});

test('a bad env var names the variable', () => {
  expect(() => parseFlags(specs, [], { SHARED_COUNT: 'x' })).toThrow(/SHARED_COUNT \(env\)/);
});

test('durations', () => {
  expect(parseDuration('250ms')).toBe(250);
  expect(parseDuration('1.5s')).toBe(1500);
  expect(parseDuration('5m')).toBe(300_000);
  expect(parseDuration('1h')).toBe(3_600_000);
  expect(() => parseDuration('5 minutes')).toThrow();
});

test('short flags take attached values (-V3) and flags without an env var work', () => {
  const withShort: FlagSpec[] = [
    { name: 'verbose', short: 'V', type: 'int', default: 0, help: '' },
    { name: 'dry-run', short: 'n', type: 'bool', default: false, help: '' },
  ];
  expect(parseFlags(withShort, ['-V3'], {}).values).toEqual({ verbose: 3, dryRun: false });
  expect(parseFlags(withShort, ['-V', '2', '-n'], {}).values).toEqual({ verbose: 2, dryRun: true });
  expect(() => parseFlags(withShort, ['-nx'], {})).toThrow(/unknown flag -nx/);
});
