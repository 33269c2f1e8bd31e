/**
 * Fault cases against real plugin processes (run as the chart runs them, with the runtime flags), each
 * on its own temp dir, fixture device tree and kubelet simulator.
 */
import { execFileSync } from 'child_process';
import * as fs from 'fs';
import * as http from 'http';
import * as path from 'path';
import * as grpc from '@grpc/grpc-js';
import { buildFixture } from '../simulator/devices/device-nodes';
import { services, unary, unixTarget } from '../simulator/grpc-js-clients';
import { KubeletSimulator } from '../simulator/kubelet';
import {
  Case,
  MiB,
  sampleProcess,
  slope,
  sleep,
  startProcess,
  tempDir,
  until,
  type PluginProcess,
} from './harness';

const KVM = 'github.com.ihcsim/kvm';
const KVM_SPEC = 'github.com.ihcsim-kvm.yaml';
const CRAND = 'github.com.ihcsim/crand';

interface Box {
  root: string;
  dp: string;
  cdi: string;
  flags: string[];
  kubelet: KubeletSimulator;
  close(): Promise<void>;
}

/** A fixture tree for `family` under a fresh temp root, plus a kubelet simulator on its device-plugin dir. */
async function box(family: string): Promise<Box> {
  const root = tempDir('kdp-fault-');
  const tree = buildFixture(family, root);
  const dp = path.join(root, 'dp');
  const cdi = path.join(root, 'cdi');
  const kubelet = new KubeletSimulator({ devicePluginDir: dp });
  await kubelet.start();
  return {
    root,
    dp,
    cdi,
    kubelet,
    flags: [
      family,
      `--device-plugin-dir=${dp}`,
      `--devfs-root=${tree.devfsRoot}`,
      `--cdi-dir=${cdi}`,
      '--log-level=info',
    ],
    async close() {
      await kubelet.stop();
      for (const mnt of mounts.splice(0)) execFileSync('umount', ['-l', mnt]);
      fs.rmSync(root, { recursive: true, force: true });
    },
  };
}

const mounts: string[] = [];
function mountTmpfs(dir: string, readOnly = false): void {
  fs.mkdirSync(dir, { recursive: true });
  execFileSync('mount', ['-t', 'tmpfs', '-o', `size=64k${readOnly ? ',ro' : ''}`, 'tmpfs', dir]);
  mounts.push(dir);
}
function fill(dir: string, name: string): string {
  const file = path.join(dir, name);
  const fd = fs.openSync(file, 'w');
  try {
    for (;;) fs.writeSync(fd, Buffer.alloc(4096, 1));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOSPC') throw err;
  } finally {
    fs.closeSync(fd);
  }
  return file;
}

async function stop(p: PluginProcess): Promise<number | null> {
  p.child.kill('SIGTERM');
  const { code } = await p.exited;
  return code;
}

const registrations = (b: Box, resource: string) => b.kubelet.resource(resource)?.registrations ?? 0;

/** An Allocate's outcome: undefined when it worked, else `<code>: <details>`. */
function allocate(b: Box, resource: string, ids: string[]): Promise<string | undefined> {
  return b.kubelet.allocate(resource, [ids]).then(
    () => undefined,
    (err: { code: number; details: string }) => `${err.code}: ${err.details}`,
  );
}

/** 1,000 kubelet restarts and 50,000 Allocates against one process; fds and RSS must not grow. */
export async function soak(): Promise<Case> {
  const c = new Case('soak: 1,000 kubelet restarts, 50,000 Allocates');
  const b = await box('kvm');
  const p = startProcess(b.flags);
  try {
    await b.kubelet.waitForRegistration(KVM, 10_000);
    const fds: number[] = [];
    const rss: number[] = [];
    let allocations = 0;
    for (let restart = 1; restart <= 1000; restart++) {
      const before = registrations(b, KVM);
      await b.kubelet.restart();
      await b.kubelet.waitFor(
        () => registrations(b, KVM) > before && b.kubelet.allocatable(KVM) === 110,
        10_000,
        `re-registration after restart ${restart}`,
      );
      // 50 Allocates per restart, 10 at a time, over the kubelet's new connection.
      for (let round = 0; round < 5; round++) {
        const outcomes = await Promise.all(
          Array.from({ length: 10 }, (_, i) => allocate(b, KVM, [`kvm-${(round * 10 + i) % 110}`])),
        );
        for (const o of outcomes) c.check(o && `Allocate after restart ${restart}: ${o}`);
        allocations += outcomes.length;
      }
      if (restart % 100 === 0) {
        const s = sampleProcess(p.child.pid as number);
        fds.push(s.fds);
        rss.push(s.rss);
      }
    }
    c.check(p.child.exitCode !== null && `the plugin exited (${p.child.exitCode})`);
    // Growth per 100 restarts, fitted over the samples after the first (warm-up): allow GC noise.
    const fdSlope = slope(fds.slice(1));
    const rssSlope = slope(rss.slice(1)) / MiB;
    c.check(fdSlope > 0.5 && `fds grow by ${fdSlope.toFixed(2)} per 100 restarts (${fds.join(', ')})`);
    c.check(rssSlope > 1 && `RSS grows by ${rssSlope.toFixed(2)} MiB per 100 restarts`);
    c.figure =
      `${allocations} Allocates; fds ${fds[0]}→${fds.at(-1)} (slope ${fdSlope.toFixed(2)}/100 restarts); ` +
      `RSS ${(rss[0] / MiB).toFixed(0)}→${((rss.at(-1) ?? 0) / MiB).toFixed(0)} MiB (slope ${rssSlope.toFixed(2)} MiB/100)`;
  } finally {
    await stop(p);
    await b.close();
  }
  return c;
}

/** kill -9 the plugin 10 times: each next process removes the stale socket and registers. */
export async function kill9(): Promise<Case> {
  const c = new Case('kill -9 and restart, 10 times');
  const b = await box('kvm');
  const socket = path.join(b.dp, 'kdp-github.com.ihcsim_kvm.sock');
  try {
    for (let i = 1; i <= 10; i++) {
      const before = registrations(b, KVM);
      const p = startProcess(b.flags);
      try {
        await b.kubelet.waitFor(
          () => registrations(b, KVM) > before && b.kubelet.allocatable(KVM) === 110,
          10_000,
        );
        c.check(await allocate(b, KVM, ['kvm-0']));
      } catch (err) {
        c.check(`start ${i}: ${(err as Error).message}; stderr: ${p.stderr().slice(-500)}`);
      }
      p.child.kill('SIGKILL');
      await p.exited;
      c.check(!fs.existsSync(socket) && `kill ${i}: no stale socket was left to clean (test premise)`);
    }
    c.figure = `${registrations(b, KVM)} registrations`;
  } finally {
    await b.close();
  }
  return c;
}

function getReadyz(port: number): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) =>
    http
      .get({ host: '127.0.0.1', port, path: '/readyz' }, (res) => {
        let body = '';
        res.on('data', (chunk) => (body += chunk));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      })
      .on('error', reject),
  );
}

function httpPort(p: PluginProcess): number {
  const line = p.logs().find((l) => l.msg === 'HTTP listener up');
  return Number(
    String(line?.addr ?? '')
      .split(':')
      .pop(),
  );
}

/** ENOSPC and EROFS on the CDI dir (a 64 KiB tmpfs), in a real process. */
export async function cdiDirFaults(): Promise<Case> {
  const c = new Case('ENOSPC and EROFS on the CDI dir');
  for (const fault of ['ENOSPC', 'EROFS'] as const) {
    const b = await box('kvm');
    const spec = path.join(b.cdi, KVM_SPEC);
    let filler: string | undefined;
    if (fault === 'ENOSPC') {
      mountTmpfs(b.cdi);
      filler = fill(b.cdi, 'filler');
    } else mountTmpfs(b.cdi, true);
    const p = startProcess([...b.flags, '--http-addr=127.0.0.1:0']);
    try {
      await b.kubelet.waitForRegistration(KVM, 10_000);
      const refused = await allocate(b, KVM, ['kvm-0']);
      c.check(
        !(refused?.startsWith('9: ') && refused.includes(spec) && refused.includes(fault)) &&
          `${fault}: Allocate should be refused naming ${spec} and ${fault}, got ${refused ?? 'OK'}`,
      );
      const ready = await getReadyz(httpPort(p));
      c.check(
        !(ready.status === 503 && ready.body.includes(fault)) &&
          `${fault}: /readyz ${ready.status} ${ready.body}`,
      );
      const temps = fs.readdirSync(b.cdi).filter((f) => f.endsWith('.tmp'));
      c.check(temps.length > 0 && `${fault}: temp files left: ${temps.join(', ')}`);
      if (filler) fs.rmSync(filler);
      else execFileSync('mount', ['-o', 'remount,rw', b.cdi]);
      await until(() => fs.existsSync(spec), 15_000, `${fault}: the spec once the dir is usable`);
      c.check(await allocate(b, KVM, ['kvm-0']));
      c.check((await getReadyz(httpPort(p))).status !== 200 && `${fault}: /readyz not 200 after recovery`);
      c.check(p.child.exitCode !== null && `${fault}: the plugin exited`);
    } catch (err) {
      c.check(`${fault}: ${(err as Error).message}`);
    } finally {
      await stop(p);
      await b.close();
    }
  }
  c.figure = 'refused, 503, no temp file, recovered';
  return c;
}

/** EACCES on the device-plugin dir: the plugin as an unprivileged uid (root would bypass mode bits). */
export async function deviceDirNotWritable(): Promise<Case> {
  const c = new Case('EACCES on the device-plugin dir (uid 65534)');
  const b = await box('kvm');
  try {
    fs.chmodSync(b.root, 0o755);
    fs.mkdirSync(b.dp, { recursive: true, mode: 0o755 });
    const p = startProcess([...b.flags, '--cdi=false', '--log-format=text'], { uid: 65534 });
    const { code } = await p.exited;
    const lines = p.stderr().trim().split('\n');
    const last = lines.at(-1) ?? '';
    c.check(code !== 1 && `exit ${code}, expected 1; stderr: ${p.stderr()}`);
    c.check(!(last.includes('EACCES') && last.includes(`device-plugin dir ${b.dp}`)) && `last line: ${last}`);
    c.check(lines.some((l) => /^E /.test(l)) && 'a stray grpc-js line');
    c.figure = `exit ${code}: ${last.replace(/^kube-device-plugins kvm: /, '').slice(0, 60)}…`;
  } finally {
    await b.close();
  }
  return c;
}

/** A devnode config flipped bad/good 100 times while Allocates run: nothing lost, last good kept. */
export async function configFlips(): Promise<Case> {
  const c = new Case('config flipped bad/good 100 times under Allocate load');
  const b = await box('devnode');
  const file = path.join(b.root, 'devnode.yaml');
  const good = `resources: [{ name: ${CRAND}, glob: "crand*" }]\n`;
  fs.writeFileSync(file, good);
  const p = startProcess([...b.flags, `--config=${file}`]);
  let load = true;
  let allocations = 0;
  const count = (msg: string) => p.logs().filter((l) => l.msg === msg).length;
  try {
    await b.kubelet.waitForRegistration(CRAND, 10_000);
    const loadDone = (async () => {
      while (load) {
        c.check(await allocate(b, CRAND, [`crand${allocations % 3}`]));
        allocations += 1;
      }
    })();
    for (let flip = 1; flip <= 100; flip++) {
      const invalid = count('config is invalid; keeping the last good one');
      fs.writeFileSync(file, flip % 2 ? 'resources: [{name: nodomain, glob: "x["}]' : '{"resources": ');
      await until(
        () => count('config is invalid; keeping the last good one') > invalid,
        5000,
        `bad flip ${flip}`,
      );
      const reloaded = count('config reloaded');
      fs.writeFileSync(file, good);
      await until(() => count('config reloaded') > reloaded, 5000, `good flip ${flip}`);
    }
    load = false;
    await loadDone;
    const errors = p.logs().filter((l) => l.msg === 'config is invalid; keeping the last good one');
    c.check(errors.some((l) => l.file !== file) && 'an error that does not name the config file');
    c.check(b.kubelet.allocatable(CRAND) !== 3 && `allocatable ${b.kubelet.allocatable(CRAND)}, expected 3`);
    c.check(registrations(b, CRAND) !== 1 && `registered ${registrations(b, CRAND)} times, expected once`);
    c.figure = `${allocations} Allocates, ${errors.length} refusals naming the file`;
  } catch (err) {
    c.check((err as Error).message);
  } finally {
    load = false;
    await stop(p);
    await b.close();
  }
  return c;
}

/** 5,000 concurrent Allocates on the kubelet's one connection: RSS must stay well under the 128Mi limit. */
export async function memoryPressure(): Promise<Case> {
  const c = new Case('5,000 concurrent Allocates (memory)');
  const LIMIT = 96 * MiB; // three quarters of the chart's 128Mi limit
  const b = await box('kvm');
  const p = startProcess([...b.flags, '--log-level=error']);
  try {
    await b.kubelet.waitForRegistration(KVM, 10_000);
    const pid = p.child.pid as number;
    const idle = sampleProcess(pid).rss;
    let peak = idle;
    let sampling = true;
    const sampler = (async () => {
      while (sampling) {
        peak = Math.max(peak, sampleProcess(pid).rss);
        await sleep(5);
      }
    })();
    // One connection, as the kubelet has; a 60 s deadline, so a loaded CI machine measures memory, not patience.
    const client = new (services().devicePlugin)(
      unixTarget(path.join(b.dp, 'kdp-github.com.ihcsim_kvm.sock')),
      grpc.credentials.createInsecure(),
    );
    const outcomes = await Promise.all(
      Array.from({ length: 5000 }, (_, i) =>
        unary(client, 'Allocate', { container_requests: [{ devices_ids: [`kvm-${i % 110}`] }] }, 60_000).then(
          () => undefined,
          (err: { code: number; details: string }) => `${err.code}: ${err.details}`,
        ),
      ),
    );
    client.close();
    sampling = false;
    await sampler;
    const exhausted = outcomes.filter((o) => o?.startsWith('8: ')).length;
    const ok = outcomes.filter((o) => o === undefined).length;
    for (const o of outcomes) c.check(o && !o.startsWith('8: ') && `unexpected: ${o}`);
    c.check(peak > LIMIT && `peak RSS ${(peak / MiB).toFixed(0)} MiB over ${LIMIT / MiB} MiB`);
    c.figure = `RSS ${(idle / MiB).toFixed(0)} MiB idle, peak ${(peak / MiB).toFixed(0)} MiB; ${ok} OK, ${exhausted} RESOURCE_EXHAUSTED`;
  } finally {
    await stop(p);
    await b.close();
  }
  return c;
}
