/** The CLI runtime as a real process: exit codes, SIGTERM clean-up, the HTTP listener. */
import * as fs from 'fs';
import * as http from 'http';
import * as path from 'path';
import { KubeletSimulator } from '../../simulator/kubelet';
import { CLI, REPO_ROOT, requireBuild, run } from '../helpers/process';
import { eventually, removeDir, tempDir } from '../helpers/tmp';

/** A one-resource command defined inline, run through the real runCommand entry. */
const FAKE_COMMAND = `
const { runCommand } = require(${JSON.stringify(path.join(REPO_ROOT, 'dist/plugins/cli/command.js'))});
const command = {
  name: 'fake', summary: 'test plugin',
  flags: [{ name: 'count', env: 'FAKE_COUNT', type: 'int', min: 1, default: 2, help: 'devices' }],
  async run(ctx) {
    const n = ctx.options.count;
    await ctx.manager.addResource({
      resourceName: 'example.com/fake',
      start(publish) { publish(Array.from({ length: n }, (_, i) => ({ id: 'd' + i, health: 'Healthy' }))); },
      stop() {},
      allocate(ids) { return { envs: { IDS: ids.join(',') } }; },
    });
  },
};
runCommand(command, process.argv.slice(1));
`;

let dir: string;
beforeAll(() => requireBuild());
beforeEach(() => (dir = tempDir()));
afterEach(() => removeDir(dir));

test('no plugin, or an unknown one, exits 2 with usage', async () => {
  const none = run([CLI]);
  expect(await none.exited).toBe(2);
  expect(none.stdout()).toMatch(/Plugins: tdx, kvm, devnode, cxi, netdevice, cex/);
  const unknown = run([CLI, 'gpu']);
  expect(await unknown.exited).toBe(2);
  expect(unknown.stderr()).toMatch(/unknown plugin "gpu"/);
});

test('a bad flag or value exits 2 with the reason', async () => {
  const bad = run(['-e', FAKE_COMMAND, '--', '--count', 'zero', '--device-plugin-dir', dir]);
  expect(await bad.exited).toBe(2);
  expect(bad.stderr()).toMatch(/invalid value for --count: "zero" is not an integer/);
  const unknown = run(['-e', FAKE_COMMAND, '--', '--frobnicate']);
  expect(await unknown.exited).toBe(2);
  expect(unknown.stderr()).toMatch(/unknown flag --frobnicate/);
  const badLevel = run(['-e', FAKE_COMMAND, '--'], { env: { LOG_LEVEL: 'loud' } });
  expect(await badLevel.exited).toBe(2);
  expect(badLevel.stderr()).toMatch(/LOG_LEVEL \(env\): "loud" is not one of debug, info, warn, error/);
});

test('--help lists every flag with its env var', async () => {
  const help = run(['-e', FAKE_COMMAND, '--', '--help']);
  expect(await help.exited).toBe(0);
  for (const text of [
    '--count',
    '[FAKE_COUNT]',
    '--device-plugin-dir',
    '[DEVICE_PLUGIN_DIR]',
    '--http-addr',
    '[HTTP_ADDR]',
    '--log-format',
  ]) {
    expect(help.stdout()).toContain(text);
  }
});

test('registers, serves health endpoints, and on SIGTERM removes its socket and exits 0', async () => {
  const kubelet = new KubeletSimulator({ devicePluginDir: dir });
  await kubelet.start();
  const proc = run([
    '-e',
    FAKE_COMMAND,
    '--',
    '--device-plugin-dir',
    dir,
    '--count',
    '3',
    '--http-addr',
    '127.0.0.1:0',
    '--log-format',
    'json',
  ]);
  try {
    await kubelet.waitForRegistration('example.com/fake', 10_000);
    expect(kubelet.capacity('example.com/fake')).toBe(3);
    const [res] = await kubelet.allocate('example.com/fake', [['d0', 'd2']]);
    expect(res.envs).toEqual({ IDS: 'd0,d2' });

    // The listener's port is in the structured log.
    await eventually(() => /HTTP listener up/.test(proc.stderr()), 5000, 'listener log');
    const line = proc
      .stderr()
      .split('\n')
      .find((l) => l.includes('HTTP listener up'))!;
    const port = Number(JSON.parse(line).addr.split(':').pop());
    const status = await new Promise<number>((resolve, reject) =>
      http
        .get({ host: '127.0.0.1', port, path: '/healthz' }, (r) => resolve(r.statusCode ?? 0))
        .on('error', reject),
    );
    expect(status).toBe(200);

    proc.child.kill('SIGTERM');
    expect(await proc.exited).toBe(0);
    expect(fs.readdirSync(dir).filter((f) => f.startsWith('kdp-'))).toEqual([]);
    expect(proc.stderr()).toMatch(/"msg":"shutting down".*"signal":"SIGTERM"/);
  } finally {
    proc.child.kill('SIGKILL');
    await kubelet.stop();
  }
});

test('a kubelet restart is survived by the real process without exiting', async () => {
  const kubelet = new KubeletSimulator({ devicePluginDir: dir });
  await kubelet.start();
  const proc = run(['-e', FAKE_COMMAND, '--', '--device-plugin-dir', dir]);
  try {
    await kubelet.waitForRegistration('example.com/fake', 10_000);
    await kubelet.restart();
    await kubelet.waitFor(
      () =>
        kubelet.resource('example.com/fake')!.registrations === 2 &&
        kubelet.allocatable('example.com/fake') === 2,
      5000,
    );
    expect(proc.child.exitCode).toBeNull();
    proc.child.kill('SIGINT');
    expect(await proc.exited).toBe(0);
  } finally {
    proc.child.kill('SIGKILL');
    await kubelet.stop();
  }
});

test('a plugin killed hard (stale socket left behind) and started again registers afresh', async () => {
  const kubelet = new KubeletSimulator({ devicePluginDir: dir });
  await kubelet.start();
  const first = run(['-e', FAKE_COMMAND, '--', '--device-plugin-dir', dir]);
  let second: ReturnType<typeof run> | undefined;
  try {
    await kubelet.waitForRegistration('example.com/fake', 10_000);
    first.child.kill('SIGKILL');
    await first.exited;
    await kubelet.waitFor(
      () => kubelet.allocatable('example.com/fake') === 0,
      5000,
      'stream end after the kill',
    );
    expect(fs.readdirSync(dir).some((f) => f.startsWith('kdp-'))).toBe(true); // SIGKILL leaves the socket

    second = run(['-e', FAKE_COMMAND, '--', '--device-plugin-dir', dir, '--count', '5']);
    await kubelet.waitFor(
      () =>
        kubelet.resource('example.com/fake')!.registrations === 2 &&
        kubelet.allocatable('example.com/fake') === 5,
      10_000,
    );
    second.child.kill('SIGTERM');
    expect(await second.exited).toBe(0);
  } finally {
    first.child.kill('SIGKILL');
    second?.child.kill('SIGKILL');
    await kubelet.stop();
  }
});
