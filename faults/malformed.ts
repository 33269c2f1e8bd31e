/**
 * Malformed and hostile RPCs to every method of every plugin (each family's demo scenario, in this
 * process, against its fixtures): random bytes, truncated frames, an 8 MB message, 10,000 IDs,
 * over-long / NUL / non-UTF-8 IDs and inconsistent preferred-allocation requests. Each must get a gRPC
 * error (or, for ListAndWatch, a stream), every reply must stay under 16 kB, the process must not crash,
 * and afterwards the kubelet's ListAndWatch stream must be intact and a valid Allocate must work.
 */
import * as crypto from 'crypto';
import * as fs from 'fs';
import * as path from 'path';
import type { DemoScenario } from '../demo/scenario';
import { KubeletSimulator } from '../simulator/kubelet';
import { Case, REPO_ROOT, tempDir } from './harness';
import { allocateBody, frame, METHODS, preferredBody, preStartBody, rawCall, type RawReply } from './rpc';

const MAX_REPLY_BYTES = 16 * 1024;

function loadScenarios(): DemoScenario[] {
  const dir = path.join(REPO_ROOT, 'dist', 'demo', 'scenarios');
  return fs
    .readdirSync(dir)
    .filter((f) => f.endsWith('.js'))
    .sort()
    .map((f) => (require(path.join(dir, f)) as { scenario: DemoScenario }).scenario); // eslint-disable-line @typescript-eslint/no-require-imports -- found at run time
}

/** The hostile payloads for one method (framed, ready to send), each with a label for failures. */
function payloads(method: string, ids: string[]): [string, Buffer][] {
  const known = ids[0] ?? 'x';
  const idsBody = (list: Buffer[]) =>
    method === 'PreStartContainer' ? preStartBody(list) : allocateBody(list);
  const many = Array.from({ length: 10_000 }, (_, i) => Buffer.from(`nope-${i}`));
  const weird = [
    Buffer.from('x'.repeat(100_000)),
    Buffer.from('nul\0id'),
    Buffer.from([0xff, 0xfe, 0xc3, 0x28, 0xa0, 0xa1]), // not UTF-8
    Buffer.from(known),
  ];
  const list: [string, Buffer][] = [];
  for (let i = 0; i < 5; i++) list.push([`random bytes #${i}`, frame(crypto.randomBytes(1 + i * 997))]);
  list.push(['truncated frame', frame(Buffer.from([0x0a, 0x05, 0x0a]), 1000)]);
  list.push(['truncated prefix', Buffer.from([0, 0, 0])]);
  list.push(['8 MB message', frame(Buffer.alloc(8 * 1024 * 1024, 0x0a))]);
  list.push(['10,000 unknown IDs', frame(idsBody(many))]);
  list.push(['over-long, NUL and non-UTF-8 IDs', frame(idsBody(weird))]);
  if (method === 'GetPreferredAllocation') {
    const other = ids[1] ?? `${known}-other`;
    list.push(['must_include outside available', frame(preferredBody([known], [other], 1))]);
    const three = [...ids.slice(0, 3), 'x1', 'x2'].slice(0, 3); // unknown fillers when fewer exist
    list.push(['must_include above size', frame(preferredBody(three, three, 1))]);
    list.push(['duplicate IDs', frame(preferredBody([known, known], [], 1))]);
    list.push(['size above available', frame(preferredBody([known], [], 5))]);
    list.push(['size 0', frame(preferredBody([known], [], 0))]);
    list.push(['10,000 available IDs', frame(preferredBody(many.map(String), [], 1))]);
  }
  return list;
}

function problemWith(reply: RawReply, method: string): string | undefined {
  if (reply.broken) return `connection broken: ${reply.broken}`;
  if (reply.bytes >= MAX_REPLY_BYTES) return `reply of ${reply.bytes} bytes`;
  if (reply.status === undefined) return method === 'ListAndWatch' ? undefined : 'no reply within 3 s';
  // Options and ListAndWatch take an Empty request: a body that decodes as one is answered normally.
  if (reply.status === 0 && !['GetDevicePluginOptions', 'ListAndWatch'].includes(method))
    return 'answered OK';
  return undefined;
}

export async function malformedRpcs(): Promise<Case> {
  const c = new Case('malformed RPCs, every method, every plugin');
  let largest = 0;
  for (const scenario of loadScenarios()) {
    const why = scenario.unavailable?.();
    if (why) {
      c.check(`${scenario.name}: cannot run (${why})`);
      continue;
    }
    const workDir = tempDir('kdp-fault-');
    const devicePluginDir = path.join(workDir, 'dp');
    const podResourcesSocket = path.join(workDir, 'pr.sock');
    const kubelet = new KubeletSimulator({ devicePluginDir, podResourcesSocket });
    await kubelet.start();
    const running = await scenario.start({
      kubelet,
      devicePluginDir,
      podResourcesSocket,
      workDir,
      repoRoot: REPO_ROOT,
    });
    try {
      for (const resource of scenario.resources) {
        await kubelet.waitForRegistration(resource, 10_000);
        const devices = kubelet.resource(resource)?.devices ?? [];
        const ids = devices.map((d) => d.id);
        const socket = path.join(devicePluginDir, kubelet.resource(resource)?.endpoint ?? '');
        const allocatable = kubelet.allocatable(resource);
        for (const method of METHODS) {
          for (const [label, payload] of payloads(method, ids)) {
            const reply = await rawCall(socket, method, payload);
            largest = Math.max(largest, reply.bytes);
            const problem = problemWith(reply, method);
            c.check(problem && `${resource} ${method} ${label}: ${problem}`);
          }
        }
        // The kubelet's own stream came through it all, and a valid request still works.
        const intact =
          kubelet.resource(resource)?.connected === true && kubelet.allocatable(resource) === allocatable;
        c.check(!intact && `${resource}: the kubelet's ListAndWatch stream did not survive`);
        const healthy = devices.find((d) => d.health === 'Healthy');
        if (healthy) {
          const ok = await kubelet.allocate(resource, [[healthy.id]]).then(
            () => undefined,
            (err: Error) => err.message,
          );
          c.check(ok && `${resource}: a valid Allocate failed afterwards: ${ok}`);
        }
      }
    } finally {
      await running.stop();
      await kubelet.stop();
      fs.rmSync(workDir, { recursive: true, force: true });
    }
  }
  c.figure = `largest reply ${largest} B (limit ${MAX_REPLY_BYTES})`;
  return c;
}
