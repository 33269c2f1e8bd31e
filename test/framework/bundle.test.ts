/**
 * The bin runs one bundled file (scripts/bundle.js → dist/bundle/kube-device-plugins.js), and what start-up does not
 * need stays out of it and unloaded: a real kvm process, started through the bin as the image starts it, registers
 * and serves Allocate without loading prom-client or @kubernetes/client-node, and without reading any other file
 * of ours; its first /metrics scrape loads prom-client. No gRPC library is in the bundle at all. NODE_DEBUG=module makes Node log
 * each module file it loads (modules inside the bundle are not files, so they are not logged).
 */
import * as fs from 'fs';
import * as path from 'path';
import { httpGet } from '../../bench/plugin-process';
import { fixturesUnavailable, makeNode } from '../../simulator/devices/device-nodes';
import { KubeletSimulator } from '../../simulator/kubelet';
import { CLI, REPO_ROOT, requireBuild, run } from '../helpers/process';
import { testUnless } from '../helpers/root';
import { removeDir, tempDir } from '../helpers/tmp';

/** The files Node loaded as modules, from NODE_DEBUG=module's `load "<file>"` lines. */
function loadedFiles(stderr: string): string[] {
  return [...stderr.matchAll(/load "([^"]+)" for module/g)].map((m) => m[1]);
}

let dir: string;
beforeAll(() => requireBuild());
beforeEach(() => (dir = tempDir()));
afterEach(() => removeDir(dir));

testUnless(
  fixturesUnavailable(),
  'kvm through the bin: one bundle, lazy packages unloaded until used',
  async () => {
    const dp = path.join(dir, 'dp');
    fs.mkdirSync(dp);
    makeNode(path.join(dir, 'dev', 'kvm'), { type: 'char', major: 1, minor: 3 });
    const kubelet = new KubeletSimulator({ devicePluginDir: dp });
    await kubelet.start();
    const plugin = run(
      [
        CLI,
        'kvm',
        `--device-plugin-dir=${dp}`,
        `--devfs-root=${path.join(dir, 'dev')}`,
        `--cdi-dir=${path.join(dir, 'cdi')}`,
        '--http-addr=127.0.0.1:0',
      ],
      { env: { NODE_DEBUG: 'module' } },
    );
    try {
      await kubelet.waitForRegistration('github.com.ihcsim/kvm', 20_000);
      const id = kubelet.resource('github.com.ihcsim/kvm')!.devices[0].id;
      const [response] = await kubelet.allocate('github.com.ihcsim/kvm', [[id]]);
      expect(response.devices.map((d) => d.host_path)).toEqual([path.join(dir, 'dev', 'kvm')]);

      const loaded = loadedFiles(plugin.stderr());
      const ours = loaded.filter((f) => f.startsWith(REPO_ROOT) && !f.includes('/node_modules/'));
      expect(ours.map((f) => path.relative(REPO_ROOT, f)).sort()).toEqual([
        'bin/kube-device-plugins.js',
        'dist/bundle/kube-device-plugins.js',
      ]);
      expect(loaded.filter((f) => f.includes('/node_modules/'))).toEqual([]);

      const port = Number(/"msg":"HTTP listener up".*"addr":"127\.0\.0\.1:(\d+)"/.exec(plugin.stderr())![1]);
      const metrics = await httpGet(port, '/metrics');
      expect(metrics).toContain('kdp_allocations_total{resource="github.com.ihcsim/kvm"} 1');
      expect(loadedFiles(plugin.stderr()).some((f) => f.endsWith('/node_modules/prom-client/index.js'))).toBe(
        true,
      );
    } finally {
      plugin.child.kill('SIGTERM');
      expect(await plugin.exited).toBe(0);
      await kubelet.stop();
    }
  },
);

// V8 keeps a script's source for as long as it runs: one byte per character only if all of it is ASCII,
// otherwise two (scripts/bundle.js). One stray "→" in a comment doubles the bundle's 1.1 MB on the heap.
test('the bundle is ASCII only, so V8 holds its source one byte per character', () => {
  const bundle = fs.readFileSync(path.join(REPO_ROOT, 'dist', 'bundle', 'kube-device-plugins.js'), 'latin1');
  const stray = [...bundle.matchAll(/[\u0080-\uffff]/g)].map((m) => bundle.slice(m.index - 20, m.index + 20));
  expect(stray).toEqual([]);
  expect(bundle.length).toBeGreaterThan(100_000); // it is the real bundle
});

// The plugins speak gRPC on node:http2 (plugins/framework/grpc-server.ts, grpc-client.ts): loading a gRPC
// library was a tenth of a plugin's start and a few MB of its memory (BENCHMARKS.md, "vs-go", step 6).
// esbuild names every bundled package file in a comment, so a gRPC library pulled in again shows here.
test('the bundle holds no gRPC library', () => {
  const bundle = fs.readFileSync(path.join(REPO_ROOT, 'dist', 'bundle', 'kube-device-plugins.js'), 'latin1');
  expect(bundle).toContain('// node_modules/js-yaml/'); // the comments this test reads are there
  expect(bundle.match(/^\/\/ node_modules\/@grpc\/.*$/m)).toBeNull();
});
