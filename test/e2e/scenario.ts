/**
 * The checks every plugin goes through on one kubelet version, in order: it registers; a pod admitted
 * through the topology manager gets Allocate per container and the run options the plugin documents;
 * kubelet restarts (dead kubelet.sock left behind) each bring exactly one Register per resource and
 * keep the checkpointed allocations; plugin restarts are seen by the kubelet; a device going
 * unhealthy reaches the kubelet's allocatable. Plugin-specific checks (`extraChecks`) come last.
 * Each check is recorded (never thrown past) so one failure does not hide the others.
 */
import * as fs from 'fs';
import * as path from 'path';
import { removeDir, sleep } from '../helpers/tmp';
import {
  ALLOCATE_MSG,
  DEVICES_MSG,
  Kubelet,
  REGISTER_MSG,
  type Admission,
  type AdmittedContainer,
  type NodeState,
  type PodSpec,
  type RunOptions,
} from './kubelet';
import { PluginProcess } from './plugin-process';

export interface Fixture {
  /** Plugin flags for the fixture (roots, resource names…); the driver adds the kubelet's paths. */
  args: string[];
  env?: NodeJS.ProcessEnv;
  /** Every resource the plugin registers, and the one the test pods ask for. */
  resources: string[];
  resource: string;
  /** Namespace of the test pods (CEX warns about pods outside a set's project). */
  namespace?: string;
  /** Healthy devices of `resource` once the plugin is up. */
  devices: number;
  /** The run options the plugin's docs promise a container holding `ids` of `resource`. */
  expectOptions(ids: string[]): RunOptions;
  /** Make devices of `resource` unhealthy; returns how many. `repairDevice` undoes it. */
  breakDevice(): number;
  repairDevice(): void;
  /** Checks of this plugin alone, run after the common ones. */
  extraChecks?(ctx: ScenarioContext): Promise<void>;
  cleanup(): Promise<void> | void;
}

export interface PluginScenario {
  name: string;
  /** Why it cannot run here (root, iproute2…), or undefined. */
  unavailable?(): string | undefined;
  setup(root: string): Promise<Fixture> | Fixture;
}

export interface CheckResult {
  name: string;
  ok: boolean;
  detail: string;
}

export interface PluginResult {
  plugin: string;
  firstRegisterMs?: number;
  /** Kubelet start → its "Got registration request", per restart, ms. */
  reRegisterMs: number[];
  /** The pause between stopping the old kubelet and starting the new one, per restart, ms. */
  restartGapsMs: number[];
  /** Register calls per kubelet restart (per resource, all resources flattened). */
  registersPerRestart: number[];
  checks: CheckResult[];
  ok: boolean;
}

export function emptyResult(plugin: string): PluginResult {
  return { plugin, reRegisterMs: [], restartGapsMs: [], registersPerRestart: [], checks: [], ok: true };
}

export interface ScenarioOptions {
  kubeletRestarts: number;
  pluginRestarts: number;
  /** Where the plugin's and the harness's logs go. */
  logDir: string;
  /** Told the k8s.io/kubernetes version the harness links (e.g. v1.37.2). */
  onKubelet?(version: string): void;
}

/** Quiet time after a registration before Register calls are counted: a duplicate comes within ms. */
const SETTLE_MS = 300;
/** Pauses between stopping and starting the kubelet, cycled: back to back, 10 ms apart, slower. */
const RESTART_GAPS_MS = [0, 10, 50, 200];
const WAIT_MS = 15_000;

export class ScenarioContext {
  readonly result: PluginResult;
  plugin?: PluginProcess;
  policy: 'none' | 'single-numa-node' = 'none';

  constructor(
    readonly name: string,
    readonly kubelet: Kubelet,
    readonly fixture: Fixture,
    readonly dir: string,
    readonly podResourcesSocket: string,
    readonly logDir: string,
  ) {
    this.result = {
      plugin: name,
      reRegisterMs: [],
      restartGapsMs: [],
      registersPerRestart: [],
      checks: [],
      ok: true,
    };
  }

  /** Run one check; a thrown error is its failure detail. */
  async check(name: string, fn: () => Promise<string | void>): Promise<boolean> {
    let ok = true;
    let detail = '';
    try {
      detail = (await fn()) ?? '';
    } catch (err) {
      ok = false;
      detail = err instanceof Error ? err.message : String(err);
    }
    this.result.checks.push({ name, ok, detail });
    if (!ok) this.result.ok = false;
    console.log(`    ${ok ? 'ok  ' : 'FAIL'} ${name}${detail ? ` — ${detail}` : ''}`);
    return ok;
  }

  startPlugin(): PluginProcess {
    const args = [
      ...this.fixture.args,
      `--device-plugin-dir=${this.dir}`,
      `--pod-resources-socket=${this.podResourcesSocket}`,
    ];
    this.plugin = new PluginProcess(
      this.name,
      args,
      this.fixture.env ?? {},
      path.join(this.logDir, `${this.name}.log`),
    );
    return this.plugin;
  }

  /** After a failed check the plugin may be down: start it again and wait for its registration. */
  async ensurePlugin(): Promise<void> {
    if (this.plugin?.running) return;
    const plugin = this.startPlugin();
    await this.waitForRegistration(plugin.startedAt);
  }

  startKubelet(): Promise<{ generation: number; startedAt: number }> {
    return this.kubelet.start({
      dir: this.dir,
      podResourcesSocket: this.podResourcesSocket,
      policy: this.policy,
    });
  }

  /** Poll the node's state until `pred` holds. */
  async waitForState(pred: (s: NodeState) => boolean, what: string, timeoutMs = WAIT_MS): Promise<NodeState> {
    const deadline = Date.now() + timeoutMs;
    let last: NodeState | undefined;
    for (;;) {
      last = await this.kubelet.state();
      if (pred(last)) return last;
      if (Date.now() > deadline)
        throw new Error(
          `timed out after ${timeoutMs} ms waiting for ${what}; allocatable ${JSON.stringify(last.allocatable)}, capacity ${JSON.stringify(last.capacity)}`,
        );
      await sleep(20);
    }
  }

  allocatable(s: NodeState, resource = this.fixture.resource): number {
    return s.allocatable?.[resource] ?? 0;
  }

  /** Wait until every resource registered after `since` and its device list was processed. */
  async waitForRegistration(since: number): Promise<number> {
    let first = Infinity;
    for (const res of this.fixture.resources) {
      const reg = await this.kubelet.waitForLog(
        (l) => l.msg === REGISTER_MSG && l.kv?.resourceName === res,
        since,
        WAIT_MS,
        `a Register for ${res}`,
      );
      first = Math.min(first, reg.t);
      await this.kubelet.waitForLog(
        (l) => l.msg === DEVICES_MSG && l.kv?.resourceName === res,
        reg.t,
        WAIT_MS,
        `the device list of ${res}`,
      );
    }
    return first;
  }

  /** Register calls per resource in [from, to), as "res=n" for messages. */
  registerCounts(from: number, to = Infinity): number[] {
    return this.fixture.resources.map((res) => this.kubelet.registrations(res, from, to).length);
  }

  /** A kubelet restart as a killed kubelet does it: dead sockets left, a pause, a new manager. */
  async restartKubelet(gapMs: number): Promise<{ startedAt: number; registerMs: number }> {
    await this.kubelet.stop(true);
    if (gapMs > 0) await sleep(gapMs);
    const { startedAt } = await this.startKubelet();
    const registeredAt = await this.waitForRegistration(startedAt);
    return { startedAt, registerMs: registeredAt - startedAt };
  }

  pod(name: string, containers: number, count = 1): PodSpec {
    return {
      name,
      namespace: this.fixture.namespace,
      containers: Array.from({ length: containers }, (_, i) => ({
        name: `c${i}`,
        resources: { [this.fixture.resource]: count },
      })),
    };
  }

  async admit(pod: PodSpec): Promise<AdmittedContainer[]> {
    const res: Admission = await this.kubelet.admit(pod);
    if (!res.admitted) throw new Error(`pod ${pod.name} was not admitted: ${res.reason}: ${res.message}`);
    return res.containers;
  }
}

function sortedOptions(o: RunOptions): RunOptions {
  const by = <T extends { containerPath: string }>(a: T, b: T) =>
    a.containerPath.localeCompare(b.containerPath);
  return {
    devices: [...o.devices].sort(by),
    mounts: [...o.mounts].sort(by),
    envs: o.envs,
    annotations: o.annotations,
    cdiDevices: [...o.cdiDevices].sort(),
  };
}

/** Empty run options plus `parts`: what most plugins' expectations start from. */
export function options(parts: Partial<RunOptions>): RunOptions {
  return { devices: [], mounts: [], envs: {}, annotations: {}, cdiDevices: [], ...parts };
}

/** Throws with both sides when the kubelet's run options are not the documented ones. */
export function expectOptions(container: AdmittedContainer, expected: RunOptions): void {
  const got = JSON.stringify(sortedOptions(container.options ?? options({})));
  const want = JSON.stringify(sortedOptions(expected));
  if (got !== want)
    throw new Error(`container ${container.name}: run options\n      got  ${got}\n      want ${want}`);
}

/** The common checks, then the plugin's own; always tears down. */
export async function runScenario(
  scenario: PluginScenario,
  harnessBinary: string,
  root: string,
  opts: ScenarioOptions,
): Promise<PluginResult> {
  const dir = path.join(root, 'dp');
  const pr = path.join(root, 'pr.sock');
  fs.mkdirSync(dir, { recursive: true });
  const kubelet = await Kubelet.spawn(harnessBinary, path.join(opts.logDir, `${scenario.name}.kubelet.log`));
  opts.onKubelet?.(kubelet.kubernetes);
  let fixture: Fixture | undefined;
  let ctx: ScenarioContext | undefined;
  try {
    fixture = await scenario.setup(root);
    ctx = new ScenarioContext(scenario.name, kubelet, fixture, dir, pr, opts.logDir);
    await ctx.startKubelet();
    await commonChecks(ctx, opts);
    // The plugin's own checks need it registered; they are pointless when it never registered at all.
    if (ctx.result.checks.length > 1) {
      await ctx.ensurePlugin();
      await fixture.extraChecks?.(ctx);
    }
    return ctx.result;
  } catch (err) {
    const result = ctx?.result ?? emptyResult(scenario.name);
    result.ok = false;
    result.checks.push({
      name: 'scenario',
      ok: false,
      detail: err instanceof Error ? err.message : String(err),
    });
    return result;
  } finally {
    await ctx?.plugin?.stop();
    await kubelet.close();
    await fixture?.cleanup();
    removeDir(root);
  }
}

async function commonChecks(ctx: ScenarioContext, opts: ScenarioOptions): Promise<void> {
  const { kubelet, fixture } = ctx;
  const registered = await ctx.check('registers with the kubelet', async () => {
    const plugin = ctx.startPlugin();
    const at = await ctx.waitForRegistration(plugin.startedAt);
    await ctx.waitForState(
      (s) => ctx.allocatable(s) === fixture.devices,
      `${fixture.devices} allocatable devices`,
    );
    ctx.result.firstRegisterMs = at - plugin.startedAt;
    return `${Math.round(at - plugin.startedAt)} ms from spawn to Register, ${fixture.devices} devices allocatable`;
  });
  if (!registered) return;

  // Two containers, one device each: one Allocate per container, each with its own run options.
  let firstPod: AdmittedContainer[] = [];
  await ctx.check(
    'pod admitted through the topology manager: Allocate per container, documented run options',
    async () => {
      const since = Date.now();
      firstPod = await ctx.admit(ctx.pod('p1', 2));
      const allocated = new Set(
        kubelet
          .find((l) => l.msg === ALLOCATE_MSG && (l.kv?.pod ?? '').endsWith('/p1'), since)
          .map((l) => l.kv?.containerName),
      );
      if (allocated.size !== 2)
        throw new Error(`expected an Allocate for each of 2 containers, the kubelet made ${allocated.size}`);
      for (const c of firstPod) {
        const ids = c.devices[fixture.resource] ?? [];
        if (ids.length !== 1) throw new Error(`container ${c.name} got ${JSON.stringify(c.devices)}`);
        expectOptions(c, fixture.expectOptions(ids));
      }
      return firstPod.map((c) => `${c.name}: ${c.devices[fixture.resource]}`).join(', ');
    },
  );
  const firstPodDevices = JSON.stringify(firstPod.map((c) => c.devices));

  // Kubelet restarts, a dead kubelet.sock left behind each time.
  const starts: number[] = [];
  await ctx.check(
    `${opts.kubeletRestarts} kubelet restarts: re-registers, checkpointed allocations kept`,
    async () => {
      for (let i = 0; i < opts.kubeletRestarts; i++) {
        const gap = RESTART_GAPS_MS[i % RESTART_GAPS_MS.length];
        const { startedAt, registerMs } = await ctx.restartKubelet(gap);
        starts.push(startedAt);
        ctx.result.reRegisterMs.push(registerMs);
        ctx.result.restartGapsMs.push(gap);
        const state = await kubelet.state();
        const kept = JSON.stringify(['c0', 'c1'].map((c) => state.pods?.p1?.[c] ?? {}));
        if (firstPod.length > 0 && kept !== firstPodDevices)
          throw new Error(`restart ${i + 1}: pod p1 holds ${kept} after the restart, had ${firstPodDevices}`);
        await sleep(SETTLE_MS);
      }
      return `${starts.length} restarts`;
    },
  );
  await sleep(1000);
  await ctx.check('exactly one Register per kubelet restart', async () => {
    const problems: string[] = [];
    const badRestarts = new Set<number>();
    starts.forEach((from, i) => {
      const counts = ctx.registerCounts(from, starts[i + 1]);
      ctx.result.registersPerRestart.push(...counts);
      counts.forEach((n, r) => {
        if (n === 1) return;
        problems.push(`restart ${i + 1}: ${n} Register calls for ${fixture.resources[r]}`);
        badRestarts.add(i);
      });
    });
    if (problems.length > 0) {
      const refused = kubelet.find((l) => l.level === 'error' && l.t >= (starts[0] ?? 0));
      const sample = refused.slice(0, 2).map((l) => `${l.msg}: ${l.err ?? ''}`);
      throw new Error(
        `${badRestarts.size} of ${starts.length} restarts: ${problems.slice(0, 3).join('; ')}${problems.length > 3 ? '; …' : ''}` +
          (sample.length ? ` (kubelet errors: ${sample.join(' | ')})` : ''),
      );
    }
    return `${ctx.result.registersPerRestart.length} restarts × resources, 1 each`;
  });
  await ctx.check('after the restarts a new pod gets an unused device', async () => {
    const state = await ctx.waitForState(
      (s) => ctx.allocatable(s) === fixture.devices,
      'all devices allocatable',
    );
    const held = new Set(Object.values(state.pods?.p1 ?? {}).flatMap((c) => c[fixture.resource] ?? []));
    const [c] = await ctx.admit(ctx.pod('p2', 1));
    const got = c.devices[fixture.resource] ?? [];
    await kubelet.remove('p2');
    if (got.length !== 1 || held.has(got[0])) throw new Error(`p2 got ${got}; p1 holds ${[...held]}`);
    expectOptions(c, fixture.expectOptions(got));
    return `p2 got ${got[0]}; p1 holds ${[...held].join(', ')}`;
  });

  await ctx.check(
    `${opts.pluginRestarts} plugin restarts after a kubelet restart: the kubelet sees each go and accepts the new one`,
    async () => {
      await ctx.restartKubelet(0);
      const notes: string[] = [];
      for (let j = 0; j < opts.pluginRestarts; j++) {
        const signal = j % 2 === 0 ? 'SIGTERM' : 'SIGKILL';
        await ctx.plugin!.stop(signal);
        await ctx.waitForState(
          (s) => fixture.resources.every((r) => ctx.allocatable(s, r) === 0),
          `allocatable 0 after the plugin was stopped with ${signal}`,
        );
        const plugin = ctx.startPlugin();
        await ctx.waitForRegistration(plugin.startedAt);
        await ctx.waitForState(
          (s) => ctx.allocatable(s) === fixture.devices,
          `${fixture.devices} allocatable again`,
        );
        await sleep(SETTLE_MS);
        const counts = ctx.registerCounts(plugin.startedAt);
        if (counts.some((n) => n !== 1))
          throw new Error(`plugin start ${j + 1}: Register calls per resource ${counts}`);
        notes.push(signal);
      }
      return `stopped with ${notes.join(', ')}; allocatable 0 → ${fixture.devices} each time, one Register each`;
    },
  );

  await ctx.check('a device going unhealthy reaches the kubelet’s allocatable', async () => {
    await ctx.ensurePlugin();
    await ctx.waitForState((s) => ctx.allocatable(s) === fixture.devices, `${fixture.devices} allocatable`);
    const broken = fixture.breakDevice();
    await ctx.waitForState(
      (s) => ctx.allocatable(s) === fixture.devices - broken,
      `allocatable ${fixture.devices - broken}`,
    );
    fixture.repairDevice();
    await ctx.waitForState(
      (s) => ctx.allocatable(s) === fixture.devices,
      `allocatable ${fixture.devices} again`,
    );
    return `allocatable ${fixture.devices} → ${fixture.devices - broken} → ${fixture.devices}`;
  });
}
