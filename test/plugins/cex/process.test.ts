/**
 * The real process, as the DaemonSet runs it: `node bin/kube-device-plugins.js cex` configured by
 * environment variables against a fake IBM Z host (its zcrypt kernel side emulated in this process)
 * and the kubelet simulator.
 */
import { execFileSync, spawn, spawnSync } from 'child_process';
import * as fs from 'fs';
import * as http from 'http';
import * as path from 'path';
import { FakeIbmZ } from '../../../simulator/devices/cex/fake-ibmz';
import { ZcryptEmulator } from '../../../simulator/devices/cex/zcrypt-emulator';
import { KubeletSimulator } from '../../../simulator/kubelet';
import { removeDir, tempDir } from '../../helpers/tmp';
import { BLUE, CARDS, CONFIG, RED, rootTest } from './harness';

const REPO = path.resolve(__dirname, '..', '..', '..');
const BIN = path.join(REPO, 'bin', 'kube-device-plugins.js');

/** (Re)build dist/ when it is older than any source the process runs. */
function ensureBuilt(): void {
  const entry = path.join(REPO, 'dist', 'plugins', 'cex', 'command.js');
  const builtAt = fs.statSync(entry, { throwIfNoEntry: false })?.mtimeMs ?? 0;
  const stale = ['cex', 'cli', 'framework'].some((dir) =>
    fs.readdirSync(path.join(REPO, 'plugins', dir)).some((f) => {
      const st = fs.statSync(path.join(REPO, 'plugins', dir, f));
      return st.isFile() && st.mtimeMs > builtAt;
    }),
  );
  if (!stale) return;
  spawnSync('npx', ['tsc', '-p', 'tsconfig.json'], { cwd: REPO, stdio: 'ignore' });
  execFileSync('node', [path.join(REPO, 'scripts', 'copy-protos.js')]);
  if (!fs.existsSync(entry)) throw new Error(`the build did not produce ${entry}`);
}

let dir: string;
let host: FakeIbmZ;
let env: NodeJS.ProcessEnv;

beforeAll(ensureBuilt, 180_000);
beforeEach(() => {
  dir = tempDir('kdp-cexp-');
  host = FakeIbmZ.create(path.join(dir, 'host'), CARDS);
  host.writeConfig(CONFIG);
  env = {
    PATH: process.env.PATH,
    NODENAME: 'node-a',
    CCS_JSON_FILE: host.paths.configFile,
    PROC_SYSINFO_FILE: host.paths.sysinfoFile,
    SHADOWSYSFS_BASEDIR: host.paths.shadowBaseDir,
    // The AP bus and zcrypt dirs are left to default under the root flags.
    SYSFS_ROOT: host.paths.sysfsRoot,
    DEVFS_ROOT: host.paths.devfsRoot,
    DEVICE_PLUGIN_DIR: path.join(dir, 'dp'),
    POD_RESOURCES_SOCKET: path.join(dir, 'pr.sock'),
  };
});
const teardown: (() => Promise<void> | void)[] = [];
const onTeardown = (fn: () => Promise<void> | void) => teardown.push(fn);
afterEach(async () => {
  for (const fn of teardown.splice(0)) await fn();
  removeDir(dir);
});

function run(args: string[], extra: NodeJS.ProcessEnv = {}) {
  const result = spawnSync('node', [BIN, 'cex', ...args], { env: { ...env, ...extra }, encoding: 'utf8' });
  return { code: result.status, stdout: result.stdout, stderr: result.stderr };
}

function get(url: string): Promise<string> {
  return new Promise((resolve, reject) =>
    http.get(url, (res) => {
      let body = '';
      res.on('data', (chunk) => (body += chunk));
      res.on('end', () => resolve(body));
      res.on('error', reject);
    }),
  );
}

describe('kube-device-plugins cex (real process)', () => {
  test('a bad flag exits 2 with the reason on stderr', () => {
    const result = run(['--bogus']);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('unknown flag --bogus');
  });

  test('bad configuration at start exits 2 naming the setting', async () => {
    const emulator = ZcryptEmulator.forHost(host.paths);
    emulator.start();
    onTeardown(() => emulator.stop());
    let result = run([], { NODENAME: '' });
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('NODENAME is required');

    host.writeConfig({ cryptoconfigsets: [{ setname: 'blue', project: 'p', mincexgen: 'cex3' }] });
    result = run([]);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('set "blue": mincexgen: "cex3" is not one of');

    result = run([], { SYSFS_ROOT: path.join(dir, 'nowhere') });
    expect(result.code).toBe(2);
    expect(result.stderr).toContain(
      `${path.join(dir, 'nowhere', 'bus', 'ap')} (APSYSFS_BUSDIR) does not exist`,
    );
  });

  test('--help lists the environment variables', () => {
    const result = run(['--help']);
    expect(result.code).toBe(0);
    for (const name of [
      'NODENAME',
      'CCS_JSON_FILE',
      'APQN_CHECK_INTERVAL',
      'ZCRYPT_CLASSDIR',
      'APQN_LIVE_SYSFS',
    ])
      expect(result.stdout).toContain(name);
    expect(result.stdout).toContain('default 30, clamped to 10-120');
  });

  rootTest(
    'serves and allocates, clamps out-of-range env with a warning; SIGTERM removes its sockets, exits 0',
    async () => {
      const emulator = ZcryptEmulator.forHost(host.paths);
      emulator.start();
      const kubelet = new KubeletSimulator({
        devicePluginDir: env.DEVICE_PLUGIN_DIR as string,
        podResourcesSocket: env.POD_RESOURCES_SOCKET,
      });
      await kubelet.start();
      const child = spawn('node', [BIN, 'cex', '--http-addr=127.0.0.1:0'], {
        env: { ...env, APQN_CHECK_INTERVAL: '5', APQN_OVERCOMMIT_LIMIT: '2' },
        stdio: ['ignore', 'ignore', 'pipe'],
      });
      let stderr = '';
      child.stderr.on('data', (chunk) => (stderr += chunk));
      const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
      try {
        await kubelet.waitForRegistration(BLUE, 15_000);
        await kubelet.waitForRegistration(RED, 15_000);
        expect(kubelet.capacity(BLUE)).toBe(4); // APQN_OVERCOMMIT_LIMIT applies to blue
        const [res] = await kubelet.allocate(BLUE, [['apqn-0-6-1']]);
        expect(res.devices[0]).toEqual({
          container_path: '/dev/z90crypt',
          host_path: path.join(host.paths.devfsRoot, 'zcrypt-apqn-0-6-1'),
          permissions: 'rw',
        });

        const lines = stderr
          .split('\n')
          .filter(Boolean)
          .map((l) => JSON.parse(l));
        expect(lines).toContainEqual(
          expect.objectContaining({
            level: 'warn',
            msg: 'APQN_CHECK_INTERVAL is out of range 10-120; clamped',
            used: 10,
          }),
        );
        const addr = lines.find((l) => l.msg === 'HTTP listener up').addr as string;
        const metrics = await get(`http://${addr}/metrics`);
        expect(metrics).toContain('kdp_cex_set_devices_available{set="blue",node="node-a"} 4');
        expect(metrics).toContain('kdp_cex_zcrypt_nodes_created_total{node="node-a"} 1');

        child.kill('SIGTERM');
        expect(await exited).toBe(0);
        const left = fs.readdirSync(env.DEVICE_PLUGIN_DIR as string).filter((f) => f !== 'kubelet.sock');
        expect(left).toEqual([]);
        // The node outlives the plugin: a running container may still use it.
        expect(fs.existsSync(path.join(host.paths.devfsRoot, 'zcrypt-apqn-0-6-1'))).toBe(true);
      } finally {
        if (child.exitCode === null) child.kill('SIGKILL');
        await kubelet.stop();
        await emulator.stop();
      }
    },
    30_000,
  );
});
