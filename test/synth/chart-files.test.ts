/**
 * The committed chart is what `npm run synth` writes today, and its values files agree with the code.
 */
import Ajv from 'ajv';
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import * as yaml from 'js-yaml';
import { parseConfig as parseDevnodeConfig } from '../../plugins/devnode/config';
import { CHART_NAME, renderChart } from '../../synth/helm/render-chart';
import { withValuesTable } from '../../synth/render';
import { PLUGINS, defaultValues, mergeValues } from '../../synth/values';
import { JsonSchema, VALUES_SCHEMA, hasFixedKeys } from '../../synth/values-schema';
import { REPO_ROOT } from './helpers/helm';
import { VALUE_SETS, synthObjects } from './helpers/synth';

const CHART_DIR = path.join(REPO_ROOT, 'charts', CHART_NAME);
const rendered = renderChart();

function filesUnder(dir: string, prefix = ''): string[] {
  return fs
    .readdirSync(dir, { withFileTypes: true })
    .flatMap((entry) =>
      entry.isDirectory()
        ? filesUnder(path.join(dir, entry.name), `${prefix}${entry.name}/`)
        : [`${prefix}${entry.name}`],
    );
}

describe(`charts/${CHART_NAME}`, () => {
  test('has exactly the files `npm run synth` writes (run it after changing synth/)', () => {
    expect(filesUnder(CHART_DIR).sort()).toEqual([...rendered.keys()].sort());
  });

  test.each([...rendered.keys()])('%s is up to date (run `npm run synth`)', (file) => {
    expect(fs.readFileSync(path.join(CHART_DIR, file), 'utf8')).toBe(rendered.get(file));
  });

  // CI runs `npm run synth` and then `git diff`, which does not see a file synth adds that was never committed.
  const tracked = gitTrackedFiles(`charts/${CHART_NAME}`);
  if (tracked === undefined) {
    if (process.env.CI) throw new Error('git is needed under CI=true to check that the chart is committed');
    console.warn('not a git checkout: skipped the check that every chart file is committed');
  }
  (tracked ? test : test.skip)('has every file git-tracked (git add what `npm run synth` writes)', () => {
    expect(tracked).toEqual([...rendered.keys()].sort());
  });
});

/** Files under `dir` in the git index (so staged counts), relative to it; undefined outside a git checkout. */
function gitTrackedFiles(dir: string): string[] | undefined {
  if (!fs.existsSync(path.join(REPO_ROOT, '.git'))) return undefined;
  const result = spawnSync('git', ['ls-files', '-z', '--', dir], { cwd: REPO_ROOT, encoding: 'utf8' });
  if (result.status !== 0) return undefined;
  return result.stdout
    .split('\0')
    .filter(Boolean)
    .map((file) => path.posix.relative(dir, file))
    .sort();
}

describe('values', () => {
  // Helm checks `format: regex` with Go's regexp; JavaScript's is close enough for these tests.
  const regex = (text: string) => {
    try {
      new RegExp(text);
      return true;
    } catch {
      return false;
    }
  };
  const ajv = new Ajv({ allErrors: true, strict: false, formats: { regex } });
  const check = ajv.compile(VALUES_SCHEMA);

  test('values.yaml holds the defaults of the code', () => {
    expect(yaml.load(rendered.get('values.yaml')!)).toEqual(defaultValues());
  });

  test.each(Object.keys(VALUE_SETS))('the schema accepts value set %s', (set) => {
    expect(check(mergeValues(defaultValues(), VALUE_SETS[set])) ? [] : check.errors).toEqual([]);
  });

  test.each([
    ['a missing required key', { tdx: { enabled: null } }],
    ['an unknown key', { tdx: { sharedcount: 3 } }],
    ['a resource name without a domain', { kvm: { resourceName: 'kvm' } }],
    ['a relative path', { cxi: { ofiRoot: 'opt/cray' } }],
    ['a quote in a path', { netdevice: { hookDir: '/opt/"x"' } }],
    ['a bad CIDR', { cxi: { nics: [{ master: 'hsn0', mode: 'l2', range: '10.0.0.0' }] } }],
    ['an out-of-range interval', { cex: { apqnCheckInterval: 5 } }],
    ['a bad quantity', { tdx: { resources: { limits: { memory: 'lots' } } } }],
    ['a top-level TDX socket dir (its parent, the host root, is mounted)', { tdx: { udsDir: '/ccnp' } }],
    ['an interfaces regex that does not compile', { netdevice: { interfaces: '^(eth|ens' } }],
  ])('the schema rejects %s', (_name, override) => {
    expect(check(mergeValues(defaultValues(), override))).toBe(false);
  });

  /** devnode resources, each accepted or refused by the plugin's own parser (plugins/devnode/config.ts). */
  const DEVNODE_RESOURCES: Array<[boolean, Record<string, unknown>]> = [
    [true, { glob: 'crand*' }],
    [true, { glob: 'dri/renderD*', containerPath: '/dev/dri/{name}' }],
    [true, { glob: '.hidden*/..x/...', containerPath: '/dev/{path}' }],
    [true, { glob: 'fpga[0-9]', containerPath: '/dev/fpga-<n>', permissions: 'mwr', shareCount: 10000 }],
    [true, { glob: 'x', containerPath: '/a/./b/.../..{name}/.c' }],
    [false, { glob: '/dev/crand*' }],
    [false, { glob: 'dri//renderD*' }],
    [false, { glob: 'dri/' }],
    [false, { glob: './crand*' }],
    [false, { glob: 'dri/../crand*' }],
    [false, { glob: '..' }],
    [false, { glob: 'x', containerPath: 'dev/x' }],
    [false, { glob: 'x', containerPath: '/dev/../etc/x' }],
    [false, { glob: 'x', containerPath: '/dev/..' }],
    [false, { glob: 'x', containerPath: '/dev/{id}' }],
    [false, { glob: 'x', permissions: 'rr' }],
    [false, { glob: 'x', permissions: 'rwx' }],
    [false, { glob: 'x', shareCount: 10001 }],
    [false, { glob: 'x', shareCount: 0 }],
  ];

  test.each(DEVNODE_RESOURCES)(
    'the schema and the devnode plugin agree (plugin accepts: %s) on %j',
    (accepted, fields) => {
      const resources = [{ name: 'example.com/crand', ...fields }];
      let pluginAccepts = true;
      try {
        parseDevnodeConfig(JSON.stringify({ resources }), 'devnode.json');
      } catch {
        pluginAccepts = false;
      }
      expect(pluginAccepts).toBe(accepted);
      expect(check(mergeValues(defaultValues(), { devnode: { config: { resources } } }))).toBe(accepted);
    },
  );

  test('the schema refuses an empty devnode config, as the plugin does', () => {
    expect(() => parseDevnodeConfig('{"resources": []}', 'devnode.json')).toThrow(/non-empty/);
    expect(check(mergeValues(defaultValues(), { devnode: { config: { resources: [] } } }))).toBe(false);
  });

  test('docs/deploy.md carries the current values table (run `npm run synth`)', () => {
    const docs = fs.readFileSync(path.join(REPO_ROOT, 'docs', 'deploy.md'), 'utf8');
    expect(docs).toBe(withValuesTable(docs));
  });

  test('each nodeSelector says where its default label comes from', () => {
    const rules = synthObjects()
      .filter((o) => o.kind === 'NodeFeatureRule')
      .map((o) => o.metadata.labels!['app.kubernetes.io/component']);
    for (const plugin of PLUGINS) {
      const description = VALUES_SCHEMA.properties![plugin].properties!.nodeSelector.description!;
      if (rules.includes(plugin)) expect(description).toContain('the label its NodeFeatureRule sets');
      else expect(description).toContain('by hand');
    }
  });

  test('the chart README lists every value', () => {
    const paths = (schema: JsonSchema, prefix: string): string[] =>
      Object.entries(schema.properties ?? {}).flatMap(([key, property]) => {
        const name = prefix ? `${prefix}.${key}` : key;
        return hasFixedKeys(property) ? paths(property, name) : [name];
      });
    const readme = rendered.get('README.md')!;
    for (const name of paths(VALUES_SCHEMA, '')) expect(readme).toContain(`| \`${name}\` |`);
  });
});
