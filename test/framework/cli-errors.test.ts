/**
 * What a real process says and how it exits when it cannot run: bad listen addresses exit 2, a flag
 * error names the flag once, a read-only device-plugin dir is reported once with the dir named (no
 * stray grpc-js line), a second instance on a live socket exits 1 and touches nothing, devnode warns
 * about a missing devfs root.
 */
import * as fs from 'fs';
import * as path from 'path';
import { KubeletSimulator } from '../../simulator/kubelet';
import { CLI, REPO_ROOT, requireBuild, run } from '../helpers/process';
import { describeUnless, isRoot } from '../helpers/root';
import { eventually, removeDir, tempDir } from '../helpers/tmp';
import { execFileSync } from 'child_process';

let dir: string;
beforeAll(() => requireBuild());
beforeEach(() => (dir = tempDir()));
afterEach(() => removeDir(dir));

/** kvm on an empty devfs root, everything under `dir`. */
const kvmFlags = () => [
  `--device-plugin-dir=${path.join(dir, 'dp')}`,
  `--devfs-root=${path.join(dir, 'dev')}`,
  `--cdi-dir=${path.join(dir, 'cdi')}`,
];

test.each([
  [':99999', /invalid value for --http-addr: listen address ":99999": port 99999 is above 65535/],
  ['foo', /invalid value for --http-addr: listen address "foo" must look like ":8080"/],
])('--http-addr %s exits 2 with the reason', async (addr, reason) => {
  const proc = run([CLI, 'kvm', ...kvmFlags(), '--http-addr', addr]);
  expect(await proc.exited).toBe(2);
  expect(proc.stderr()).toMatch(reason);
  expect(fs.existsSync(path.join(dir, 'dp'))).toBe(false); // refused before anything was made
});

test('a bad duration names the flag once', async () => {
  const proc = run([CLI, 'cxi', '--rescan-interval', '0s']);
  expect(await proc.exited).toBe(2);
  expect(proc.stderr()).toContain(
    'kube-device-plugins cxi: invalid value for --rescan-interval: "0s" must be positive\n',
  );
  expect(proc.stderr().match(/invalid value for/g)).toHaveLength(1);
});

test('devnode with a missing --devfs-root warns, as kvm and tdx do', async () => {
  const config = path.join(dir, 'devnode.yaml');
  fs.writeFileSync(config, 'resources: [{ name: example.com/crand, glob: "crand*" }]\n');
  const missing = path.join(dir, 'no-such-dev');
  const proc = run([
    CLI,
    'devnode',
    `--config=${config}`,
    `--device-plugin-dir=${path.join(dir, 'dp')}`,
    `--devfs-root=${missing}`,
  ]);
  try {
    await eventually(() => proc.stderr().includes('plugin started'), 10_000, 'start-up');
    const warning = proc
      .stderr()
      .split('\n')
      .find((l) => l.includes('the devfs root does not exist'));
    expect(JSON.parse(warning ?? '{}')).toMatchObject({ level: 'warn', devfsRoot: missing });
  } finally {
    proc.child.kill('SIGTERM');
    expect(await proc.exited).toBe(0);
  }
});

test('a second instance on a live socket exits 1 saying another process serves it, and touches nothing', async () => {
  const kubelet = new KubeletSimulator({ devicePluginDir: path.join(dir, 'dp') });
  await kubelet.start();
  const first = run([CLI, 'kvm', ...kvmFlags()]);
  try {
    await kubelet.waitForRegistration('github.com.ihcsim/kvm', 10_000);
    const socket = path.join(dir, 'dp', 'kdp-github.com.ihcsim_kvm.sock');
    const before = fs.statSync(socket).ino;
    const [spec] = fs.readdirSync(path.join(dir, 'cdi')).map((f) => path.join(dir, 'cdi', f));
    const specBefore = fs.statSync(spec, { bigint: true });
    const second = run([CLI, 'kvm', ...kvmFlags()]);
    expect(await second.exited).toBe(1);
    // Refused before its plugin started: the CDI spec both would write is the first one's, untouched.
    const specAfter = fs.statSync(spec, { bigint: true });
    expect([specAfter.ino, specAfter.mtimeNs]).toEqual([specBefore.ino, specBefore.mtimeNs]);
    expect(second.stderr()).toContain(`kube-device-plugins kvm: another process serves ${socket}`);
    expect(second.stderr()).not.toMatch(/EADDRINUSE/);
    expect(fs.statSync(socket).ino).toBe(before);
    // The first instance still serves its kubelet.
    expect(kubelet.resource('github.com.ihcsim/kvm')?.connected).toBe(true);
    const [res] = await kubelet.allocate('github.com.ihcsim/kvm', [['kvm-0']]).catch((err) => [err]);
    expect(res.code ?? 0).not.toBe(14); // answered (FAILED_PRECONDITION: no /dev/kvm here), not UNAVAILABLE
  } finally {
    first.child.kill('SIGTERM');
    await first.exited;
    await kubelet.stop();
  }
});

describeUnless(
  isRoot() ? undefined : 'mounting a read-only tmpfs needs root',
  'read-only device-plugin dir',
  () => {
    let mnt: string;
    beforeEach(() => {
      mnt = path.join(dir, 'ro');
      fs.mkdirSync(mnt);
      execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=64k,ro', 'tmpfs', mnt]);
    });
    afterEach(() => execFileSync('umount', [mnt]));

    test('exits 1 naming the dir, with no stray grpc-js line before the error', async () => {
      const proc = run(
        [
          CLI,
          'kvm',
          `--device-plugin-dir=${mnt}`,
          `--devfs-root=${path.join(dir, 'dev')}`,
          `--cdi-dir=${path.join(dir, 'cdi')}`,
          '--log-format=json',
        ],
        { cwd: REPO_ROOT },
      );
      expect(await proc.exited).toBe(1);
      const lines = proc.stderr().trim().split('\n');
      // Every line is either a structured log line or the final error: nothing from grpc-js.
      for (const line of lines.slice(0, -1)) expect(() => JSON.parse(line)).not.toThrow();
      expect(lines.at(-1)).toMatch(
        new RegExp(`^kube-device-plugins kvm: cannot serve on ${mnt}/kdp-.*EROFS.*device-plugin dir ${mnt}`),
      );
    });
  },
);
