/**
 * `npm run e2e:node`: the plugins on a real single node (see node.ts): pods go through the API server and the
 * scheduler, the kubelet admits them and calls the plugins, containerd + runc run them, and each container
 * checks what it sees. Prints a table (scenario, result, seconds); exits 1 when a scenario failed, 2 when
 * another run holds the node. `E2E_NODE_ONLY=kvm,netdevice` runs only the scenarios whose names start so.
 */
import { execFileSync } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import { PluginProcess } from '../plugin-process';
import { Binaries, RealNode, RefusedError, binaries, ensurePackages } from './node';
import { Row, Scenario, printTable } from './pods';
import { SCENARIOS } from './scenarios';

const rows: Row[] = [];
let node: RealNode | undefined;
const plugins = new Set<PluginProcess>();
/** The scenario running now: its clean-up runs on SIGTERM too. */
let current: Scenario | undefined;

async function shutdown(): Promise<void> {
  for (const p of plugins) await p.stop().catch(() => undefined);
  plugins.clear();
  if (current && node) await current.cleanup?.({ node, plugins }).catch(() => undefined);
  current = undefined;
  await node?.stop();
}

let stopping = false;
for (const signal of ['SIGTERM', 'SIGINT'] as const)
  process.on(signal, () => {
    if (stopping) return;
    stopping = true;
    console.log(`${signal}: stopping the node and removing its state`);
    void shutdown().finally(() => process.exit(signal === 'SIGTERM' ? 143 : 130));
  });

/** What the node runs, as the binaries report it. */
function versions(bin: Binaries): string {
  const first = (file: string, args: string[]) =>
    execFileSync(file, args, { encoding: 'utf8' }).split('\n')[0].trim();
  const cgroup = fs.existsSync('/sys/fs/cgroup/cgroup.controllers') ? 'cgroup v2' : 'cgroup v1';
  return [
    first(bin.kubelet, ['--version']),
    first(bin.containerd, ['--version']).split(' ').slice(0, 3).join(' '),
    first(bin.runc, ['--version']),
    cgroup,
  ].join(', ');
}

async function main(): Promise<number> {
  if (process.getuid?.() !== 0) {
    console.error('e2e:node needs root (containerd, runc, mknod, network namespaces, cgroups)');
    return 1;
  }
  const only = (process.env.E2E_NODE_ONLY ?? '').split(',').filter(Boolean);
  const selected = SCENARIOS.filter((s) => only.length === 0 || only.some((o) => s.name.startsWith(o)));
  ensurePackages();
  const started = Date.now();
  const bin = binaries(selected.some((s) => s.needsControllerManager));
  console.log(`binaries ready in ${((Date.now() - started) / 1000).toFixed(0)} s`);
  const bootStarted = Date.now();
  try {
    node = await RealNode.start(bin);
  } catch (err) {
    if (err instanceof RefusedError) {
      console.error(`refused: ${err.message}`);
      return 2;
    }
    rows.push({
      scenario: 'node up',
      ok: false,
      seconds: (Date.now() - bootStarted) / 1000,
      detail: (err as Error).message,
    });
    printTable(rows);
    return 1;
  }
  rows.push({
    scenario: 'node up',
    ok: true,
    seconds: (Date.now() - bootStarted) / 1000,
    detail: `${versions(bin)}: node Ready, its not-ready taint removed`,
  });
  for (const s of selected) {
    if (stopping) break;
    const t = Date.now();
    current = s;
    let ok = true;
    let detail = '';
    try {
      detail = (await s.run({ node, plugins })) ?? '';
    } catch (err) {
      ok = false;
      detail = (err as Error).message;
    }
    for (const p of plugins) await p.stop().catch(() => undefined);
    plugins.clear();
    const row = { scenario: s.name, ok, seconds: (Date.now() - t) / 1000, detail };
    rows.push(row);
    console.log(
      `${ok ? 'PASS' : 'FAIL'} ${s.name} (${row.seconds.toFixed(1)} s)${detail ? `: ${detail}` : ''}`,
    );
    if (!ok) console.log(node.logTail(15));
    try {
      await s.cleanup?.({ node, plugins });
    } catch (err) {
      console.log(`clean-up of ${s.name}: ${(err as Error).message}`);
    }
    current = undefined;
  }
  return rows.every((r) => r.ok) ? 0 : 1;
}

main()
  .then(async (code) => {
    await shutdown();
    if (rows.length) printTable(rows);
    const results = path.join(__dirname, '..', '..', '..', 'e2e', 'node-results.json');
    fs.mkdirSync(path.dirname(results), { recursive: true });
    fs.writeFileSync(results, JSON.stringify(rows, null, 2));
    process.exit(code);
  })
  .catch(async (err) => {
    console.error(err);
    await shutdown();
    process.exit(1);
  });
