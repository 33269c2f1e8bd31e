/**
 * The layer rules of eslint.config.mjs (docs/ARCHITECTURE.md), each proven by a deliberately bad import: a
 * small tree in a temporary directory, shaped like the repository, is linted with the repository's own
 * config through the ESLint API. Each bad file must fail with exactly its rule; the good files must pass,
 * so a rule that failed everything would show here too.
 */
import { execFileSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';

const REPO_ROOT = path.resolve(__dirname, '..', '..');

interface Finding {
  file: string;
  ruleId: string | null;
  message: string;
}

/** Files every import below resolves to (the rules check resolved paths). */
const TARGETS = [
  'plugins/cli/command.ts',
  'plugins/framework/log.ts',
  'plugins/device-nodes/index.ts',
  'plugins/tdx/plugin.ts',
  'plugins/kvm/plugin.ts',
  'plugins/catalogue/node-flags.ts',
  'simulator/kubelet.ts',
];

/** importing file → the import it makes. */
const GOOD: Record<string, string> = {
  'plugins/kvm/good.ts': '../framework/log',
  'plugins/kvm/good-engine.ts': '../device-nodes/index',
  'plugins/cli/good.ts': '../kvm/plugin',
  'plugins/device-nodes/good.ts': '../framework/log',
  'synth/good.ts': '../plugins/catalogue/node-flags',
  'synth/policies/good.ts': '../../plugins/catalogue/node-flags',
};

/** importing file → [the import, the rule it must break]. */
const BAD: Record<string, [string, string]> = {
  'plugins/framework/imports-cli.ts': ['../cli/command', 'import/no-restricted-paths'],
  'plugins/framework/imports-family.ts': ['../kvm/plugin', 'import/no-restricted-paths'],
  'plugins/device-nodes/imports-family.ts': ['../tdx/plugin', 'import/no-restricted-paths'],
  'plugins/kvm/imports-cli.ts': ['../cli/command', 'import/no-restricted-paths'],
  'plugins/kvm/imports-other-family.ts': ['../tdx/plugin', 'import/no-restricted-paths'],
  // Spelled the long way round: the rule checks where the import resolves, not how it is written.
  'plugins/tdx/imports-cli-long-way.ts': ['../../plugins/cli/command', 'import/no-restricted-paths'],
  'plugins/framework/imports-simulator.ts': ['../../simulator/kubelet', 'import/no-restricted-paths'],
  'synth/imports-runtime.ts': ['../plugins/framework/log', 'import/no-restricted-paths'],
  'synth/policies/imports-runtime.ts': ['../../plugins/kvm/plugin', 'import/no-restricted-paths'],
  'plugins/kvm/imports-grpc.ts': ['@grpc/grpc-js', 'no-restricted-imports'],
  'plugins/framework/imports-grpc.ts': ['@grpc/grpc-js', 'no-restricted-imports'],
  'synth/imports-grpc.ts': ['@grpc/grpc-js', 'no-restricted-imports'],
  'plugins/catalogue/imports-runtime.ts': ['../framework/log', 'no-restricted-imports'],
};

function write(root: string, file: string, text: string): void {
  fs.mkdirSync(path.dirname(path.join(root, file)), { recursive: true });
  fs.writeFileSync(path.join(root, file), text);
}

function importing(specifier: string): string {
  return `import * as imported from '${specifier}';\nexport const used = imported;\n`;
}

let findings: Finding[];

beforeAll(() => {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'kdp-lint-'));
  try {
    for (const file of TARGETS) write(root, file, 'export const value = 1;\n');
    for (const [file, specifier] of Object.entries(GOOD)) write(root, file, importing(specifier));
    for (const [file, [specifier]] of Object.entries(BAD)) write(root, file, importing(specifier));
    // A cycle of three files in one layer: each import alone is allowed, the loop is not.
    write(root, 'plugins/framework/cycle-a.ts', importing('./cycle-b'));
    write(root, 'plugins/framework/cycle-b.ts', importing('./cycle-c'));
    write(root, 'plugins/framework/cycle-c.ts', importing('./cycle-a'));
    const out = execFileSync(
      process.execPath,
      [path.join(REPO_ROOT, 'test', 'lint', 'lint-tree.mjs'), path.join(REPO_ROOT, 'eslint.config.mjs')],
      { cwd: root, encoding: 'utf8' },
    );
    findings = JSON.parse(out) as Finding[];
  } finally {
    fs.rmSync(root, { recursive: true, force: true });
  }
}, 60_000);

const rulesOf = (file: string) => findings.filter((f) => f.file === file).map((f) => f.ruleId);

test.each(Object.entries(BAD))('%s breaks its rule', (file, [, rule]) => {
  expect(rulesOf(file)).toEqual([rule]);
});

test('a cycle is refused in every file on it', () => {
  for (const file of ['cycle-a', 'cycle-b', 'cycle-c'])
    expect(rulesOf(`plugins/framework/${file}.ts`)).toEqual(['import/no-cycle']);
});

test('the allowed imports pass, and nothing else is reported', () => {
  for (const file of [...Object.keys(GOOD), ...TARGETS]) expect([file, rulesOf(file)]).toEqual([file, []]);
  const expected = new Set([
    ...Object.keys(BAD),
    ...['a', 'b', 'c'].map((c) => `plugins/framework/cycle-${c}.ts`),
  ]);
  expect(findings.filter((f) => !expected.has(f.file))).toEqual([]);
});

test('the messages say which layer rule was broken', () => {
  expect(findings.find((f) => f.file === 'plugins/kvm/imports-other-family.ts')?.message).toMatch(
    /never the CLI or another family/,
  );
  expect(findings.find((f) => f.file === 'plugins/kvm/imports-grpc.ts')?.message).toMatch(/GrpcStatus/);
  expect(findings.find((f) => f.file === 'synth/imports-runtime.ts')?.message).toMatch(/catalogues/);
});
