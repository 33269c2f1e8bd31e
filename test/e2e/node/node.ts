/**
 * A real single-node Kubernetes on this machine: etcd + kube-apiserver + kube-scheduler (test/e2e/apiserver),
 * containerd 2.4 + runc 1.5 + kubelet 1.37 (build.sh beside this file), a CNI bridge from Debian's
 * containernetworking-plugins, all under one temp state dir. Every process is started here and stopped by its
 * PID; everything made outside the state dir (the kubelet's fixed device-plugins dir, the CNI bridge, the
 * kubelet's cgroups) is recorded and removed by {@link RealNode.stop}. One node per machine (fixed ports, the
 * kubelet's hard-coded /var/lib/kubelet/device-plugins): a lock file refuses a second run.
 */
import { ChildProcess, execFileSync, spawn, spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { Cluster, buildBinary } from '../apiserver/cluster';
import { PAUSE_IMAGE, busyboxImage, pauseImage } from './images';

const HERE = path.resolve(__dirname, '..', '..', '..', '..', 'test', 'e2e', 'node');
export const NODE_NAME = 'localhost';
/** The kubelet's hard-coded device-plugin dir (pluginapi.DevicePluginPath). */
export const DEVICE_PLUGIN_DIR = '/var/lib/kubelet/device-plugins';
export const LOCK_FILE = '/run/kdp-e2e-node.lock';
/** Ports of this tier: etcd client/peer, kube-apiserver (other tiers use 2379x/2479x, 16443/17443). */
export const PORTS = { etcdClient: 26790, etcdPeer: 26800, apiserver: 19443 };
const BRIDGE = 'kdpe2e0';
/** Debian's runc package, a second runtime handler (runc-debian) beside the runc 1.5.3 built here. */
export const DEBIAN_RUNC = '/usr/sbin/runc';
const POD_CIDR = '10.251.0.0/24';

export interface Binaries {
  containerd: string;
  ctr: string;
  shimDir: string;
  runc: string;
  kubelet: string;
  etcd: string;
  'kube-apiserver': string;
  'kube-scheduler': string;
  'kube-controller-manager'?: string;
}

function nodeBuild(name: string): string {
  const started = Date.now();
  const out = execFileSync('sh', [path.join(HERE, 'build.sh'), name], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const seconds = (Date.now() - started) / 1000;
  if (seconds > 5) console.log(`built ${name} in ${seconds.toFixed(0)} s`);
  return out.trim().split('\n').pop()!;
}

/** Installs the Debian packages the node needs when their files are missing. */
export function ensurePackages(): void {
  const wanted: Array<[string, string]> = [
    ['/bin/busybox', 'busybox-static'],
    [DEBIAN_RUNC, 'runc'],
    ['/usr/lib/cni/bridge', 'containernetworking-plugins'],
    ['/usr/bin/gcc', 'gcc'],
    ['/usr/include/seccomp.h', 'libseccomp-dev'],
    ['/usr/bin/pkg-config', 'pkg-config'],
    ['/usr/bin/nsenter', 'util-linux'],
    ['/usr/bin/openssl', 'openssl'],
  ];
  const missing = wanted.filter(([file]) => !fs.existsSync(file)).map(([, pkg]) => pkg);
  if (missing.length === 0) return;
  console.log(`apt-get install ${missing.join(' ')}`);
  execFileSync('apt-get', ['update', '-qq'], { stdio: 'inherit' });
  execFileSync('apt-get', ['install', '-y', '-qq', ...missing], {
    stdio: 'inherit',
    env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' },
  });
}

/** Builds (or finds cached) every binary; kube-controller-manager only when `kcm`. */
export function binaries(kcm: boolean): Binaries {
  const containerd = nodeBuild('containerd');
  const b: Binaries = {
    containerd: path.join(containerd, 'containerd'),
    ctr: path.join(containerd, 'ctr'),
    shimDir: containerd,
    runc: path.join(nodeBuild('runc'), 'runc'),
    kubelet: path.join(nodeBuild('kubelet'), 'kubelet'),
    etcd: buildBinary('etcd'),
    'kube-apiserver': buildBinary('kube-apiserver-v1.37'),
    'kube-scheduler': buildBinary('kube-scheduler-v1.37'),
  };
  if (kcm) b['kube-controller-manager'] = buildBinary('kube-controller-manager-v1.37');
  return b;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

interface LockRecord {
  pid: number;
  state: string;
  /** The control plane's temp dir, once started. */
  cluster?: string;
  /** This run made /var/lib/kubelet (so its clean-up removes it). */
  madeKubeletDir?: boolean;
}

function writeLock(record: LockRecord, flag = 'w'): void {
  fs.writeFileSync(LOCK_FILE, JSON.stringify(record), { flag });
}

/** Takes the machine-wide lock; throws (naming the holder) when another live run holds it. */
function takeLock(state: string): void {
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      writeLock({ pid: process.pid, state }, 'wx');
      return;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      let holder: LockRecord | undefined;
      try {
        holder = JSON.parse(fs.readFileSync(LOCK_FILE, 'utf8')) as LockRecord;
      } catch {
        holder = undefined;
      }
      if (holder && alive(holder.pid))
        throw new RefusedError(
          `another real-node run (pid ${holder.pid}, state ${holder.state}) holds ${LOCK_FILE}: one node per machine (fixed ports, ${DEVICE_PLUGIN_DIR})`,
        );
      console.log(`a dead run left ${LOCK_FILE} (${JSON.stringify(holder)}): removing what it left`);
      if (holder) recoverStale(holder);
      fs.rmSync(LOCK_FILE, { force: true });
    }
  }
  throw new RefusedError(`could not take ${LOCK_FILE}`);
}

export class RefusedError extends Error {}

/** PIDs of processes whose command line names one of `marks` (the dead run's own dirs and sockets). */
function pidsNaming(marks: string[]): number[] {
  const pids: number[] = [];
  for (const entry of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(entry) || Number(entry) === process.pid) continue;
    try {
      const argv = fs.readFileSync(`/proc/${entry}/cmdline`, 'utf8');
      if (marks.some((m) => argv.includes(m))) pids.push(Number(entry));
    } catch {
      /* gone */
    }
  }
  return pids;
}

/** PIDs in the kubelet's kubepods cgroups (the containers of a dead run's pods). */
function podPids(): number[] {
  const pids: number[] = [];
  for (const top of ['/sys/fs/cgroup/pids/kubepods', '/sys/fs/cgroup/kubepods']) {
    if (!fs.existsSync(top)) continue;
    const walk = (dir: string) => {
      for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
        if (e.isDirectory()) walk(path.join(dir, e.name));
        else if (e.name === 'cgroup.procs')
          for (const pid of fs.readFileSync(path.join(dir, e.name), 'utf8').split('\n'))
            if (pid) pids.push(Number(pid));
      }
    };
    walk(top);
  }
  return pids;
}

/**
 * What a run killed with SIGKILL left: its processes (found by the state and control-plane dirs in their
 * command lines, and its pods' containers in the kubepods cgroups) are killed by PID, then mounts, dirs, the
 * bridge, the cgroups and /var/lib/kubelet (when that run made it) are removed.
 */
function recoverStale(holder: LockRecord): void {
  const marks = [holder.state, holder.cluster].filter((m): m is string => !!m && m.startsWith(os.tmpdir()));
  if (marks.length === 0) return;
  for (const pid of [...pidsNaming(marks), ...podPids()])
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      /* gone */
    }
  spawnSync('sleep', ['1']);
  for (const mark of marks) {
    for (const point of mountsUnder(mark)) spawnSync('umount', ['-l', point]);
    fs.rmSync(mark, { recursive: true, force: true });
  }
  // The tier's own names: the bridge and the scenarios' veths (kdpe2e*), the chart's /dev stand-ins.
  const links = spawnSync('ip', ['-o', 'link', 'show'], { encoding: 'utf8' }).stdout ?? '';
  for (const m of links.matchAll(/^\d+: (kdpe2e[a-z0-9]*)[@:]/gm))
    spawnSync('ip', ['link', 'del', m[1]], { stdio: 'ignore' });
  for (const f of fs.readdirSync('/dev'))
    if (f.startsWith('kdpe2e-')) fs.rmSync(path.join('/dev', f), { force: true });
  removeCgroups();
  if (holder.madeKubeletDir) fs.rmSync('/var/lib/kubelet', { recursive: true, force: true });
}

/** Mount points at or under `dir`, deepest first. */
function mountsUnder(dir: string): string[] {
  const points = fs
    .readFileSync('/proc/self/mountinfo', 'utf8')
    .split('\n')
    .map((line) => line.split(' ')[4])
    .filter((p): p is string => !!p && (p === dir || p.startsWith(dir + '/')))
    .map((p) => p.replace(/\\040/g, ' '));
  return [...new Set(points)].sort((a, b) => b.length - a.length);
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

export class RealNode {
  readonly state: string;
  cluster?: Cluster;
  readonly containerdSocket: string;
  readonly cdiDir: string;
  readonly kubeletRoot: string;
  readonly podLogs: string;
  readonly logDir: string;
  private readonly processes = new Map<string, ChildProcess>();
  private createdDevicePluginDir = false;
  private madeKubeletDir = false;
  private stopped = false;

  private constructor(
    readonly bin: Binaries,
    state: string,
  ) {
    this.state = state;
    this.containerdSocket = path.join(state, 'containerd', 'containerd.sock');
    this.cdiDir = path.join(state, 'cdi');
    this.kubeletRoot = path.join(state, 'kubelet');
    this.podLogs = path.join(state, 'pod-logs');
    this.logDir = path.join(state, 'logs');
  }

  /** Takes the lock, then starts the control plane, containerd (images imported) and the kubelet. */
  static async start(bin: Binaries): Promise<RealNode> {
    const state = fs.mkdtempSync(path.join(os.tmpdir(), 'kdp-e2e-node-'));
    try {
      takeLock(state);
    } catch (err) {
      fs.rmSync(state, { recursive: true, force: true });
      throw err;
    }
    const node = new RealNode(bin, state);
    try {
      await node.boot();
    } catch (err) {
      const tail = node.logTail(40);
      await node.stop();
      throw new Error(`${(err as Error).message}\n${tail}`);
    }
    return node;
  }

  private async boot(): Promise<void> {
    for (const dir of [
      this.cdiDir,
      this.podLogs,
      this.logDir,
      this.kubeletRoot,
      path.join(this.state, 'images'),
    ])
      fs.mkdirSync(dir, { recursive: true });
    this.madeKubeletDir = !fs.existsSync('/var/lib/kubelet');
    if (!fs.existsSync(DEVICE_PLUGIN_DIR)) {
      fs.mkdirSync(DEVICE_PLUGIN_DIR, { recursive: true });
      this.createdDevicePluginDir = true;
      writeLock({ pid: process.pid, state: this.state, madeKubeletDir: this.madeKubeletDir });
    }
    // The chart's kubeletRootDir puts device-plugins under the kubelet's root dir; the kubelet uses the fixed one.
    fs.symlinkSync(DEVICE_PLUGIN_DIR, path.join(this.kubeletRoot, 'device-plugins'));
    const started = Date.now();
    this.cluster = await Cluster.start({ version: 'v1.37', ports: PORTS }, this.bin as never);
    writeLock({
      pid: process.pid,
      state: this.state,
      cluster: this.cluster.dir,
      madeKubeletDir: this.madeKubeletDir,
    });
    this.writeContainerdConfig();
    this.spawn('containerd', this.bin.containerd, ['--config', path.join(this.state, 'containerd.toml')], {
      PATH: `${this.bin.shimDir}:${process.env.PATH}`,
    });
    await this.waitFor('containerd', async () => fs.existsSync(this.containerdSocket), 30_000);
    const images = path.join(this.state, 'images');
    for (const tarball of [pauseImage(images), busyboxImage(images)]) this.importImage(tarball);
    this.spawn('kube-scheduler', this.bin['kube-scheduler'], [
      `--kubeconfig=${this.cluster.kubeconfig}`,
      '--leader-elect=false',
      '--bind-address=127.0.0.1',
      '--secure-port=0',
      '--v=1',
    ]);
    if (this.bin['kube-controller-manager'])
      // The DaemonSet controller (the chart's plugins) and the ServiceAccount controller (default SAs).
      this.spawn('kube-controller-manager', this.bin['kube-controller-manager'], [
        `--kubeconfig=${this.cluster.kubeconfig}`,
        '--controllers=daemonset,serviceaccount',
        '--leader-elect=false',
        '--bind-address=127.0.0.1',
        '--secure-port=0',
        '--v=1',
      ]);
    this.writeKubeletConfig();
    this.startKubelet();
    await this.waitNodeReady();
    console.log(`node up in ${((Date.now() - started) / 1000).toFixed(1)} s (state ${this.state})`);
  }

  importImage(tarball: string): void {
    this.ctr(['images', 'import', '--platform', 'linux/amd64', tarball]);
  }

  /** `ctr -n k8s.io …` against this node's containerd. */
  ctr(args: string[]): string {
    return execFileSync(this.bin.ctr, ['--address', this.containerdSocket, '-n', 'k8s.io', ...args], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'pipe'],
    });
  }

  private writeContainerdConfig(): void {
    const c = path.join(this.state, 'containerd');
    const cniConf = path.join(this.state, 'cni', 'net.d');
    fs.mkdirSync(cniConf, { recursive: true });
    fs.writeFileSync(
      path.join(cniConf, '10-kdp-e2e.conflist'),
      JSON.stringify({
        cniVersion: '1.0.0',
        name: 'kdp-e2e',
        plugins: [
          {
            type: 'bridge',
            bridge: BRIDGE,
            isGateway: true,
            ipMasq: false,
            ipam: {
              type: 'host-local',
              ranges: [[{ subnet: POD_CIDR }]],
              dataDir: path.join(this.state, 'cni', 'ipam'),
            },
          },
          { type: 'loopback' },
        ],
      }),
    );
    const q = (s: string) => JSON.stringify(s);
    fs.writeFileSync(
      path.join(this.state, 'containerd.toml'),
      [
        'version = 4',
        `root = ${q(path.join(c, 'root'))}`,
        `state = ${q(path.join(c, 'state'))}`,
        // A top-level [grpc] is ignored by config version 4: the server addresses are plugin settings.
        "[plugins.'io.containerd.server.v1.grpc']",
        `  address = ${q(this.containerdSocket)}`,
        "[plugins.'io.containerd.server.v1.ttrpc']",
        `  address = ${q(path.join(c, 'containerd.sock.ttrpc'))}`,
        "[plugins.'io.containerd.server.v1.debug']",
        `  address = ${q(path.join(c, 'debug.sock'))}`,
        "[plugins.'io.containerd.cri.v1.images']",
        "  snapshotter = 'overlayfs'",
        "[plugins.'io.containerd.cri.v1.images'.pinned_images]",
        `  sandbox = ${q(PAUSE_IMAGE)}`,
        "[plugins.'io.containerd.cri.v1.runtime']",
        // The tier's plugins write to cdiDir; the chart's DaemonSets to the host's /var/run/cdi.
        `  cdi_spec_dirs = [${q(this.cdiDir)}, '/var/run/cdi']`,
        // Root here lacks CAP_SYS_RESOURCE: without this runc fails "can't get final child's PID from pipe".
        '  restrict_oom_score_adj = true',
        '  netns_mounts_under_state_dir = true',
        "[plugins.'io.containerd.cri.v1.runtime'.cni]",
        "  bin_dirs = ['/usr/lib/cni']",
        `  conf_dir = ${q(cniConf)}`,
        "[plugins.'io.containerd.cri.v1.runtime'.containerd]",
        "  default_runtime_name = 'runc'",
        "[plugins.'io.containerd.cri.v1.runtime'.containerd.runtimes.runc]",
        "  runtime_type = 'io.containerd.runc.v2'",
        "[plugins.'io.containerd.cri.v1.runtime'.containerd.runtimes.runc.options]",
        `  BinaryName = ${q(this.bin.runc)}`,
        `  Root = ${q(path.join(this.state, 'runc'))}`,
        '  SystemdCgroup = false',
        // Debian's runc (1.1.5 on Debian 12), for the pods of RuntimeClass debian-runc: it ignores OCI
        // linux.netDevices (issue 17).
        "[plugins.'io.containerd.cri.v1.runtime'.containerd.runtimes.runc-debian]",
        "  runtime_type = 'io.containerd.runc.v2'",
        "[plugins.'io.containerd.cri.v1.runtime'.containerd.runtimes.runc-debian.options]",
        `  BinaryName = ${q(DEBIAN_RUNC)}`,
        `  Root = ${q(path.join(this.state, 'runc-debian'))}`,
        '  SystemdCgroup = false',
        "[plugins.'io.containerd.grpc.v1.cri']",
        "  stream_server_address = '127.0.0.1'",
        '',
      ].join('\n'),
    );
  }

  private writeKubeletConfig(): void {
    fs.writeFileSync(
      path.join(this.state, 'kubelet.yaml'),
      JSON.stringify({
        apiVersion: 'kubelet.config.k8s.io/v1beta1',
        kind: 'KubeletConfiguration',
        // kubelet >= 1.35 refuses cgroup v1 unless told otherwise; this host has only v1.
        failCgroupV1: false,
        cgroupDriver: 'cgroupfs',
        failSwapOn: false,
        containerRuntimeEndpoint: `unix://${this.containerdSocket}`,
        address: '127.0.0.1',
        healthzBindAddress: '127.0.0.1',
        readOnlyPort: 0,
        authentication: { anonymous: { enabled: false }, webhook: { enabled: false } },
        authorization: { mode: 'AlwaysAllow' },
        podLogsDir: this.podLogs,
        // The disks here may be fuller than the default thresholds: no evictions, no image GC.
        evictionHard: { 'memory.available': '1Mi', 'nodefs.available': '1%', 'imagefs.available': '1%' },
        imageGCHighThresholdPercent: 100,
        imageGCLowThresholdPercent: 99,
        nodeStatusUpdateFrequency: '2s',
        syncFrequency: '5s',
        resolvConf: '/etc/resolv.conf',
        maxPods: 50,
      }),
    );
  }

  startKubelet(): void {
    this.spawn('kubelet', this.bin.kubelet, [
      `--config=${path.join(this.state, 'kubelet.yaml')}`,
      `--kubeconfig=${this.cluster!.kubeconfig}`,
      `--root-dir=${this.kubeletRoot}`,
      // --node-ip 127.0.0.1 is refused; the API server reaches the kubelet by the Hostname address.
      `--hostname-override=${NODE_NAME}`,
      '--v=2',
    ]);
  }

  /** SIGTERM the kubelet and wait for its exit (pods keep running under containerd). */
  async stopKubelet(): Promise<void> {
    await this.stopProcess('kubelet');
  }

  get kubeletLog(): string {
    return path.join(this.logDir, 'kubelet.log');
  }

  private spawn(name: string, binary: string, args: string[], env: NodeJS.ProcessEnv = {}): void {
    const log = path.join(this.logDir, `${name}.log`);
    const out = fs.openSync(log, 'a');
    const child = spawn(binary, args, { stdio: ['ignore', out, out], env: { ...process.env, ...env } });
    fs.closeSync(out);
    this.processes.set(name, child);
  }

  private async stopProcess(name: string, timeoutMs = 15_000): Promise<void> {
    const child = this.processes.get(name);
    this.processes.delete(name);
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill('SIGTERM');
    await Promise.race([exited, sleep(timeoutMs)]);
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGKILL');
      await Promise.race([exited, sleep(5_000)]);
    }
  }

  /** The last lines of every component log. */
  logTail(lines = 20): string {
    if (!fs.existsSync(this.logDir)) return '';
    const parts = fs.readdirSync(this.logDir).map((file) => {
      const text = fs.readFileSync(path.join(this.logDir, file), 'utf8').split('\n');
      return `--- ${file}\n${text.slice(-lines).join('\n')}`;
    });
    return [...parts, this.cluster?.logTail(lines) ?? ''].join('\n');
  }

  async waitFor(what: string, ok: () => Promise<boolean>, timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      for (const [name, child] of this.processes)
        if (child.exitCode !== null || child.signalCode !== null)
          throw new Error(`${name} exited (${child.exitCode ?? child.signalCode}) while waiting for ${what}`);
      if (await ok().catch(() => false)) return;
      await sleep(250);
    }
    throw new Error(`${what}: not within ${timeoutMs / 1000} s`);
  }

  /** The node is Ready; its not-ready taint (no node lifecycle controller here) is removed. */
  private async waitNodeReady(): Promise<void> {
    const cluster = this.cluster!;
    await this.waitFor(
      'node Ready',
      async () => {
        const r = await cluster.request('GET', `/api/v1/nodes/${NODE_NAME}`);
        const conditions = ((r.body.status as { conditions?: Array<{ type: string; status: string }> })
          ?.conditions ?? []) as Array<{ type: string; status: string }>;
        return r.status === 200 && conditions.some((c) => c.type === 'Ready' && c.status === 'True');
      },
      120_000,
    );
    await this.untaint();
  }

  async untaint(): Promise<void> {
    const cluster = this.cluster!;
    const r = await cluster.request('GET', `/api/v1/nodes/${NODE_NAME}`);
    const spec = r.body.spec as { taints?: unknown[] };
    if (!spec.taints?.length) return;
    const patch = await cluster.request('PATCH', `/api/v1/nodes/${NODE_NAME}`, { spec: { taints: null } });
    if (patch.status !== 200) throw new Error(`untaint: HTTP ${patch.status} ${String(patch.body.message)}`);
  }

  /** Stops everything started here (by PID), then removes every trace. Safe to call twice. */
  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    const errors: string[] = [];
    const attempt = async (what: string, f: () => void | Promise<void>) => {
      try {
        await f();
      } catch (err) {
        errors.push(`${what}: ${(err as Error).message.split('\n')[0]}`);
      }
    };
    await attempt('stop kubelet', () => this.stopProcess('kubelet'));
    // Every container and sandbox task, then the shims (found by their -address, ours alone).
    if (this.processes.get('containerd')?.exitCode === null)
      await attempt('kill tasks', () => this.killTasks());
    for (const name of ['kube-controller-manager', 'kube-scheduler', 'containerd'])
      await attempt(`stop ${name}`, () => this.stopProcess(name));
    await attempt('stop shims', () => this.killShims());
    await attempt('stop control plane', () => this.cluster?.stop());
    await attempt('unmount', () => {
      for (const point of mountsUnder(this.state)) spawnSync('umount', ['-l', point]);
    });
    await attempt('bridge', () => {
      spawnSync('ip', ['link', 'del', BRIDGE], { stdio: 'ignore' });
    });
    await attempt('cgroups', () => removeCgroups());
    await attempt('device-plugins dir', () => {
      if (this.madeKubeletDir) fs.rmSync('/var/lib/kubelet', { recursive: true, force: true });
      else if (this.createdDevicePluginDir) fs.rmSync(DEVICE_PLUGIN_DIR, { recursive: true, force: true });
      else
        for (const f of fs.readdirSync(DEVICE_PLUGIN_DIR))
          if (f === 'kubelet.sock' || f === 'DEPRECATION' || f.startsWith('kubelet_internal_checkpoint'))
            fs.rmSync(path.join(DEVICE_PLUGIN_DIR, f), { force: true });
    });
    if (process.env.KDP_E2E_KEEP) console.log(`KDP_E2E_KEEP: state kept in ${this.state}`);
    else await attempt('state dir', () => fs.rmSync(this.state, { recursive: true, force: true }));
    try {
      const holder = JSON.parse(fs.readFileSync(LOCK_FILE, 'utf8')) as LockRecord;
      if (holder.pid === process.pid) fs.rmSync(LOCK_FILE, { force: true });
    } catch {
      /* no lock */
    }
    if (errors.length) console.log(`clean-up problems: ${errors.join('; ')}`);
  }

  private async killTasks(): Promise<void> {
    const tasks = this.ctr(['tasks', 'ls', '-q']).split('\n').filter(Boolean);
    for (const id of tasks)
      spawnSync(this.bin.ctr, [
        '--address',
        this.containerdSocket,
        '-n',
        'k8s.io',
        'tasks',
        'kill',
        '-s',
        'SIGKILL',
        id,
      ]);
    await sleep(1_000);
    for (const id of tasks)
      spawnSync(this.bin.ctr, ['--address', this.containerdSocket, '-n', 'k8s.io', 'tasks', 'rm', '-f', id]);
  }

  private async killShims(): Promise<void> {
    const pids = shimPids(this.containerdSocket);
    for (const pid of pids) process.kill(pid, 'SIGKILL');
    await sleep(pids.length ? 500 : 0);
  }
}

/** PIDs of containerd-shim-runc-v2 processes serving this containerd (their -address is our socket). */
function shimPids(socket: string): number[] {
  const pids: number[] = [];
  for (const entry of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const argv = fs.readFileSync(`/proc/${entry}/cmdline`, 'utf8').split('\0');
      if (path.basename(argv[0]) === 'containerd-shim-runc-v2' && argv.includes(socket))
        pids.push(Number(entry));
    } catch {
      /* gone */
    }
  }
  return pids;
}

/** The kubelet's cgroups (kubepods under each v1 hierarchy), removed deepest first once their tasks are gone. */
function removeCgroups(): void {
  const base = '/sys/fs/cgroup';
  for (const controller of fs.readdirSync(base)) {
    const top = path.join(base, controller, 'kubepods');
    if (!fs.existsSync(top)) continue;
    const dirs: string[] = [];
    const walk = (dir: string) => {
      dirs.push(dir);
      for (const e of fs.readdirSync(dir, { withFileTypes: true }))
        if (e.isDirectory()) walk(path.join(dir, e.name));
    };
    walk(top);
    for (const dir of dirs.reverse())
      try {
        fs.rmdirSync(dir);
      } catch {
        /* busy or gone */
      }
  }
}
