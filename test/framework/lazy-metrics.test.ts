/**
 * prom-client costs start-up time and memory, so a plugin loads it on first use (plugins/framework/metrics.ts):
 * a real plugin process registers and serves Allocate without it, and the first /metrics scrape loads it
 * with every figure recorded before intact. NODE_DEBUG=module makes Node log each module file it loads.
 */
import * as http from 'http';
import * as path from 'path';
import { KubeletSimulator } from '../../simulator/kubelet';
import { REPO_ROOT, requireBuild, run } from '../helpers/process';
import { removeDir, tempDir } from '../helpers/tmp';

const PLUGIN = `
const { runCommand } = require(${JSON.stringify(path.join(REPO_ROOT, 'dist/plugins/cli/command.js'))});
runCommand({
  name: 'lazy', summary: 'two devices', flags: [],
  async run(ctx) {
    await ctx.manager.addResource({
      resourceName: 'example.com/lazy',
      start: (publish) => publish([{ id: 'd0', health: 'Healthy' }, { id: 'd1', health: 'Healthy' }]),
      stop() {},
      allocate: () => ({ envs: { LAZY: '1' } }),
    });
  },
}, process.argv.slice(1));
`;
const PROM_CLIENT_LOADED = /load "[^"]*\/prom-client\/index\.js"/;

function get(port: number, urlPath: string): Promise<string> {
  return new Promise((resolve, reject) =>
    http
      .get({ host: '127.0.0.1', port, path: urlPath }, (res) => {
        let body = '';
        res.on('data', (c) => (body += c));
        res.on('end', () => resolve(body));
      })
      .on('error', reject),
  );
}

let dir: string;
beforeAll(() => requireBuild());
beforeEach(() => (dir = tempDir()));
afterEach(() => removeDir(dir));

test('a plugin registers and allocates without prom-client; the first scrape loads it, figures intact', async () => {
  const kubelet = new KubeletSimulator({ devicePluginDir: dir });
  await kubelet.start();
  const plugin = run(['-e', PLUGIN, '--', `--device-plugin-dir=${dir}`, '--http-addr=127.0.0.1:0'], {
    env: { NODE_DEBUG: 'module' },
  });
  try {
    await kubelet.waitForRegistration('example.com/lazy', 20_000);
    await kubelet.allocate('example.com/lazy', [['d0'], ['d1']]);
    expect(plugin.stderr()).not.toMatch(PROM_CLIENT_LOADED);

    const port = Number(/"msg":"HTTP listener up".*"addr":"127\.0\.0\.1:(\d+)"/.exec(plugin.stderr())![1]);
    const metrics = await get(port, '/metrics');
    expect(plugin.stderr()).toMatch(PROM_CLIENT_LOADED);
    expect(metrics).toContain('kdp_registrations_total{resource="example.com/lazy"} 1');
    expect(metrics).toContain('kdp_devices{resource="example.com/lazy",health="Healthy"} 2');
    expect(metrics).toContain('kdp_list_and_watch_streams{resource="example.com/lazy"} 1');
    expect(metrics).toContain('kdp_allocations_total{resource="example.com/lazy"} 2');
    expect(metrics).toContain('kdp_allocate_duration_seconds_count{resource="example.com/lazy"} 1');
    expect(metrics).toContain('process_resident_memory_bytes');
  } finally {
    plugin.child.kill('SIGTERM');
    expect(await plugin.exited).toBe(0);
    await kubelet.stop();
  }
});
