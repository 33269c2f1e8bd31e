/** `node bin/kube-device-plugins.js netdevice …` as a real process (npm test builds dist/ first). */
import * as fs from 'fs';
import * as path from 'path';
import { KubeletSimulator } from '../../../simulator/kubelet';
import { CLI, requireBuild, run } from '../../helpers/process';
import { eventually, removeDir, tempDir } from '../../helpers/tmp';
import { RESOURCE } from './harness';
import { describeNet, ip, NetFixture } from './net';

beforeAll(() => requireBuild());

test.each([
  [['--interfaces', 'eth', '--cdi-mode', 'bogus'], /invalid value for --cdi-mode: "bogus" is not one of/],
  [[], /--interfaces \(or INTERFACES\) is required/],
  [['--interfaces', '[a-'], /invalid value for --interfaces: "\[a-" is not a regular expression/],
])('%j exits 2 with the reason on stderr', async (args, message) => {
  const proc = run([CLI, 'netdevice', ...args], { env: { INTERFACES: '' } });
  expect(await proc.exited).toBe(2);
  expect(proc.stderr()).toMatch(message);
});

/** Processes whose parent is `pid` (read from /proc), with their command name. */
function childrenOf(pid: number): { pid: number; comm: string }[] {
  const children: { pid: number; comm: string }[] = [];
  for (const entry of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const stat = fs.readFileSync(path.join('/proc', entry, 'stat'), { encoding: 'utf8', flag: 'r' });
    // pid (comm) state ppid …: comm may contain spaces, so split after the last ')'.
    const comm = stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'));
    const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
    if (ppid === pid) children.push({ pid: Number(entry), comm });
  }
  return children;
}

describeNet('netdevice as a real process', () => {
  let net: NetFixture;
  let dir: string;
  beforeEach(() => {
    net = new NetFixture();
    dir = tempDir('kdp-');
  });
  afterEach(() => {
    net.cleanup();
    removeDir(dir);
  });

  test('serves host interfaces; SIGTERM stops ip monitor, removes the socket and exits 0', async () => {
    const link = net.veth().host;
    ip('link', 'set', link, 'up');
    const kubelet = new KubeletSimulator({ devicePluginDir: dir });
    await kubelet.start();
    const proc = run([
      CLI,
      'netdevice',
      '--device-plugin-dir',
      dir,
      '--cdi-dir',
      path.join(dir, 'cdi'),
      '--pod-resources-socket',
      path.join(dir, 'pr.sock'),
      '--interfaces',
      `^${net.prefix}a`,
    ]);
    try {
      await kubelet.waitForRegistration(RESOURCE, 10_000);
      expect(kubelet.resource(RESOURCE)!.devices.map((d) => `${d.id}:${d.health}`)).toEqual([
        `${link}:Healthy`,
      ]);
      const [res] = await kubelet.allocate(RESOURCE, [[link]]);
      expect(res.cdi_devices).toEqual([{ name: `networking.k8s.io/netdevice=${link}` }]);
      expect(fs.readdirSync(path.join(dir, 'cdi'))).toEqual(['networking.k8s.io-netdevice.yaml']);
      ip('link', 'set', link, 'down'); // live events in the real process too
      await kubelet.waitFor(() => kubelet.allocatable(RESOURCE) === 0, 1000, 'link down');

      const monitors = childrenOf(proc.child.pid!).filter((c) => c.comm === 'ip');
      expect(monitors).toHaveLength(1);
      proc.child.kill('SIGTERM');
      expect(await proc.exited).toBe(0);
      expect(fs.readdirSync(dir).filter((f) => f.endsWith('.sock') && f !== 'kubelet.sock')).toEqual([]);
      await eventually(() => !fs.existsSync(`/proc/${monitors[0].pid}`), 2000, 'ip monitor to exit');
      expect(proc.stderr()).toMatch(/"msg":"shutting down".*"signal":"SIGTERM"/);
    } finally {
      proc.child.kill('SIGKILL');
      await kubelet.stop();
    }
  });
});
