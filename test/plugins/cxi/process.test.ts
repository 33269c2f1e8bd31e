/**
 * The real binaries, as the DaemonSet runs them: `node bin/kube-device-plugins.js cxi …` against a
 * fixture node and the kubelet simulator, and `node bin/cxi-cdi-generator.js …`.
 */
import { execFileSync, spawn, spawnSync } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import { socketNameFor } from '../../../plugins/framework';
import { KubeletSimulator } from '../../../simulator/kubelet';
import { removeDir, tempDir } from '../../helpers/tmp';
import { describeAsRoot, fixture, rootEnv, type FixtureHandle } from './helpers';

const REPO = path.resolve(__dirname, '..', '..', '..');
const PLUGIN_BIN = path.join(REPO, 'bin', 'kube-device-plugins.js');
const GENERATOR_BIN = path.join(REPO, 'bin', 'cxi-cdi-generator.js');
const RESOURCE = 'beta.hpe.com/cxi';

/** Build dist/ when it is missing or older than the sources it runs (tsc also emits despite others' errors). */
function ensureBuilt(): void {
  const built = path.join(REPO, 'dist', 'plugins', 'cxi', 'generator-main.js');
  const builtAt = fs.statSync(built, { throwIfNoEntry: false })?.mtimeMs ?? 0;
  const sources = ['cxi', 'cli', 'framework'].flatMap((dir) =>
    fs.readdirSync(path.join(REPO, 'plugins', dir)).map((f) => path.join(REPO, 'plugins', dir, f)),
  );
  if (builtAt > 0 && sources.every((f) => fs.statSync(f).mtimeMs <= builtAt)) return;
  spawnSync('npx', ['tsc', '-p', 'tsconfig.json'], { cwd: REPO, stdio: 'ignore' });
  execFileSync('node', [path.join(REPO, 'scripts', 'copy-protos.js')]);
  if (!fs.existsSync(built)) throw new Error(`the build did not produce ${built}`);
}

function run(bin: string, args: string[], env: NodeJS.ProcessEnv) {
  const result = spawnSync('node', [bin, ...args], {
    env: { PATH: process.env.PATH, ...env },
    encoding: 'utf8',
  });
  return { code: result.status, stdout: result.stdout, stderr: result.stderr };
}

let fx: FixtureHandle;
let dpDir: string;
beforeAll(ensureBuilt, 120_000);
beforeEach(() => {
  fx = fixture();
  dpDir = tempDir('kdp-dp-');
});
afterEach(() => {
  fx.cleanup();
  removeDir(dpDir);
});

describeAsRoot('kube-device-plugins cxi (real process)', () => {
  test('a bad flag or env value exits 2 with the reason on stderr', () => {
    const env = { ...rootEnv(fx), DEVICE_PLUGIN_DIR: dpDir };
    let result = run(PLUGIN_BIN, ['cxi', '--virtual-devices=0'], env);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('invalid value for --virtual-devices: 0 is below the minimum 1');

    result = run(PLUGIN_BIN, ['cxi'], { ...env, RESCAN_INTERVAL: 'often' });
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('invalid value for RESCAN_INTERVAL (env): "often" is not a duration');
  });

  test('a root that does not exist exits 2 naming it', () => {
    const missing = path.join(fx.root, 'no-sys');
    const result = run(PLUGIN_BIN, ['cxi'], {
      ...rootEnv(fx),
      DEVICE_PLUGIN_DIR: dpDir,
      SYSFS_ROOT: missing,
    });
    expect(result.code).toBe(2);
    expect(result.stderr).toContain(`--sysfs-root (SYSFS_ROOT): ${missing} does not exist`);
  });

  test('serves the fixture NICs to the kubelet; SIGTERM removes its socket and exits 0', async () => {
    const kubelet = new KubeletSimulator({ devicePluginDir: dpDir });
    await kubelet.start();
    const child = spawn('node', [PLUGIN_BIN, 'cxi', '--log-level=debug'], {
      env: { PATH: process.env.PATH, ...rootEnv(fx), DEVICE_PLUGIN_DIR: dpDir, CXI_VIRTUAL_DEVICES: '2' },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let stderr = '';
    child.stderr!.on('data', (chunk) => (stderr += chunk));
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    try {
      await kubelet.waitForRegistration(RESOURCE, 10_000);
      expect(kubelet.capacity(RESOURCE)).toBe(8);
      const [res] = await kubelet.allocate(RESOURCE, [['10-1']]);
      expect(res.devices.map((d) => d.host_path)).toEqual([
        path.join(fx.devfsRoot, 'cxi10'),
        path.join(fx.devfsRoot, 'xpmem'),
      ]);
      expect(fs.existsSync(path.join(dpDir, socketNameFor(RESOURCE)))).toBe(true);

      child.kill('SIGTERM');
      expect(await exited).toBe(0);
      expect(fs.readdirSync(dpDir)).toEqual(['kubelet.sock']);
      expect(stderr).toContain('"msg":"CXI NIC found"');
    } finally {
      if (child.exitCode === null) child.kill('SIGKILL');
      await kubelet.stop();
    }
  });
});

describeAsRoot('cxi-cdi-generator (real process)', () => {
  test('-v prints the version, a bad flag exits 2, -n prints the spec, a run writes it', () => {
    const env = rootEnv(fx);
    expect(run(GENERATOR_BIN, ['-v'], env)).toEqual({
      code: 0,
      stdout: expect.stringMatching(/^HPE Slingshot CDI Generator \(kube-device-plugins\) version \d/),
      stderr: '',
    });
    const bad = run(GENERATOR_BIN, ['--cdi-directory=/x'], env);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('unknown flag --cdi-directory');

    const dry = run(GENERATOR_BIN, ['-n'], env);
    expect(dry.code).toBe(0);
    expect(dry.stdout).toMatch(/^cdiVersion: 0\.5\.0\nkind: hpe\.com\/cxi\n/);
    expect(fs.existsSync(fx.cdiDir)).toBe(false);

    const written = run(GENERATOR_BIN, [], env);
    expect(written.code).toBe(0);
    expect(fs.statSync(path.join(fx.cdiDir, 'hpe.com-cxi.yaml')).mode & 0o777).toBe(0o644);
  });
});
