// The bundle the `kube-device-plugins` bin runs: dist/bundle/kube-device-plugins.js, one CommonJS file built by
// esbuild from tsc's output of plugins/cli/entry.ts (`npm run build` runs tsc, then this).
//
// Why: a plugin process used to resolve and read ~120 files at start-up (our modules, @grpc/grpc-js, js-yaml),
// each a separate lookup, read and compile; one file is one read and, with Node's compile cache
// (NODE_COMPILE_CACHE, filled in the image), one cache entry. BENCHMARKS.md ("vs-go") has what it bought.
//
// What it keeps: every module stays a module executed on its first `require` (esbuild wraps CommonJS modules),
// so what was lazy stays lazy: a family's code runs only in that family's process, the DRA code only in DRA
// mode. What start-up does not need is left outside the bundle, required from node_modules when first used
// (the image keeps them with `npm ci --omit=dev`; test/framework/bundle.test.ts checks they stay unloaded):
// - prom-client: loaded on the first /metrics scrape (plugins/framework/metrics.ts), or at start by the families
//   that define metrics of their own (netdevice, cex);
// - @kubernetes/client-node: DRA mode's API client, ESM and large, loaded only in DRA mode.
// No gRPC library is in it: the plugins speak gRPC on node:http2 (plugins/framework/grpc-server.ts, grpc-client.ts).
//
// Not done: a V8 start-up snapshot of this bundle (`node --build-snapshot`). Node cannot snapshot its http2,
// tls or http modules, which a gRPC server needs; BENCHMARKS.md ("vs-go") quotes the error.
'use strict';
const fs = require('fs');
const path = require('path');
const esbuild = require('esbuild');

const root = path.join(__dirname, '..');
// tsc's output directory: dist/ (or the one given, as scripts/image-app.js does for a fresh build).
const dist = process.argv[2] ? path.resolve(process.argv[2]) : path.join(root, 'dist');

const outfile = path.join(dist, 'bundle', 'kube-device-plugins.js');
esbuild.buildSync({
  entryPoints: [path.join(dist, 'plugins', 'cli', 'entry.js')],
  outfile,
  bundle: true,
  platform: 'node',
  format: 'cjs',
  // The oldest Node the package supports (package.json "engines"); the image runs a newer one.
  target: 'node22',
  external: ['prom-client', '@kubernetes/client-node'],
  // Readable stack traces in logs: names kept, no minification (it would not change start-up measurably:
  // the compile cache skips parsing).
  minify: false,
  sourcemap: 'linked',
  logLevel: 'warning',
});

// ASCII only. V8 holds a script's source in memory for as long as it runs, one byte per character when every
// character is ASCII and two bytes for all of them otherwise: one "→" in a comment doubled the 1.1 MB bundle
// to 2.2 MB of heap (a heap snapshot of an idle kvm plugin shows it). esbuild already escapes non-ASCII
// characters in strings, regular expressions and names (its default charset); what it leaves is in comments
// (ours and js-yaml's). Each UTF-16 unit becomes one "?", so the source map's columns stay right.
const code = fs.readFileSync(outfile, 'utf8');
fs.writeFileSync(outfile, code.replace(/[\u0080-\uffff]/g, '?'));
