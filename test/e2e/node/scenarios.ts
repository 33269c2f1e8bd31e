/**
 * The real-node scenarios, in order. Each starts its plugin(s) on the host, sends pods through the API server
 * and the scheduler, and checks from inside the container (its own shell prints what it sees) or from the host
 * (nsenter into the container's network namespace). Device stand-ins are real char devices made with mknod,
 * since runc needs a real node at each host path.
 */
import { execFileSync, spawnSync } from 'child_process';
import * as fs from 'fs';
import * as net from 'net';
import * as path from 'path';
import { FakeIbmZ, type FakeCard, type FakeMachine } from '../../../plugins/cex/fixture/fake-ibmz';
import { ZcryptEmulator } from '../../../plugins/cex/fixture/zcrypt-emulator';
import { buildCxiFixture } from '../../../plugins/cxi/fixture';
import { buildFixture, fixturesDir, makeNode } from '../../../plugins/device-nodes/fixture';
import { REPO_ROOT } from '../plugin-process';
import { chartScenario } from './chart';
import { DEBIAN_RUNC, NODE_NAME, RealNode } from './node';
import {
  Context,
  Scenario,
  check,
  containerPid,
  createPod,
  deletePod,
  ensureNamespace,
  getPod,
  kubeletLines,
  kubeletLogSize,
  podLog,
  runningWithLog,
  sleep,
  startPlugin,
  waitAllocatable,
  waitPod,
} from './pods';

const KVM = 'github.com.ihcsim/kvm';

/** Deletes the listed pods, ignoring the ones already gone. */
async function deleteAll(ctx: Context, namespace: string, names: string[]): Promise<void> {
  for (const name of names) await deletePod(ctx.node, namespace, name).catch(() => undefined);
}

const kvm: Scenario = {
  name: 'kvm',
  async run(ctx) {
    const { node } = ctx;
    const ns = 'e2e-kvm';
    await ensureNamespace(node, ns);
    // The real /dev/kvm (this machine has one), 4 shares so that 5 is more than advertised.
    startPlugin(ctx, 'kvm', ['--devfs-root=/dev', '--shared-count=4']);
    await waitAllocatable(node, KVM, 4);
    try {
      await createPod(node, {
        namespace: ns,
        name: 'kvm',
        limits: { [KVM]: '1' },
        script:
          'ls -l /dev/kvm; if exec 3<>/dev/kvm; then echo KVM-RW-OPEN; fi; echo KDP-DONE; exec sleep 3600',
      });
      const { pod, log } = await runningWithLog(node, ns, 'kvm');
      check(pod.spec.nodeName === NODE_NAME, `scheduled to ${pod.spec.nodeName}`);
      check(log.includes('KVM-RW-OPEN'), `/dev/kvm did not open read-write in the container:\n${log}`);
      check(/^c\S+ .* 10,\s+232 /m.test(log), `/dev/kvm in the container is not char 10:232:\n${log}`);
      // More than advertised: the scheduler keeps it Pending, naming the resource…
      await createPod(node, {
        namespace: ns,
        name: 'kvm-too-many',
        limits: { [KVM]: '5' },
        script: 'exec sleep 3600',
      });
      const pending = await waitPod(node, ns, 'kvm-too-many', 'Unschedulable', (p) =>
        (p.status?.conditions ?? []).some((c) => c.type === 'PodScheduled' && c.reason === 'Unschedulable'),
      );
      const why = pending.status!.conditions!.find((c) => c.type === 'PodScheduled')!.message ?? '';
      check(why.includes(`Insufficient ${KVM}`), `scheduler's reason does not name ${KVM}: ${why}`);
      // …and bound straight to the node, the kubelet's own admission rejects it, naming the resource.
      await createPod(node, {
        namespace: ns,
        name: 'kvm-too-many-bound',
        nodeName: NODE_NAME,
        limits: { [KVM]: '5' },
        script: 'exec sleep 3600',
      });
      const rejected = await waitPod(
        node,
        ns,
        'kvm-too-many-bound',
        'rejected',
        (p) => p.status?.phase === 'Failed',
      );
      const reason = `${rejected.status!.reason}: ${rejected.status!.message}`;
      check(
        reason.includes(KVM) && /requested:? 5/i.test(reason),
        `kubelet's rejection does not say why: ${reason}`,
      );
      return `rw open in container; scheduler: "${why}"; kubelet: "${reason}"`;
    } finally {
      await deleteAll(ctx, ns, ['kvm', 'kvm-too-many', 'kvm-too-many-bound']);
    }
  },
};

// ------------------------------------------------------------------------------------------------ (b)

/** Stops nothing: waits until the kubelet no longer counts `resource` (an earlier plugin for it has gone). */
async function resourceGone(ctx: Context, resource: string): Promise<void> {
  await waitAllocatable(ctx.node, resource, 0, 60_000);
}

/** Lines `key=value` the container printed, as a map (last one wins). */
function printed(log: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of log.split('\n')) {
    const m = /^([A-Z][A-Z0-9_-]*)=(.*)$/.exec(line.trim());
    if (m) out[m[1]] = m[2];
  }
  return out;
}

/** Prints OPEN_R / OPEN_W (ok|fail) for `file`, prefixed with `key`. */
function openChecks(key: string, file: string): string {
  return (
    `if head -c 1 ${file} >/dev/null 2>&1; then echo ${key}_R=ok; else echo ${key}_R=fail; fi; ` +
    `if (: > ${file}) 2>/dev/null; then echo ${key}_W=ok; else echo ${key}_W=fail; fi; `
  );
}

const CRAND = 'github.com.ihcsim/crand';
const RO_PROBE = 'example.com/ro-probe';

const devnode: Scenario = {
  name: 'devnode',
  async run(ctx) {
    const { node } = ctx;
    const ns = 'e2e-devnode';
    await ensureNamespace(node, ns);
    const tree = buildFixture('devnode', path.join(node.state, 'fixtures', 'devnode'));
    // crand (1:8) is in every runtime's default device allowlist, so its permissions prove nothing: a second
    // resource of nodes with no driver (240:N, the local/experimental major) shows the cgroup rule itself:
    // an allowed open fails ENXIO (no driver), a denied one EPERM.
    for (const n of [0, 1])
      makeNode(path.join(tree.devfsRoot, `roprobe${n}`), { type: 'char', major: 240, minor: n });
    const config = path.join(node.state, 'fixtures', 'devnode.yaml');
    fs.writeFileSync(
      config,
      JSON.stringify({
        resources: [
          { name: CRAND, glob: 'crand*', containerPath: '/dev/kdp/{name}' },
          { name: RO_PROBE, glob: 'roprobe*', permissions: 'r' },
        ],
      }),
    );
    await resourceGone(ctx, CRAND);
    startPlugin(ctx, 'devnode', [`--devfs-root=${tree.devfsRoot}`, `--config=${config}`]);
    await waitAllocatable(node, CRAND, 3);
    await waitAllocatable(node, RO_PROBE, 2);
    try {
      await createPod(node, {
        namespace: ns,
        name: 'crand',
        limits: { [CRAND]: '1', [RO_PROBE]: '1' },
        script:
          'echo NODES=$(ls /dev/kdp | tr "\\n" " "); echo OTHER=$(ls /dev | grep -c crand); ' +
          'f=/dev/kdp/$(ls /dev/kdp | head -1); echo KIND=$(stat -c "%F %t:%T" $f); ' +
          'echo BYTES=$(head -c 16 $f | wc -c); ' +
          'p=$(ls -d /dev/roprobe* | head -1); echo PROBES=$(ls -d /dev/roprobe* | wc -l); ' +
          'echo PROBE_R=$(head -c 1 $p 2>&1 >/dev/null | sed "s/.*: //"); ' +
          'echo PROBE_W=$( (: > $p) 2>&1 | sed "s/.*: //"); ' +
          'echo KDP-DONE; exec sleep 3600',
      });
      const { log } = await runningWithLog(node, ns, 'crand');
      const p = printed(log);
      const nodes = (p.NODES ?? '').trim().split(/\s+/).filter(Boolean);
      check(
        nodes.length === 1 && /^crand[0-2]$/.test(nodes[0]),
        `expected one crandN under /dev/kdp, got "${p.NODES}"\n${log}`,
      );
      check(p.OTHER === '0', `a crand node outside its container path: ${p.OTHER}`);
      check(p.KIND === 'character special file 1:8', `not the crand char device 1:8: ${p.KIND}`);
      check(p.BYTES === '16', `reading ${nodes[0]} gave ${p.BYTES} bytes`);
      check(p.PROBES === '1', `expected one roprobe node, got ${p.PROBES}`);
      check(
        /No such device or address/i.test(p.PROBE_R ?? '') &&
          /Operation not permitted/i.test(p.PROBE_W ?? ''),
        `permissions r: read open "${p.PROBE_R}" (want ENXIO: allowed), write open "${p.PROBE_W}" (want EPERM: denied)`,
      );
      return `/dev/kdp/${nodes[0]} (1:8) only, 16 random bytes read; r-only node: read allowed (ENXIO), write EPERM`;
    } finally {
      await deleteAll(ctx, ns, ['crand']);
    }
  },
};

const TDX = 'tdx.intel.com/tdx-guest';

const tdx: Scenario = {
  name: 'tdx',
  async run(ctx) {
    const { node } = ctx;
    const ns = 'e2e-tdx';
    await ensureNamespace(node, ns);
    const root = path.join(node.state, 'fixtures', 'tdx');
    const tree = buildFixture('tdx', root);
    const uds = path.join(root, 'ccnp', 'uds');
    await resourceGone(ctx, TDX);
    startPlugin(ctx, 'tdx', [
      `--devfs-root=${tree.devfsRoot}`,
      `--sysfs-root=${tree.sysfsRoot}`,
      `--uds-dir=${uds}`,
    ]);
    await waitAllocatable(node, TDX, 110);
    // A CCNP-style server socket made on the host, in the directory the plugin mounts.
    await node.waitFor('CCNP dir', async () => fs.existsSync(uds), 10_000);
    const server = net.createServer((c) => c.end('ccnp-hello\n'));
    await new Promise<void>((resolve) => server.listen(path.join(uds, 'ccnp.sock'), resolve));
    try {
      await createPod(node, {
        namespace: ns,
        name: 'tdx',
        limits: { [TDX]: '1' },
        script:
          'echo KIND=$(stat -c "%F %t:%T" /dev/tdx_guest); ' +
          openChecks('TDX', '/dev/tdx_guest') +
          'echo SOCK=$(stat -c %F /run/ccnp/uds/ccnp.sock); ' +
          'echo from-pod > /run/ccnp/uds/written-by-pod && echo WROTE=ok; ' +
          'echo KDP-DONE; exec sleep 3600',
      });
      const { log } = await runningWithLog(node, ns, 'tdx');
      const p = printed(log);
      check(
        p.KIND === 'character special file 1:3',
        `/dev/tdx_guest is not the fixture node 1:3: ${p.KIND}\n${log}`,
      );
      check(p.TDX_R === 'ok' && p.TDX_W === 'ok', `/dev/tdx_guest rw: read ${p.TDX_R}, write ${p.TDX_W}`);
      check(p.SOCK === 'socket', `/run/ccnp/uds/ccnp.sock in the container: ${p.SOCK}\n${log}`);
      check(
        p.WROTE === 'ok' && fs.existsSync(path.join(uds, 'written-by-pod')),
        'the socket dir is not writable from the pod',
      );
      return "/dev/tdx_guest (1:3) rw, /run/ccnp/uds holds the host's socket and is writable from the pod";
    } finally {
      server.close();
      await deleteAll(ctx, ns, ['tdx']);
    }
  },
};

const CXI = 'beta.hpe.com/cxi';

function cxiScenario(cdi: boolean): Scenario {
  return {
    name: cdi ? 'cxi (CDI)' : 'cxi (device specs)',
    async run(ctx) {
      const { node } = ctx;
      const ns = cdi ? 'e2e-cxi-cdi' : 'e2e-cxi';
      await ensureNamespace(node, ns);
      const fx = buildCxiFixture(path.join(node.state, 'fixtures', cdi ? 'cxi-cdi' : 'cxi'));
      const roots = [
        `--sysfs-root=${fx.sysfsRoot}`,
        `--devfs-root=${fx.devfsRoot}`,
        `--ofi-root=${fx.ofiRoot}`,
        `--cxi-root=${fx.cxiRoot}`,
      ];
      if (cdi)
        execFileSync(
          process.execPath,
          [
            path.join(REPO_ROOT, 'bin', 'cxi-cdi-generator.js'),
            `--cdi-dir=${node.cdiDir}`,
            `--env-vars=${path.join(fixturesDir(), 'cxi', 'env-vars.yaml')}`,
            ...roots,
          ],
          { stdio: ['ignore', 'ignore', 'pipe'] },
        );
      await resourceGone(ctx, CXI);
      startPlugin(ctx, 'cxi', [...roots, ...(cdi ? ['--cdi'] : [])], {}, cdi ? 'cxi-cdi' : 'cxi');
      await waitAllocatable(node, CXI, 4);
      const lib = path.join(fx.cxiRoot, 'libcxi.so.1');
      const fabric = path.join(fx.ofiRoot, 'libfabric.so.1');
      try {
        await createPod(node, {
          namespace: ns,
          name: 'cxi',
          limits: { [CXI]: '1' },
          script:
            'echo NICS=$(cd /dev && ls -d cxi* 2>/dev/null | tr "\\n" " "); ' +
            openChecks('NIC', '/dev/$(cd /dev && ls -d cxi* | head -1)') +
            'echo XPMEM=$(stat -c %F /dev/xpmem 2>&1); ' +
            `echo LIB=$(cat ${lib} >/dev/null 2>&1 && echo readable); ` +
            `echo FABRIC=$(cat ${fabric} >/dev/null 2>&1 && echo readable); ` +
            `if (: > ${lib}) 2>/dev/null; then echo LIB_W=ok; else echo LIB_W=fail; fi; ` +
            'echo LDPATH=$LD_LIBRARY_PATH; echo FIPROV=$FI_PROVIDER; ' +
            'echo KDP-DONE; exec sleep 3600',
        });
        const { log } = await runningWithLog(node, ns, 'cxi');
        const p = printed(log);
        const nics = (p.NICS ?? '').trim().split(/\s+/).filter(Boolean);
        check(
          nics.length === 1 && /^cxi(0|1|2|10)$/.test(nics[0]),
          `expected one of cxi0/1/2/10, got "${p.NICS}"\n${log}`,
        );
        check(p.NIC_R === 'ok' && p.NIC_W === 'ok', `/dev/${nics[0]} rw: read ${p.NIC_R}, write ${p.NIC_W}`);
        check(p.XPMEM === 'character special file', `/dev/xpmem: ${p.XPMEM}`);
        check(
          p.LIB === 'readable' && p.FABRIC === 'readable',
          `libraries: libcxi ${p.LIB}, libfabric ${p.FABRIC}`,
        );
        check(p.LIB_W === 'fail', 'a library mount is writable (should be read-only)');
        check(p.LDPATH === `${fx.ofiRoot}:${fx.cxiRoot}`, `LD_LIBRARY_PATH=${p.LDPATH}`);
        if (cdi) check(p.FIPROV === 'cxi', `the CDI spec's env (FI_PROVIDER=cxi) is missing: ${p.FIPROV}`);
        return `/dev/${nics[0]} rw, /dev/xpmem, libcxi/libfabric ro, LD_LIBRARY_PATH${cdi ? ', FI_PROVIDER from the spec' : ''}`;
      } finally {
        await deleteAll(ctx, ns, ['cxi']);
      }
    },
  };
}

const CEX_SET = 'ep11-prod';
const CEX = `cex.s390.ibm.com/${CEX_SET}`;

const cex: Scenario = {
  name: 'cex (clean-up via PodResources)',
  async run(ctx) {
    const { node } = ctx;
    const ns = 'payments'; // the set's project: the plugin refuses other namespaces
    await ensureNamespace(node, ns);
    const fixtures = path.join(fixturesDir(), 'cex');
    const spec = JSON.parse(fs.readFileSync(path.join(fixtures, 'host.json'), 'utf8')) as {
      machine: FakeMachine;
      cards: FakeCard[];
    };
    const host = FakeIbmZ.create(path.join(node.state, 'fixtures', 'ibmz'), spec.cards, spec.machine);
    host.writeConfig(fs.readFileSync(path.join(fixtures, 'cex_resources.json'), 'utf8'));
    const emulator = ZcryptEmulator.forHost(host.paths);
    emulator.start();
    const p = host.paths;
    const poll = 10;
    const unused = 30;
    try {
      await resourceGone(ctx, CEX);
      startPlugin(ctx, 'cex', [`--sysfs-root=${p.sysfsRoot}`, `--devfs-root=${p.devfsRoot}`], {
        NODENAME: NODE_NAME,
        CCS_JSON_FILE: p.configFile,
        PROC_SYSINFO_FILE: p.sysinfoFile,
        SHADOWSYSFS_BASEDIR: p.shadowBaseDir,
        APQN_CHECK_INTERVAL: '10',
        PODLISTER_POLL_INTERVAL: String(poll),
        RESOURCE_DELETE_UNUSED: String(unused),
        RESOURCE_DELETE_NEVER_USED: String(unused),
      });
      await waitAllocatable(node, CEX, 6);
      await createPod(node, {
        namespace: ns,
        name: 'cex',
        limits: { [CEX]: '1' },
        // Only s390 kernels have /sys/bus/ap and /sys/devices/ap; runc cannot make a mount point in the
        // container's read-only sysfs, so here emptyDirs at /sys/bus and /sys/devices stand in for them.
        emptyDirs: { 'sys-bus': '/sys/bus', 'sys-devices': '/sys/devices' },
        script:
          'echo Z90=$(stat -c "%F" /dev/z90crypt 2>&1); ' +
          'echo APDEVS=$(ls /sys/bus/ap/devices 2>&1 | tr "\\n" " "); ' +
          'echo APCARDS=$(ls /sys/devices/ap 2>&1 | tr "\\n" " "); ' +
          'echo KDP-DONE; exec sleep 3600',
      });
      const { log } = await runningWithLog(node, ns, 'cex');
      const out = printed(log);
      check(out.Z90 === 'character special file', `/dev/z90crypt: ${out.Z90}\n${log}`);
      const queues = (out.APDEVS ?? '')
        .trim()
        .split(/\s+/)
        .filter((q) => /^[0-9a-f]{2}\.[0-9a-f]{4}$/.test(q));
      check(
        queues.length === 1,
        `the shadow /sys/bus/ap/devices should show exactly one APQN, shows "${out.APDEVS}"`,
      );
      const made = [...emulator.created];
      check(made.length >= 1, 'no zcrypt node was created');
      const name = made[made.length - 1];
      const exists = () => fs.existsSync(path.join(p.zcryptClassDir, name));
      check(exists(), `zcrypt node ${name} missing while its pod runs`);
      const deletedAt = Date.now();
      await deletePod(node, ns, 'cex');
      const limitMs = (unused + 3 * poll) * 1000;
      await node.waitFor(`zcrypt node ${name} destroyed after its pod went`, async () => !exists(), limitMs);
      const seconds = Math.round((Date.now() - deletedAt) / 1000);
      return `/dev/z90crypt, shadow AP sysfs with APQN ${queues[0]}; ${name} destroyed ${seconds} s after the pod went (PodResources)`;
    } finally {
      await deleteAll(ctx, ns, ['cex']);
      emulator.stop();
    }
  },
};

// ------------------------------------------------------------------------------------------------ (c)

const NETDEVICE = 'networking.k8s.io/netdevice';
const HOOK_STATE_DIR = '/run/kube-device-plugins/netdevice-hook';

function ipCmd(...args: string[]): string {
  return execFileSync('ip', args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}

function linkOnHost(name: string): boolean {
  return spawnSync('ip', ['link', 'show', 'dev', name], { stdio: 'ignore' }).status === 0;
}

/**
 * netdevice with a veth pair made on the host (the `a` end offered, 10.252.N.1/24, MTU 1400). Hooks mode:
 * OCI hooks move it in and back. netdevices mode: runc 1.5 moves it in (OCI linux.netDevices); a veth is
 * virtual, so the kernel destroys it with the pod's network namespace and the plugin withdraws it. (A physical
 * interface would come back to the host down and without addresses: there is none to try here.)
 */
function netdeviceScenario(mode: 'hooks' | 'netdevices', debianRunc = false): Scenario {
  const tag = debianRunc ? 'd' : mode === 'hooks' ? 'h' : 'n';
  const link = `kdpe2e${tag}a`;
  const peer = `kdpe2e${tag}b`;
  const address = debianRunc ? '10.252.4.1/24' : mode === 'hooks' ? '10.252.1.1/24' : '10.252.2.1/24';
  const ns = `e2e-netdevice-${mode}${debianRunc ? '-debian' : ''}`;
  let madeHookState = false;
  return {
    name: `netdevice --cdi-mode=${mode} (${debianRunc ? 'Debian runc 1.1.5' : 'runc 1.5'})`,
    async run(ctx) {
      const { node } = ctx;
      await ensureNamespace(node, ns);
      if (debianRunc) await ensureDebianRuntimeClass(node);
      madeHookState = !fs.existsSync(HOOK_STATE_DIR);
      spawnSync('ip', ['link', 'del', link], { stdio: 'ignore' });
      ipCmd('link', 'add', link, 'mtu', '1400', 'type', 'veth', 'peer', 'name', peer, 'mtu', '1400');
      ipCmd('addr', 'add', address, 'dev', link);
      ipCmd('link', 'set', link, 'up');
      ipCmd('link', 'set', peer, 'up');
      const hookDir = path.join(node.state, 'hooks');
      fs.mkdirSync(hookDir, { recursive: true });
      fs.copyFileSync(
        path.join(REPO_ROOT, 'plugins', 'netdevice', 'hooks', 'netdevice-hook.sh'),
        path.join(hookDir, 'netdevice-hook.sh'),
      );
      fs.chmodSync(path.join(hookDir, 'netdevice-hook.sh'), 0o755);
      await resourceGone(ctx, NETDEVICE);
      startPlugin(
        ctx,
        'netdevice',
        [`--interfaces=^${link}$`, `--cdi-mode=${mode}`, `--hook-dir=${hookDir}`, '--rescan-interval=1s'],
        {},
        `netdevice-${mode}${debianRunc ? '-debian' : ''}`,
      );
      await waitAllocatable(node, NETDEVICE, 1);
      await createPod(node, {
        namespace: ns,
        name: 'net',
        limits: { [NETDEVICE]: '1' },
        ...(debianRunc && { runtimeClassName: 'debian-runc' }),
        script: `ip -o addr show dev ${link}; ip -o link show dev ${link}; echo KDP-DONE; exec sleep 3600`,
      });
      const { pod, log } = await runningWithLog(node, ns, 'net');
      check(log.includes(`inet ${address}`), `${link} with ${address} not in the container:\n${log}`);
      check(/mtu 1400/.test(log), `${link} lost its MTU 1400 in the container:\n${log}`);
      check(!linkOnHost(link), `${link} is still in the host's namespace while the pod runs`);
      // The pod's network namespace, seen from the host through the container's PID, holds it.
      const pid = containerPid(node, pod);
      const inPod = execFileSync(
        'nsenter',
        ['-t', String(pid), '-n', 'ip', '-o', 'addr', 'show', 'dev', link],
        {
          encoding: 'utf8',
        },
      );
      check(inPod.includes(address), `nsenter into the pod's netns: ${inPod}`);
      await deletePod(node, ns, 'net');
      if (mode === 'hooks') {
        await node.waitFor(`${link} back on the host`, async () => linkOnHost(link), 60_000);
        const back = ipCmd('-o', 'addr', 'show', 'dev', link);
        check(back.includes(address), `${link} came back without ${address}: ${back}`);
        await waitAllocatable(node, NETDEVICE, 1, 60_000);
        return (
          `veth (virtual) in the pod's netns as ${link} ${address} mtu 1400; pod deleted: back on the host with ` +
          `${address}, offered again (physical: the same, the hook restores its configuration; not run, none here)`
        );
      }
      await node.waitFor(`${link} gone`, async () => !linkOnHost(link) && !linkOnHost(peer), 60_000);
      await waitAllocatable(node, NETDEVICE, 0, 60_000);
      return (
        `veth (virtual) in the pod's netns as ${link} ${address} mtu 1400 (runc 1.5 netDevices); pod deleted: ` +
        'destroyed with the netns, peer too, withdrawn (allocatable 0) (physical: returned to the host down, ' +
        'without addresses; not run, none here)'
      );
    },
    async cleanup(ctx) {
      await deleteAll(ctx, ns, ['net']);
      spawnSync('ip', ['link', 'del', link], { stdio: 'ignore' });
      if (madeHookState) fs.rmSync(path.dirname(HOOK_STATE_DIR), { recursive: true, force: true });
    },
  };
}

/** RuntimeClass debian-runc: containerd's runc-debian handler (Debian's runc, see node.ts). */
async function ensureDebianRuntimeClass(node: RealNode): Promise<void> {
  await node.cluster!.create(
    '/apis/node.k8s.io/v1/runtimeclasses',
    {
      apiVersion: 'node.k8s.io/v1',
      kind: 'RuntimeClass',
      metadata: { name: 'debian-runc' },
      handler: 'runc-debian',
    },
    true,
  );
}

/**
 * Issue 17's silent failure, on the real node: --cdi-mode=netdevices with a runtime that ignores OCI
 * linux.netDevices (Debian's runc 1.1.5, RuntimeClass debian-runc). The pod runs without the interface, which
 * stays on the host; after the grace period the plugin says so (error log naming the pod, /readyz, the
 * not-moved counter) and keeps it Unhealthy, so the kubelet has nothing left to give a second pod.
 */
const netdeviceOldRunc: Scenario = {
  name: 'netdevice --cdi-mode=netdevices (Debian runc 1.1.5)',
  async run(ctx) {
    const { node } = ctx;
    const ns = 'e2e-netdevice-oldrunc';
    await ensureNamespace(node, ns);
    const version = execFileSync(DEBIAN_RUNC, ['--version'], { encoding: 'utf8' }).split('\n')[0];
    await ensureDebianRuntimeClass(node);
    const link = 'kdpe2eoa';
    spawnSync('ip', ['link', 'del', link], { stdio: 'ignore' });
    ipCmd('link', 'add', link, 'type', 'veth', 'peer', 'name', 'kdpe2eob');
    ipCmd('addr', 'add', '10.252.3.1/24', 'dev', link);
    ipCmd('link', 'set', link, 'up');
    await resourceGone(ctx, NETDEVICE);
    const http = '127.0.0.1:18095';
    startPlugin(
      ctx,
      'netdevice',
      [
        `--interfaces=^${link}$`,
        '--cdi-mode=netdevices',
        '--rescan-interval=1s',
        '--move-grace-period=5s',
        `--http-addr=${http}`,
      ],
      {},
      'netdevice-oldrunc',
    );
    await waitAllocatable(node, NETDEVICE, 1);
    await createPod(node, {
      namespace: ns,
      name: 'net',
      runtimeClassName: 'debian-runc',
      limits: { [NETDEVICE]: '1' },
      script: `echo LINKS=$(ls /sys/class/net | tr "\\n" " "); echo KDP-DONE; exec sleep 3600`,
    });
    const { log } = await runningWithLog(node, ns, 'net');
    check(!log.includes(link), `${DEBIAN_RUNC} moved ${link} in after all (${version}):\n${log}`);
    check(linkOnHost(link), `${link} is not on the host`);
    const pluginLog = path.join(node.logDir, 'plugin-netdevice-oldrunc.log');
    const said = () =>
      fs
        .readFileSync(pluginLog, 'utf8')
        .split('\n')
        .find((l) => l.includes('interface allocated to a pod is still on the host') && l.includes('net'));
    await node.waitFor('the plugin reporting the interface not moved', async () => !!said(), 60_000);
    const ready = await fetch(`http://${http}/readyz`);
    const readyBody = await ready.text();
    check(
      readyBody.includes(link),
      `/readyz (HTTP ${ready.status}) does not name ${link}: ${readyBody.slice(0, 300)}`,
    );
    const metrics = await (await fetch(`http://${http}/metrics`)).text();
    const sample = (name: string) => metrics.split('\n').find((l) => l.startsWith(`${name}{`));
    const counter = sample('kdp_netdevice_move_failures_total');
    const gauge = sample('kdp_netdevice_interfaces_not_moved');
    check(!!counter && / 1$/.test(counter), `kdp_netdevice_move_failures_total is not 1: ${counter}`);
    check(!!gauge && / 1$/.test(gauge), `kdp_netdevice_interfaces_not_moved is not 1: ${gauge}`);
    await waitAllocatable(node, NETDEVICE, 0, 60_000);
    return (
      `${version}: pod Running without ${link}, which stayed on the host; plugin: error naming the pod, ` +
      `/readyz HTTP ${ready.status} naming ${link}, move_failures_total 1, not_moved 1, kept Unhealthy (allocatable 0)`
    );
  },
  async cleanup(ctx) {
    await deleteAll(ctx, 'e2e-netdevice-oldrunc', ['net']);
    spawnSync('ip', ['link', 'del', 'kdpe2eoa'], { stdio: 'ignore' });
  },
};

// ------------------------------------------------------------------------------------------------ (d)

/** What the kubelet logs when a plugin calls Register (pkg/kubelet/cm/devicemanager/plugin/v1beta1). */
const REGISTER_MSG = 'Got registration request from device plugin with resource';

function registers(ctx: Context, resource: string, from: number): number {
  return kubeletLines(ctx.node, REGISTER_MSG, from).filter((l) => l.includes(`resourceName="${resource}"`))
    .length;
}

const KVM_LOOP =
  'echo KDP-DONE; while true; do if (: <>/dev/kvm) 2>/dev/null; then echo "KVM-OK $(date +%s)"; ' +
  'else echo "KVM-FAIL $(date +%s)"; fi; sleep 1; done';

const kubeletRestart: Scenario = {
  name: 'kubelet restart',
  async run(ctx) {
    const { node } = ctx;
    const ns = 'e2e-restart';
    await ensureNamespace(node, ns);
    const root = path.join(node.state, 'fixtures', 'restart-tdx');
    const tree = buildFixture('tdx', root);
    await resourceGone(ctx, KVM);
    await resourceGone(ctx, TDX);
    startPlugin(ctx, 'kvm', ['--devfs-root=/dev', '--shared-count=4'], {}, 'kvm-restart');
    startPlugin(
      ctx,
      'tdx',
      [
        `--devfs-root=${tree.devfsRoot}`,
        `--sysfs-root=${tree.sysfsRoot}`,
        `--uds-dir=${path.join(root, 'uds')}`,
      ],
      {},
      'tdx-restart',
    );
    await waitAllocatable(node, KVM, 4);
    await waitAllocatable(node, TDX, 110);
    try {
      await createPod(node, {
        namespace: ns,
        name: 'before',
        limits: { [KVM]: '1', [TDX]: '1' },
        script: KVM_LOOP,
      });
      const { pod: before } = await runningWithLog(node, ns, 'before');
      const containerId = before.status!.containerStatuses![0].containerID;
      const from = kubeletLogSize(node);
      const restartedAt = Math.floor(Date.now() / 1000);
      await node.stopKubelet();
      node.startKubelet();
      await node.waitFor(
        'Register from both plugins after the kubelet restart',
        async () => registers(ctx, KVM, from) >= 1 && registers(ctx, TDX, from) >= 1,
        60_000,
      );
      await sleep(5_000); // a duplicate Register would come within milliseconds
      const counts = [registers(ctx, KVM, from), registers(ctx, TDX, from)];
      check(
        counts[0] === 1 && counts[1] === 1,
        `Register calls after the restart: kvm ${counts[0]}, tdx ${counts[1]}`,
      );
      await waitAllocatable(node, KVM, 4);
      // The running pod: same container, no restart, and it still opens /dev/kvm after the kubelet came back.
      await sleep(2_000);
      const now = await getPod(node, ns, 'before');
      const status = now?.status?.containerStatuses?.[0];
      check(
        status?.containerID === containerId && (status as { restartCount?: number }).restartCount === 0,
        `the running pod's container changed: ${JSON.stringify(status)}`,
      );
      const log = podLog(node, before);
      const late = log
        .split('\n')
        .map((l) => /^KVM-(OK|FAIL) (\d+)$/.exec(l.trim()))
        .filter((m): m is RegExpExecArray => !!m && Number(m[2]) > restartedAt + 2);
      check(
        late.length > 0 && late.every((m) => m[1] === 'OK'),
        `after the restart the pod's /dev/kvm opens: ${late.map((m) => m[1])}`,
      );
      // A new pod still gets a device from the re-registered plugins.
      await createPod(node, {
        namespace: ns,
        name: 'after',
        limits: { [KVM]: '1', [TDX]: '1' },
        script: KVM_LOOP,
      });
      const { log: afterLog } = await runningWithLog(node, ns, 'after');
      await node.waitFor(
        'the new pod opening /dev/kvm',
        async () => podLog(node, (await getPod(node, ns, 'after'))!).includes('KVM-OK'),
        20_000,
      );
      check(!afterLog.includes('KVM-FAIL'), 'the new pod could not open /dev/kvm');
      return `Register after restart: kvm 1, tdx 1; running pod kept its container and /dev/kvm (${late.length} opens after); new pod served`;
    } finally {
      await deleteAll(ctx, ns, ['before', 'after']);
    }
  },
};

export const SCENARIOS: Scenario[] = [
  kvm,
  devnode,
  tdx,
  cxiScenario(false),
  cxiScenario(true),
  cex,
  netdeviceScenario('hooks'),
  netdeviceScenario('netdevices'),
  netdeviceScenario('hooks', true),
  netdeviceOldRunc,
  kubeletRestart,
  chartScenario,
];
