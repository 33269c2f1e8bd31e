/**
 * Each setting a family's catalogue (plugins/catalogue/) gives the chart travels from values.yaml to the
 * plugin's parsed flag unchanged: the committed chart's values.yaml holds the flag's default under the
 * setting's key, values.schema.json its type and bounds, and real Helm renders the DaemonSet args that the
 * plugin's own flag parser reads back as the same value, at the default and at another value.
 */
import * as fs from 'fs';
import * as path from 'path';
import * as yaml from 'js-yaml';
import { CATALOGUES, ENV_CATALOGUES } from '../../plugins/catalogue';
import { readSettings, type CexSettings } from '../../plugins/cex/settings';
import { chartSettings, type EnvSetting, type FlagSpec } from '../../plugins/catalogue/setting';
import { loadCommand } from '../../plugins/cli/families';
import { COMMON_FLAGS, createLogger, flagKey, parseDuration, parseFlags } from '../../plugins/framework';
import type { PodSpec } from '../../synth/k8s-types';
import { helmTemplate, helms, REPO_ROOT, type K8sObject } from './helpers/helm';

const CHART = path.join(REPO_ROOT, 'charts', 'kube-device-plugins');
const valuesYaml = yaml.load(fs.readFileSync(path.join(CHART, 'values.yaml'), 'utf8')) as Record<
  string,
  Record<string, unknown>
>;
const schema = JSON.parse(fs.readFileSync(path.join(CHART, 'values.schema.json'), 'utf8')) as {
  properties: Record<string, { properties: Record<string, Record<string, unknown>> }>;
};
const helm = helms()[0];
const families = Object.entries(CATALOGUES) as [keyof typeof CATALOGUES, readonly FlagSpec[]][];

/** A valid value other than the default, as values.yaml would carry it. */
function otherValue(setting: FlagSpec | EnvSetting): string | number | boolean {
  switch (setting.type) {
    case 'int':
      return setting.default === setting.max ? setting.min! : (setting.max ?? Number(setting.default) + 1);
    case 'bool':
      return setting.default !== true;
    case 'duration':
      return setting.default === '45s' ? '50s' : '45s';
    case 'enum':
      return setting.choices!.find((c) => c !== setting.default)!;
    case 'regex':
      return '^hsn[0-9]$';
    default:
      switch (setting.chart?.format) {
        case 'resourceName':
        case 'optionalResourceName':
          return 'example.com/settings-test';
        case 'absolutePath':
          return '/opt/settings-test';
        case 'nestedPath':
          return '/opt/settings/test';
        default:
          return 'settings-test';
      }
  }
}

/** What the plugin's parser makes of a raw value of this setting. */
function parsedAs(setting: FlagSpec, raw: string | number | boolean): unknown {
  if (setting.type === 'duration') return parseDuration(String(raw));
  return setting.type === 'regex' ? new RegExp(String(raw)) : raw;
}

/** The value values.yaml holds: the flag's default, or the chart's for a flag that has none. */
const chartDefault = (setting: ReturnType<typeof chartSettings>[number]) =>
  setting.chart.default ?? setting.default;

/** The family's plugin container in a `helm template` of the committed chart with these values. */
function pluginContainer(family: string, values: unknown): { args: string[]; env: NodeJS.ProcessEnv } {
  const rendered = helmTemplate(helm, CHART, { values });
  expect(rendered.stderr).toBe('');
  expect(rendered.status).toBe(0);
  for (const daemonSet of rendered.objects.filter((o: K8sObject) => o.kind === 'DaemonSet')) {
    const spec = (daemonSet.spec as { template: { spec: PodSpec } }).template.spec;
    const container = spec.containers.find((c) => c.command[c.command.length - 1] === family);
    if (!container) continue;
    const env = Object.fromEntries(
      (container.env ?? []).flatMap((e) => (e.value === undefined ? [] : [[e.name, e.value]])),
    );
    return { args: container.args ?? [], env };
  }
  throw new Error(`no ${family} DaemonSet rendered`);
}

test.each(families)('%s: the command takes its flags from the catalogue', (family, catalogue) => {
  expect(catalogue.length).toBeGreaterThan(0);
  for (const setting of catalogue) expect(loadCommand(family)!.flags).toContain(setting);
});

/** The families whose catalogue gives the chart values (devnode's config is a file, not a flag value). */
const charted = families.filter(([, catalogue]) => chartSettings(catalogue).length > 0);

test('the flag catalogues that give the chart values (cex: environment variables, below)', () => {
  expect(charted.map(([family]) => family).sort()).toEqual(['cxi', 'kvm', 'netdevice', 'tdx']);
});

describe.each(charted)('%s', (family, catalogue) => {
  const settings = chartSettings(catalogue);
  const command = loadCommand(family)!;

  test('values.yaml holds each default under its key, values.schema.json its type and bounds', () => {
    for (const setting of settings) {
      const where = `${family}.${setting.chart.key} (--${setting.name})`;
      expect([where, valuesYaml[family][setting.chart.key]]).toEqual([where, chartDefault(setting)]);
      // A chart default of its own only where the flag has none.
      if (setting.chart.default !== undefined) expect([where, setting.default]).toEqual([where, undefined]);
      const property = schema.properties[family].properties[setting.chart.key];
      const type = { int: 'integer', bool: 'boolean' }[setting.type as string] ?? 'string';
      expect([where, property.type]).toEqual([where, type]);
      expect([where, property.minimum, property.maximum]).toEqual([where, setting.min, setting.max]);
      if (setting.type === 'enum') expect([where, property.enum]).toEqual([where, setting.choices]);
      expect([where, String(property.description)]).toEqual([
        where,
        expect.stringContaining(`(--${setting.name}`),
      ]);
    }
  });

  test('at the defaults, Helm renders args the plugin parses to its own defaults', () => {
    const { args, env } = pluginContainer(family, undefined);
    const parsed = parseFlags([...command.flags, ...COMMON_FLAGS], args, env).values;
    for (const setting of settings) {
      const key = flagKey(setting.name);
      expect(args).toContain(`--${setting.name}=${String(chartDefault(setting))}`);
      // The flag's own default, as the parser makes it without the chart; or the chart's default parsed.
      const expected =
        setting.chart.default === undefined
          ? parseFlags([setting], [], {}).values[key]
          : parsedAs(setting, setting.chart.default);
      expect([setting.name, parsed[key]]).toEqual([setting.name, expected]);
      expect([setting.name, typeof parsed[key]]).toEqual([
        setting.name,
        { int: 'number', duration: 'number', bool: 'boolean', regex: 'object' }[setting.type as string] ??
          'string',
      ]);
    }
  });

  test('every value set in values.yaml reaches its flag', () => {
    const values = Object.fromEntries(settings.map((s) => [s.chart.key, otherValue(s)]));
    const { args, env } = pluginContainer(family, { [family]: values });
    const parsed = parseFlags([...command.flags, ...COMMON_FLAGS], args, env).values;
    for (const setting of settings) {
      const raw = values[setting.chart.key];
      expect(raw).not.toEqual(setting.default);
      expect([setting.name, parsed[flagKey(setting.name)]]).toEqual([setting.name, parsedAs(setting, raw)]);
    }
  });
});

test('flags are typed by their catalogue: a renamed flag no longer compiles where it is read', () => {
  // Checked by `tsc -p tsconfig.test.json` in `npm run lint`: the unused @ts-expect-error would fail it.
  const values = parseFlags(CATALOGUES.cxi, [], {}).values;
  const virtualDevices: number = values.virtualDevices;
  const cdi: boolean = values.cdi;
  // @ts-expect-error -- not a flag of the catalogue
  expect(values.virtualDevice).toBeUndefined();
  expect([virtualDevices, cdi]).toEqual([1, false]);
});

describe('cex (environment variables)', () => {
  const settings = chartSettings(ENV_CATALOGUES.cex);
  /** What the plugin's reader makes of each, by Helm value. */
  const read: Record<string, (s: CexSettings) => unknown> = {
    apqnCheckInterval: (s) => s.apqnCheckIntervalMs / 1000,
    cryptoconfigCheckInterval: (s) => s.configCheckIntervalMs / 1000,
    podlisterPollInterval: (s) => s.podListerPollMs / 1000,
    resourceDeleteNeverUsed: (s) => s.deleteNeverUsedMs / 1000,
    resourceDeleteUnused: (s) => s.deleteUnusedMs / 1000,
    apqnOvercommitLimit: (s) => s.overcommitLimit,
    apqnLiveSysfs: (s) => (s.liveSysfs ? 1 : 0),
    shadowSysfsDir: (s) => s.shadowBaseDir,
  };
  const warnings: string[] = [];
  const log = createLogger({ level: 'warn', format: 'json', write: (line) => warnings.push(line) });
  const common = parseFlags(COMMON_FLAGS, [], {}).values;
  const readFrom = (env: NodeJS.ProcessEnv) => readSettings({ ...env, NODENAME: 'node-a' }, common, log);

  test('values.yaml holds each default, values.schema.json its type and bounds', () => {
    expect(Object.keys(read).sort()).toEqual(settings.map((s) => s.chart.key).sort());
    for (const setting of settings) {
      const where = `cex.${setting.chart.key} (${setting.env})`;
      expect([where, valuesYaml.cex[setting.chart.key]]).toEqual([where, setting.default]);
      const property = schema.properties.cex.properties[setting.chart.key];
      expect([where, property.type]).toEqual([where, setting.type === 'int' ? 'integer' : 'string']);
      expect([where, property.minimum, property.maximum]).toEqual([where, setting.min, setting.max]);
      expect([where, String(property.description)]).toEqual([
        where,
        expect.stringContaining(`(${setting.env})`),
      ]);
    }
  });

  test.each([
    ['the defaults', undefined],
    ['other values', Object.fromEntries(settings.map((s) => [s.chart.key, otherValue(s)]))],
  ])('Helm renders env vars the plugin reads as the values: %s', (_, values) => {
    const { env } = pluginContainer('cex', values && { cex: values });
    const parsed = readFrom(env);
    for (const setting of settings) {
      const expected = values ? values[setting.chart.key] : setting.default;
      if (values) expect(expected).not.toEqual(setting.default);
      expect([setting.env, env[setting.env]]).toEqual([setting.env, String(expected)]);
      expect([setting.chart.key, read[setting.chart.key](parsed)]).toEqual([setting.chart.key, expected]);
    }
    expect(warnings).toEqual([]);
  });
});

describe('the common flags (root values, every plugin)', () => {
  const settings = chartSettings(COMMON_FLAGS);
  const rootSchema = schema as unknown as { properties: Record<string, Record<string, unknown>> };

  test('values.yaml holds each default at the root, values.schema.json its choices', () => {
    expect(settings.map((s) => s.name)).toEqual(['log-level', 'log-format']);
    for (const setting of settings) {
      expect([setting.name, valuesYaml[setting.chart.key]]).toEqual([setting.name, setting.default]);
      const property = rootSchema.properties[setting.chart.key];
      expect([setting.name, property.enum]).toEqual([setting.name, setting.choices]);
      expect(String(property.description)).toContain(`(--${setting.name})`);
    }
  });

  test.each([
    ['the defaults', undefined],
    ['other values', Object.fromEntries(settings.map((s) => [s.chart.key, otherValue(s)]))],
  ])('Helm renders args every plugin parses to the values: %s', (_, values) => {
    for (const family of Object.keys(CATALOGUES)) {
      const { args, env } = pluginContainer(family, values);
      const parsed = parseFlags([...loadCommand(family)!.flags, ...COMMON_FLAGS], args, env).values;
      for (const setting of settings) {
        const expected = values ? values[setting.chart.key] : setting.default;
        if (values) expect(expected).not.toEqual(setting.default);
        expect([family, setting.name, parsed[flagKey(setting.name)]]).toEqual([
          family,
          setting.name,
          expected,
        ]);
      }
    }
  });
});
