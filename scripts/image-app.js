#!/usr/bin/env node
// The image's /app without a container builder: assembles it as the Dockerfile's last stage does and
// prints its file count and size (README, "The image").
//
//   node scripts/image-app.js [--keep DIR]     (DIR inside this checkout: the bundler resolves packages from it)
//
// The build stage (`COPY . .`, `npm run build`) is compiled afresh from this checkout into a temporary
// /src/dist; the last stage's `COPY` lines are then carried out into a temporary /app, its
// `npm ci --omit=dev` run there, and every plugin (and the CXI generator) started with `--help` from it
// with the image's Node flags, as the Dockerfile's compile-cache step does: an /app missing a module the
// DaemonSets load fails here. Prints JSON: files and bytes of /app, with and without node_modules.
'use strict';
const { execFileSync } = require('child_process');
const fs = require('fs');
const path = require('path');

const root = path.join(__dirname, '..');
const keepAt = process.argv.indexOf('--keep');
// Under node_modules/ (ignored by git), so that the bundler resolves the packages from this checkout.
const work =
  keepAt > 0
    ? path.resolve(process.argv[keepAt + 1])
    : path.join(root, 'node_modules', '.cache', 'kdp-image-app');
for (const dir of ['src', 'app']) fs.rmSync(path.join(work, dir), { recursive: true, force: true });
const src = path.join(work, 'src');
const app = path.join(work, 'app');
fs.rmSync(app, { recursive: true, force: true });
fs.mkdirSync(app, { recursive: true });

/** The last stage's instructions, continuation lines joined. */
function lastStage() {
  const lines = fs
    .readFileSync(path.join(root, 'Dockerfile'), 'utf8')
    .replace(/\\\n/g, ' ')
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line && !line.startsWith('#'));
  return lines.slice(lines.map((line) => /^FROM\b/i.test(line)).lastIndexOf(true));
}

function run(command, args, options = {}) {
  try {
    execFileSync(command, args, { stdio: ['ignore', 'ignore', 'pipe'], ...options });
  } catch (err) {
    process.stderr.write(`${command} ${args.join(' ')} failed:\n${err.stderr ?? err.message}\n`);
    process.exit(1);
  }
}

// Build stage: `npm run build` of this checkout (tsc, the bundle, the protos), into /src/dist.
run(process.execPath, [
  require.resolve('typescript/bin/tsc'),
  '-p',
  path.join(root, 'tsconfig.json'),
  '--outDir',
  path.join(src, 'dist'),
]);
run(process.execPath, [path.join(root, 'scripts', 'bundle.js'), path.join(src, 'dist')]);
fs.mkdirSync(path.join(src, 'dist', 'proto'), { recursive: true });
for (const file of fs.readdirSync(path.join(root, 'proto')))
  if (file.endsWith('.proto'))
    fs.copyFileSync(path.join(root, 'proto', file), path.join(src, 'dist', 'proto', file));

let stage = lastStage();
for (const line of stage) {
  if (/^COPY\b/.test(line)) {
    const words = line.split(/\s+/).slice(1);
    const fromBuild = words.some((w) => w.startsWith('--from='));
    const mode = words.find((w) => w.startsWith('--chmod='));
    const args = words.filter((w) => !w.startsWith('--'));
    const dest = path.join(app, path.posix.resolve('/app', args[args.length - 1]).replace(/^\/app\/?/, ''));
    for (const source of args.slice(0, -1)) {
      const from = fromBuild ? path.join(work, source.replace(/^\//, '')) : path.join(root, source);
      const target = args.length > 2 || dest.endsWith('/') ? path.join(dest, path.basename(source)) : dest;
      fs.mkdirSync(path.dirname(target), { recursive: true });
      fs.cpSync(from, target, { recursive: true });
      if (mode) fs.chmodSync(target, parseInt(mode.slice('--chmod='.length), 8));
    }
  } else if (/^RUN npm ci\b.*--omit=dev/.test(line)) {
    run('npm', ['ci', '--omit=dev', '--no-audit', '--no-fund', '--prefer-offline', '--ignore-scripts'], {
      cwd: app,
    });
  }
}

/** Files and bytes under a directory (links counted as files, not followed). */
function measure(dir, skip = () => false) {
  let files = 0;
  let bytes = 0;
  const walk = (d) => {
    for (const entry of fs.readdirSync(d, { withFileTypes: true })) {
      const p = path.join(d, entry.name);
      if (skip(p)) continue;
      if (entry.isDirectory()) walk(p);
      else {
        files++;
        bytes += fs.lstatSync(p).size;
      }
    }
  };
  walk(dir);
  return { files, bytes };
}
const nodeModules = path.join(app, 'node_modules');
const ours = measure(app, (p) => p === nodeModules);
const all = measure(app);

// What the DaemonSets run must start from this /app (the Dockerfile's compile-cache step does the same).
const entry = (...args) => ['--max-semi-space-size=1', '--lite-mode', ...args, '--help'];
for (const plugin of ['tdx', 'kvm', 'devnode', 'cxi', 'netdevice', 'cex'])
  run(process.execPath, entry(path.join(app, 'bin', 'kube-device-plugins.js'), plugin), { cwd: app });
run(process.execPath, entry(path.join(app, 'bin', 'cxi-cdi-generator.js')), { cwd: app });
// The chart's `helm test` pod runs bin/kdp-chart-test.js against a live cluster: here it only has to load.
run(process.execPath, ['-e', `require(${JSON.stringify(path.join(app, 'dist', 'chart-test', 'main.js'))})`], {
  cwd: app,
});

const mib = (n) => Math.round((n / 1048576) * 100) / 100;
process.stdout.write(
  JSON.stringify({
    app: { files: all.files, MiB: mib(all.bytes) },
    'app without node_modules': { files: ours.files, MiB: mib(ours.bytes) },
    dist: measure(path.join(app, 'dist')).files,
  }) + '\n',
);
if (keepAt < 0)
  for (const dir of ['src', 'app']) fs.rmSync(path.join(work, dir), { recursive: true, force: true });
