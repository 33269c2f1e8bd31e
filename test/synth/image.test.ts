/**
 * The image the chart runs, checked without building it (no container builder here): the runtime stage keeps
 * only `dependencies` (`npm ci --omit=dev`), so every package the plugins and the generator load at run time
 * must be one; every file the DaemonSets run from /app must be copied into that stage; the build context
 * (.dockerignore) must keep what `npm run build` reads.
 */
import * as fs from 'fs';
import { builtinModules } from 'module';
import * as path from 'path';
import * as ts from 'typescript';
import { PLUGIN_NAMES } from '../../plugins/cli/main';
import { PodSpec } from '../../synth/k8s-types';
import { REPO_ROOT } from './helpers/helm';
import { VALUE_SETS, synthObjects } from './helpers/synth';

const read = (file: string) => fs.readFileSync(path.join(REPO_ROOT, file), 'utf8');
const packageJson = JSON.parse(read('package.json')) as {
  dependencies: Record<string, string>;
  devDependencies: Record<string, string>;
  bin: Record<string, string>;
};

/** Module specifiers a TypeScript file loads at run time (type-only imports and exports are erased). */
function runtimeSpecifiers(file: string): string[] {
  const source = ts.createSourceFile(file, fs.readFileSync(file, 'utf8'), ts.ScriptTarget.ES2022, true);
  const found: string[] = [];
  const visit = (node: ts.Node) => {
    if (ts.isImportDeclaration(node) && !node.importClause?.isTypeOnly) {
      const named = node.importClause?.namedBindings;
      const onlyTypes =
        named !== undefined &&
        ts.isNamedImports(named) &&
        named.elements.length > 0 &&
        named.elements.every((e) => e.isTypeOnly) &&
        node.importClause?.name === undefined;
      if (!onlyTypes) found.push((node.moduleSpecifier as ts.StringLiteral).text);
    } else if (ts.isExportDeclaration(node) && node.moduleSpecifier && !node.isTypeOnly) {
      found.push((node.moduleSpecifier as ts.StringLiteral).text);
    } else if (
      ts.isCallExpression(node) &&
      ts.isIdentifier(node.expression) &&
      node.expression.text === 'require' &&
      node.arguments.length === 1 &&
      ts.isStringLiteral(node.arguments[0])
    ) {
      found.push(node.arguments[0].text);
    }
    ts.forEachChild(node, visit);
  };
  visit(source);
  return found;
}

function resolveSource(from: string, specifier: string): string {
  const base = path.resolve(path.dirname(from), specifier);
  for (const candidate of [`${base}.ts`, path.join(base, 'index.ts')])
    if (fs.existsSync(candidate)) return candidate;
  throw new Error(`${path.relative(REPO_ROOT, from)}: cannot resolve ${specifier}`);
}

/** The packages (by name) the files reachable from `entries` load, with a file that loads each. */
function runtimePackages(entries: string[]): Map<string, string> {
  return runtimeClosure(entries).packages;
}

/** The repository files reachable from `entries` at run time, and the packages they load. */
function runtimeClosure(entries: string[]): { files: Set<string>; packages: Map<string, string> } {
  const packages = new Map<string, string>();
  const seen = new Set<string>();
  const queue = [...entries];
  while (queue.length > 0) {
    const file = queue.pop()!;
    if (seen.has(file)) continue;
    seen.add(file);
    for (const specifier of runtimeSpecifiers(file)) {
      if (specifier.startsWith('.')) queue.push(resolveSource(file, specifier));
      else if (!builtinModules.includes(specifier.replace(/^node:/, ''))) {
        const parts = specifier.split('/');
        const name = specifier.startsWith('@') ? parts.slice(0, 2).join('/') : parts[0];
        if (!packages.has(name)) packages.set(name, path.relative(REPO_ROOT, file));
      }
    }
  }
  return { files: seen, packages };
}

/** The instructions of the Dockerfile's last stage (the image), continuation lines joined. */
function finalStage(): string[] {
  const lines = read('Dockerfile')
    .replace(/\\\n/g, ' ')
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line && !line.startsWith('#'));
  const from = lines.map((line) => /^FROM\b/i.test(line)).lastIndexOf(true);
  return lines.slice(from);
}

describe('the image', () => {
  // The entry points the DaemonSets run: the CLI (which loads plugins/<name>/command by name) and the generator.
  const entries = [
    'plugins/cli/entry.ts',
    'plugins/cli/main.ts',
    ...PLUGIN_NAMES.map((name) => `plugins/${name}/command.ts`),
    'plugins/cxi/generator-main.ts',
  ].map((file) => path.join(REPO_ROOT, file));

  test('every package the plugins load at run time is a dependency, which npm ci --omit=dev keeps', () => {
    const packages = runtimePackages(entries);
    expect(packages.size).toBeGreaterThan(0);
    const missing = [...packages].filter(([name]) => !(name in packageJson.dependencies));
    expect(missing.map(([name, file]) => `${name} (loaded by ${file})`)).toEqual([]);
  });

  test('its last stage installs only dependencies and copies everything the DaemonSets run from /app', () => {
    const stage = finalStage();
    expect(stage.some((line) => /npm ci\b.*--omit=dev/.test(line))).toBe(true);
    expect(stage).toContain('WORKDIR /app');
    // `COPY [--flags] <src> <dest>` (dest relative to /app): which image paths come from where.
    const copies = stage
      .filter((line) => /^COPY\b/.test(line))
      .map((line) => line.split(/\s+/).slice(1))
      .map((words) => {
        const args = words.filter((w) => !w.startsWith('--'));
        const fromBuild = words.some((w) => w.startsWith('--from='));
        const dest = path.posix.resolve('/app', args[args.length - 1]);
        return { sources: args.slice(0, -1), dest, fromBuild };
      });
    /** The repository file the image path comes from (dist/ files: their TypeScript source). */
    const origin = (imagePath: string): string | undefined => {
      for (const copy of copies) {
        if (copy.sources.length !== 1) continue;
        const dest = copy.dest;
        if (imagePath !== dest && !imagePath.startsWith(`${dest}/`)) continue;
        const rest = imagePath.slice(dest.length);
        if (copy.fromBuild) {
          // /src/dist/<x>.js is compiled from <x>.ts; the bundle (scripts/bundle.js) is built from the CLI's entry.
          if (!/^\/src\/dist(\/|$)/.test(copy.sources[0])) continue;
          const compiled = path.posix.join(copy.sources[0].slice('/src/dist'.length), rest);
          if (compiled === '/bundle/kube-device-plugins.js') return 'plugins/cli/entry.ts';
          return `${compiled.replace(/^\//, '').replace(/\.js$/, '')}.ts`;
        }
        return path.posix.join(copy.sources[0], rest);
      }
      return undefined;
    };

    const run = new Set<string>();
    for (const set of Object.keys(VALUE_SETS)) {
      for (const daemonSet of synthObjects(VALUE_SETS[set]).filter((o) => o.kind === 'DaemonSet')) {
        const spec = (daemonSet.spec as { template: { spec: PodSpec } }).template.spec;
        for (const container of [...spec.containers, ...(spec.initContainers ?? [])]) {
          for (const word of [...container.command, ...(container.args ?? [])].join(' ').split(/\s+/))
            if (word.startsWith('/app/')) run.add(word.replace(/^"|"$/g, ''));
        }
      }
    }
    expect([...run].sort()).toEqual([
      '/app/bin/cxi-cdi-generator.js',
      '/app/bin/kube-device-plugins.js',
      '/app/plugins/netdevice/hooks/netdevice-hook.sh',
    ]);
    for (const imagePath of run) {
      const file = origin(imagePath);
      expect([imagePath, file && fs.existsSync(path.join(REPO_ROOT, file))]).toEqual([imagePath, true]);
    }
    // The bins load dist/ (copied from the build stage): their targets are compiled from sources here.
    for (const bin of Object.values(packageJson.bin)) {
      for (const [, target] of read(bin).matchAll(/require\('\.\.\/(dist\/[^']+)'\)/g)) {
        const file = origin(`/app/${target}`);
        expect([target, file && fs.existsSync(path.join(REPO_ROOT, file))]).toEqual([target, true]);
      }
    }
    // Every module those entry points (and the chart's `helm test` program) load is in the image, and only
    // product code is: the compiled directories copied are the plugins and chart-test, nothing else of dist/.
    const loaded = runtimeClosure([...entries, path.join(REPO_ROOT, 'chart-test', 'main.ts')]).files;
    const notCopied = [...loaded]
      .map((file) => path.relative(REPO_ROOT, file))
      .filter((file) => !origin(`/app/dist/${file.replace(/\.ts$/, '.js')}`));
    expect(notCopied).toEqual([]);
    expect(copies.filter((c) => c.fromBuild).flatMap((c) => c.sources)).toEqual([
      '/src/dist/bundle',
      '/src/dist/plugins',
      '/src/dist/chart-test',
    ]);
    // The hook is run by the container runtime, so it must be executable as copied.
    expect(
      stage.some((line) => /^COPY --chmod=0?755 plugins\/netdevice\/hooks\/netdevice-hook\.sh /.test(line)),
    ).toBe(true);
    // netdevice reads links with `ip -json` and watches them with `ip monitor`.
    expect(stage.some((line) => /apt-get install .*\biproute2\b/.test(line))).toBe(true);
  });

  test('.dockerignore keeps what the build stage reads', () => {
    const ignored = read('.dockerignore')
      .split('\n')
      .map((line) => line.trim())
      .filter((line) => line && !line.startsWith('#'));
    const isIgnored = (file: string) =>
      ignored.some((pattern) =>
        pattern.startsWith('*')
          ? file.endsWith(pattern.slice(1))
          : file === pattern || file.startsWith(`${pattern}/`),
      );
    const tsconfig = JSON.parse(read('tsconfig.json')) as { include: string[] };
    const needed = [
      'package.json',
      'package-lock.json',
      'tsconfig.json',
      'scripts/copy-protos.js',
      'scripts/bundle.js',
      'proto',
      'bin',
      'plugins/netdevice/hooks/netdevice-hook.sh',
      ...tsconfig.include,
    ];
    expect(needed.filter(isIgnored)).toEqual([]);
    for (const file of needed)
      expect([file, fs.existsSync(path.join(REPO_ROOT, file))]).toEqual([file, true]);
  });
});
