/**
 * A device plugin run as a real process against the kubelet simulator, for benchmarks that compare
 * plugins (ours and the Go floor) or runtimes (Node majors): spawn → registered time, RSS, Allocate loops.
 */
import { spawn, type ChildProcess } from 'child_process';
import * as fs from 'fs';
import * as http from 'http';
import * as net from 'net';
import * as os from 'os';
import * as path from 'path';
import { NODE_RUNTIME_FLAGS } from '../plugins/catalogue/node-flags';
import type { KubeletSimulator } from '../simulator/kubelet';

export function now(): number {
  return Number(process.hrtime.bigint()) / 1e6;
}

/**
 * CPU time a process has used so far, ms: the sum over its threads of /proc/<pid>/task/<tid>/schedstat
 * (nanoseconds; /proc/<pid>/stat counts in 10 ms ticks, too coarse for a Go plugin's start-up).
 */
export function cpuMs(pid: number): number {
  let ns = 0;
  for (const tid of fs.readdirSync(`/proc/${pid}/task`))
    ns += Number(fs.readFileSync(`/proc/${pid}/task/${tid}/schedstat`, 'utf8').split(' ')[0]);
  return ns / 1e6;
}

/** VmRSS (field "VmRSS") or its anonymous part ("RssAnon": heap, stacks; not the mapped binary) from /proc. */
export function rssBytes(pid: number, field: 'VmRSS' | 'RssAnon' = 'VmRSS'): number {
  const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
  return Number(new RegExp(`${field}:\\s+(\\d+) kB`).exec(status)![1]) * 1024;
}

/** A free TCP port on loopback (for a plugin's /metrics listener). */
export async function freePort(): Promise<number> {
  const server = net.createServer().listen(0, '127.0.0.1');
  await new Promise((r) => server.once('listening', r));
  const port = (server.address() as net.AddressInfo).port;
  await new Promise((r) => server.close(r));
  return port;
}

/** GET http://127.0.0.1:<port><path>: the body. */
export function httpGet(port: number, urlPath: string): Promise<string> {
  return new Promise<string>((resolve, reject) =>
    http
      .get({ host: '127.0.0.1', port, path: urlPath }, (res) => {
        let text = '';
        res.on('data', (c) => (text += c));
        res.on('end', () => resolve(text));
      })
      .on('error', reject),
  );
}

export interface PluginProcess {
  child: ChildProcess;
  resource: string;
  /** Process spawn → first ListAndWatch list received by the kubelet, ms. */
  startMs: number;
  /** CPU time the process used to get there, ms (all threads): steadier than `startMs` on a busy machine. */
  startCpuMs: number;
  /** Allocate calls made so far through `allocate`. */
  allocations: number;
  rss(field?: 'VmRSS' | 'RssAnon'): number;
  /** `total` Allocate calls of one ID each, `concurrency` in flight; the round trip of each, ms. */
  allocate(concurrency: number, total: number): Promise<number[]>;
  stop(): Promise<void>;
}

/** `total` Allocate calls of one advertised ID each, `concurrency` in flight: the round trip of each, ms. */
export async function allocateLoop(
  kubelet: KubeletSimulator,
  resource: string,
  concurrency: number,
  total: number,
): Promise<number[]> {
  const ids = kubelet.resource(resource)!.devices.map((d) => d.id);
  const samples: number[] = [];
  let next = 0;
  const worker = async () => {
    while (next < total) {
      const id = ids[next++ % ids.length];
      const t0 = now();
      await kubelet.allocate(resource, [[id]]);
      samples.push(now() - t0);
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  return samples;
}

/** Spawn `command args` and wait until `resource` is registered with `kubelet` and has sent its list. */
export async function startPluginProcess(
  kubelet: KubeletSimulator,
  resource: string,
  command: string,
  args: string[],
  env: NodeJS.ProcessEnv = process.env,
): Promise<PluginProcess> {
  const t0 = now();
  const child = spawn(command, args, { stdio: ['ignore', 'ignore', 'inherit'], env });
  const exited = new Promise<never>((_, reject) =>
    child.once('exit', (code) => reject(new Error(`${command} ${args.join(' ')} exited with ${code}`))),
  );
  exited.catch(() => undefined);
  await Promise.race([kubelet.waitForRegistration(resource, 20_000), exited]);
  const startMs = now() - t0;
  const plugin: PluginProcess = {
    child,
    resource,
    startMs,
    startCpuMs: cpuMs(child.pid!),
    allocations: 0,
    rss: (field) => rssBytes(child.pid!, field),
    async allocate(concurrency, total) {
      const samples = await allocateLoop(kubelet, resource, concurrency, total);
      plugin.allocations += total;
      return samples;
    },
    async stop() {
      if (child.exitCode !== null) return;
      const gone = new Promise((r) => child.once('exit', r));
      child.kill('SIGTERM');
      await gone;
    },
  };
  return plugin;
}

/**
 * Node's compile cache, as the image has it (NODE_COMPILE_CACHE, see the Dockerfile); filled by the first
 * start, kept between runs (entries are keyed by file content, Node version and flags).
 */
export const COMPILE_CACHE = path.join(os.homedir(), '.cache', 'kube-device-plugins', 'compile-cache');

/** Our kvm plugin as the image and chart run it (compile cache, HTTP listener, CDI on), on `root`'s tree. */
export const KVM_RESOURCE = 'github.com.ihcsim/kvm';
export const KVM_ENTRY = path.join(__dirname, '..', '..', 'bin', 'kube-device-plugins.js');
/** The same CLI from tsc's output, module by module, as the bin ran it before the bundle (scripts/bundle.js). */
export const UNBUNDLED_ENTRY = path.join(__dirname, '..', 'plugins', 'cli', 'entry.js');

export async function startKvmProcess(
  kubelet: KubeletSimulator,
  devicePluginDir: string,
  root: string,
  options: { node?: string; nodeFlags?: string[]; httpPort?: number; entry?: string } = {},
): Promise<PluginProcess> {
  return startPluginProcess(
    kubelet,
    KVM_RESOURCE,
    options.node ?? process.execPath,
    [
      ...(options.nodeFlags ?? NODE_RUNTIME_FLAGS),
      options.entry ?? KVM_ENTRY,
      'kvm',
      `--device-plugin-dir=${devicePluginDir}`,
      `--devfs-root=${path.join(root, 'dev')}`,
      `--cdi-dir=${path.join(root, 'cdi')}`,
      `--http-addr=127.0.0.1:${options.httpPort ?? 0}`,
      '--log-level=error',
    ],
    { ...process.env, NODE_COMPILE_CACHE: COMPILE_CACHE },
  );
}
