/**
 * The chart in DRA mode against the real kube-apiserver (run by run.ts on 1.37): `helm install` with every DRA
 * family in `mode: dra` (DeviceClasses, ValidatingAdmissionPolicies, RBAC accepted by the server), the
 * driver's RBAC as the server's authorizer sees it, the slice policy with real ServiceAccount tokens (a token
 * bound to a pod on a node carries the node in the user's extra: checked with a SelfSubjectReview), the
 * uninstall account, and `helm uninstall` running the pre-delete hooks (this tier has no Job controller or
 * kubelet: the test runs each Job's command, the real CLI from dist/, with a token of the Job's own
 * ServiceAccount, then reports the Job complete).
 */
import { spawn } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import * as yaml from 'js-yaml';
import { TestSettings, runChecks } from '../../../chart-test/checks';
import { ApiConfig, apiRequest } from '../../../chart-test/kube-api';
import { buildFixture } from '../../../plugins/device-nodes/fixture';
import { NODE_NAME_EXTRA, draDriverName } from '../../../synth/dra';
import { Helm, helmEnvironment, helms, runHelm } from '../../synth/helpers/helm';
import { Cluster } from './cluster';

type Scenario = (name: string, body: () => Promise<string | void>) => Promise<boolean>;

const NAMESPACE = 'dra-system';
const RELEASE = 'dra';
const NODES = ['dra-node-a', 'dra-node-b'];
const FAMILIES = ['tdx', 'kvm', 'devnode'] as const;
const SLICES = '/apis/resource.k8s.io/v1/resourceslices';

function check(condition: boolean, message: string): void {
  if (!condition) throw new Error(message);
}

interface Manifest {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; annotations?: Record<string, string> };
  spec?: Record<string, unknown>;
}

const manifests = (text: string) => (yaml.loadAll(text) as Manifest[]).filter(Boolean);

function helm(h: Helm, cluster: Cluster, args: string[]): string {
  const result = runHelm(h, [...args, '--kubeconfig', cluster.kubeconfig]);
  if (result.status !== 0) throw new Error(`helm ${args.slice(0, 3).join(' ')}: ${result.stderr.trim()}`);
  return result.stdout;
}

/** The REST path of an object of the kinds the chart makes in DRA mode. */
function objectUrl(o: Manifest): string {
  const [group, version] = o.apiVersion.includes('/') ? o.apiVersion.split('/') : ['', o.apiVersion];
  const plural = o.kind.toLowerCase().replace(/y$/, 'ie').replace(/s$/, 'se') + 's';
  const base = group ? `/apis/${group}/${version}` : `/api/${version}`;
  const ns = o.metadata.namespace ? `/namespaces/${o.metadata.namespace}` : '';
  return `${base}${ns}/${plural}/${o.metadata.name}`;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** A ResourceSlice of the kvm driver on `node` (or for all nodes). */
function slice(name: string, node?: string) {
  return {
    apiVersion: 'resource.k8s.io/v1',
    kind: 'ResourceSlice',
    metadata: { name },
    spec: {
      driver: draDriverName('kvm'),
      pool: { name: node ?? 'cluster', generation: 1, resourceSliceCount: 1 },
      ...(node ? { nodeName: node } : { allNodes: true }),
      devices: [
        {
          name: 'kvm',
          allowMultipleAllocations: true,
          attributes: { path: { string: '/dev/kvm' }, major: { int: 10 }, minor: { int: 232 } },
        },
      ],
    },
  };
}

async function token(cluster: Cluster, account: string, boundPod?: { name: string; uid: string }) {
  const response = await cluster.create(`/api/v1/namespaces/${NAMESPACE}/serviceaccounts/${account}/token`, {
    apiVersion: 'authentication.k8s.io/v1',
    kind: 'TokenRequest',
    spec: {
      expirationSeconds: 3600,
      ...(boundPod && { boundObjectRef: { kind: 'Pod', apiVersion: 'v1', ...boundPod } }),
    },
  });
  return { ...cluster.api, token: String((response.body.status as { token: string }).token) };
}

/** Who the server says a token is. */
async function whoAmI(api: ApiConfig) {
  const review = await apiRequest(api, 'POST', '/apis/authentication.k8s.io/v1/selfsubjectreviews', {
    apiVersion: 'authentication.k8s.io/v1',
    kind: 'SelfSubjectReview',
  });
  check(review.status === 201, `SelfSubjectReview: HTTP ${review.status} ${String(review.body.message)}`);
  return (review.body.status as { userInfo: { username: string; extra?: Record<string, string[]> } })
    .userInfo;
}

/** Repeats a dry-run create until the policy refuses it (it takes effect once the server has loaded it). */
async function refusedOnceLoaded(api: ApiConfig, body: object) {
  const deadline = Date.now() + 15_000;
  for (;;) {
    const r = await apiRequest(api, 'POST', `${SLICES}?dryRun=All`, body);
    if (r.status !== 201 || Date.now() > deadline) return r;
    await sleep(200);
  }
}

/** `helm uninstall` in the background (it waits for the pre-delete hook Job), with a throw-away HOME. */
function uninstallInBackground(h: Helm, cluster: Cluster) {
  const home = fs.mkdtempSync(path.join(os.tmpdir(), 'kdp-helm-'));
  const env = helmEnvironment(home);
  const child = spawn(
    h.binary,
    ['uninstall', RELEASE, '-n', NAMESPACE, '--wait', '--timeout', '90s', '--kubeconfig', cluster.kubeconfig],
    { env, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let output = '';
  child.stdout.on('data', (d: Buffer) => (output += d.toString()));
  child.stderr.on('data', (d: Buffer) => (output += d.toString()));
  return new Promise<{ status: number | null; output: string }>((resolve) =>
    child.on('exit', (status) => {
      fs.rmSync(home, { recursive: true, force: true });
      resolve({ status, output });
    }),
  );
}

const DOCS = path.resolve(__dirname, '..', '..', '..', '..', 'docs', 'DRA.md');

/** The ResourceClaimTemplate examples of docs/DRA.md. */
export function docsClaimTemplates(): Manifest[] {
  const blocks = [...fs.readFileSync(DOCS, 'utf8').matchAll(/```yaml\n([\s\S]*?)```/g)].map((m) => m[1]);
  return blocks
    .map((block) => yaml.load(block) as Manifest)
    .filter((o) => o?.kind === 'ResourceClaimTemplate');
}

const CLI = path.resolve(__dirname, '..', '..', '..', '..', 'bin', 'kube-device-plugins.js');

/** Starts the plugins' CLI; `output()` is what it has logged so far, `exited` its exit status. */
function startCli(args: string[]) {
  const child = spawn(process.execPath, [CLI, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout.on('data', (d: Buffer) => (output += d.toString()));
  child.stderr.on('data', (d: Buffer) => (output += d.toString()));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (status) => resolve(status)));
  return { child, exited, output: () => output };
}

/** Runs the plugins' CLI to its exit. */
async function runCli(args: string[]): Promise<{ status: number | null; output: string }> {
  const cli = startCli(args);
  const status = await cli.exited;
  return { status, output: cli.output() };
}

/** Polls `probe` until it returns something (or `ms` pass: undefined). */
async function poll<T>(
  ms: number,
  probe: () => Promise<T | undefined> | T | undefined,
): Promise<T | undefined> {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = await probe();
    if (value !== undefined || Date.now() > deadline) return value;
    await sleep(300);
  }
}

/** A kubeconfig for the cluster with `api`'s token (a ServiceAccount's), written beside the cluster's. */
function kubeconfigFor(cluster: Cluster, api: ApiConfig): string {
  const config = JSON.parse(fs.readFileSync(cluster.kubeconfig, 'utf8')) as {
    users: Array<{ user: { token: string } }>;
  };
  config.users[0].user.token = api.token;
  const file = path.join(cluster.dir, `kubeconfig-${Date.now()}-${Math.random().toString(36).slice(2)}`);
  fs.writeFileSync(file, JSON.stringify(config), { mode: 0o600 });
  return file;
}

export async function draScenarios(
  cluster: Cluster,
  label: string,
  h: Helm,
  chart: string,
  scenario: Scenario,
): Promise<void> {
  label = `${label} helm ${h.major} DRA`;
  const driverAccount = `${RELEASE}-kube-device-plugins-kvm-dra`;
  const uninstallAccount = `${driverAccount}-uninstall`;
  let installed: Manifest[] = [];

  await scenario(`${label}: install with kvm, tdx, devnode in mode dra`, async () => {
    if ((await cluster.request('GET', `/api/v1/namespaces/${NAMESPACE}`)).status !== 200) {
      await cluster.create('/api/v1/namespaces', {
        apiVersion: 'v1',
        kind: 'Namespace',
        metadata: { name: NAMESPACE, labels: { 'pod-security.kubernetes.io/enforce': 'privileged' } },
      });
      await cluster.create(`/api/v1/namespaces/${NAMESPACE}/serviceaccounts`, {
        apiVersion: 'v1',
        kind: 'ServiceAccount',
        metadata: { name: 'default' },
      });
      for (const name of NODES)
        await cluster.create('/api/v1/nodes', { apiVersion: 'v1', kind: 'Node', metadata: { name } }, true);
    }
    const sets = FAMILIES.flatMap((family) => ['--set', `${family}.mode=dra`]);
    const notes = helm(h, cluster, ['install', RELEASE, chart, '-n', NAMESPACE, ...sets]);
    for (const family of FAMILIES)
      check(
        notes.includes(`${family} runs as the DRA driver ${draDriverName(family)}`),
        `NOTES do not name the ${family} driver:\n${notes}`,
      );
    installed = manifests(helm(h, cluster, ['get', 'manifest', RELEASE, '-n', NAMESPACE]));
    const missing: string[] = [];
    for (const o of installed)
      if ((await cluster.request('GET', objectUrl(o))).status !== 200)
        missing.push(`${o.kind}/${o.metadata.name}`);
    check(missing.length === 0, `not on the server: ${missing.join(', ')}`);
    const classes = installed.filter((o) => o.kind === 'DeviceClass').map((o) => o.metadata.name);
    check(
      classes.sort().join() === FAMILIES.map(draDriverName).sort().join(),
      `DeviceClasses: ${classes.join(', ')}`,
    );
    const kinds = new Set(installed.map((o) => o.kind));
    for (const kind of ['ValidatingAdmissionPolicy', 'ClusterRole', 'ClusterRoleBinding', 'ServiceAccount'])
      check(kinds.has(kind), `no ${kind}`);
    // The pre-delete hooks are Jobs the server accepts as they are.
    const jobs = manifests(helm(h, cluster, ['get', 'hooks', RELEASE, '-n', NAMESPACE])).filter(
      (o) => o.kind === 'Job',
    );
    check(jobs.length === FAMILIES.length, `${jobs.length} hook Jobs`);
    const kvmJob = jobs.find((j) => j.metadata.name === uninstallAccount);
    const kvmJobSpec = kvmJob?.spec as { template: { spec: { serviceAccountName: string } } } | undefined;
    check(
      kvmJobSpec?.template.spec.serviceAccountName === uninstallAccount,
      'the kvm Job runs as its own account',
    );
    for (const job of jobs) {
      check(
        job.metadata.annotations?.['helm.sh/hook'] === 'pre-delete',
        `${job.metadata.name}: not pre-delete`,
      );
      const r = await cluster.request('POST', `/apis/batch/v1/namespaces/${NAMESPACE}/jobs?dryRun=All`, job);
      check(r.status === 201, `${job.metadata.name}: HTTP ${r.status} ${String(r.body.message)}`);
    }
    return `${installed.length} objects (${FAMILIES.length} DeviceClasses, policies, RBAC), ${jobs.length} pre-delete Jobs accepted`;
  });

  await scenario(`${label}: the server authorizes the driver exactly as the chart says`, async () => {
    const user = `system:serviceaccount:${NAMESPACE}:${driverAccount}`;
    const can = async (verb: string, group: string, resource: string) => {
      const review = await cluster.create('/apis/authorization.k8s.io/v1/subjectaccessreviews', {
        apiVersion: 'authorization.k8s.io/v1',
        kind: 'SubjectAccessReview',
        spec: {
          user,
          groups: ['system:serviceaccounts', `system:serviceaccounts:${NAMESPACE}`, 'system:authenticated'],
          resourceAttributes: { verb, group, resource },
        },
      });
      return (review.body.status as { allowed: boolean }).allowed;
    };
    const allowed = [
      ...['get', 'list', 'watch'].map((verb) => [verb, 'resource.k8s.io', 'resourceclaims']),
      ['get', '', 'nodes'],
      ...['get', 'list', 'watch', 'create', 'update', 'patch', 'delete'].map((verb) => [
        verb,
        'resource.k8s.io',
        'resourceslices',
      ]),
    ];
    const denied = [
      ['deletecollection', 'resource.k8s.io', 'resourceslices'],
      ['update', 'resource.k8s.io', 'resourceclaims'],
      ['create', 'resource.k8s.io', 'deviceclasses'],
      ['list', '', 'nodes'],
      ['list', '', 'secrets'],
      ['list', '', 'pods'],
    ];
    for (const [verb, group, resource] of allowed)
      check(await can(verb, group, resource), `${verb} ${resource} denied`);
    for (const [verb, group, resource] of denied)
      check(!(await can(verb, group, resource)), `${verb} ${resource} allowed`);
    return `${allowed.length} verbs allowed, ${denied.length} others denied`;
  });

  await scenario(`${label}: the ResourceClaimTemplates of docs/DRA.md are accepted`, async () => {
    const templates = docsClaimTemplates();
    check(templates.length === FAMILIES.length, `${templates.length} templates in docs/DRA.md`);
    for (const template of templates) {
      const url = `/apis/resource.k8s.io/v1/namespaces/${NAMESPACE}/resourceclaimtemplates?dryRun=All`;
      const r = await cluster.request('POST', url, template);
      check(r.status === 201, `${template.metadata.name}: HTTP ${r.status} ${String(r.body.message)}`);
    }
    return templates.map((t) => t.metadata.name).join(', ');
  });

  let driver: ApiConfig | undefined;
  let driverPod = '';
  await scenario(`${label}: a token bound to a pod on a node carries the node name`, async () => {
    const pod = await cluster.create(`/api/v1/namespaces/${NAMESPACE}/pods`, {
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { generateName: 'kvm-driver-' },
      spec: {
        nodeName: NODES[0],
        serviceAccountName: driverAccount,
        automountServiceAccountToken: false,
        containers: [{ name: 'driver', image: 'registry.k8s.io/pause:3.10' }],
      },
    });
    const metadata = pod.body.metadata as { name: string; uid: string };
    driverPod = metadata.name;
    driver = await token(cluster, driverAccount, { name: metadata.name, uid: metadata.uid });
    const user = await whoAmI(driver);
    check(
      user.username === `system:serviceaccount:${NAMESPACE}:${driverAccount}`,
      `username ${user.username}`,
    );
    const node = user.extra?.[NODE_NAME_EXTRA];
    check(node?.[0] === NODES[0], `extra: ${JSON.stringify(user.extra)}`);
    return `${NODE_NAME_EXTRA}=${node?.[0]} (extra keys: ${Object.keys(user.extra ?? {}).join(', ')})`;
  });

  await scenario(
    `${label}: the policy refuses the driver a slice of another node, allows its own`,
    async () => {
      check(driver !== undefined, 'no driver token (previous scenario failed)');
      const api = driver!;
      const other = await refusedOnceLoaded(api, slice('kvm-b', NODES[1]));
      check(other.status === 403 || other.status === 422, `another node's slice: HTTP ${other.status}`);
      const message = String(other.body.message);
      check(
        message.includes(
          `on node ${NODES[0]} may write only the ResourceSlices of its own node, not one of node ${NODES[1]}`,
        ),
        message,
      );
      const own = await apiRequest(api, 'POST', SLICES, slice('kvm-a', NODES[0]));
      check(own.status === 201, `its own slice: HTTP ${own.status} ${String(own.body.message)}`);
      const updated = await apiRequest(api, 'PATCH', `${SLICES}/kvm-a`, {
        spec: { pool: { generation: 2 } },
      });
      check(
        updated.status === 200,
        `update of its own slice: HTTP ${updated.status} ${String(updated.body.message)}`,
      );
      const cluster_wide = await apiRequest(api, 'POST', `${SLICES}?dryRun=All`, slice('kvm-all'));
      check(
        cluster_wide.status === 403 || cluster_wide.status === 422,
        `a slice for all nodes: HTTP ${cluster_wide.status}`,
      );
      // A slice of node b written by an admin: the driver on a may neither change nor delete it.
      await cluster.create(SLICES, slice('kvm-b', NODES[1]));
      const patched = await apiRequest(api, 'PATCH', `${SLICES}/kvm-b`, {
        spec: { pool: { generation: 2 } },
      });
      check(
        patched.status === 403 || patched.status === 422,
        `update of node b's slice: HTTP ${patched.status}`,
      );
      const deleted = await apiRequest(api, 'DELETE', `${SLICES}/kvm-b`);
      check(
        deleted.status === 403 || deleted.status === 422,
        `delete of node b's slice: HTTP ${deleted.status}`,
      );
      // The same account with a token not bound to a pod has no node: refused.
      const unbound = await token(cluster, driverAccount);
      const r = await apiRequest(unbound, 'POST', `${SLICES}?dryRun=All`, slice('kvm-a2', NODES[0]));
      check(r.status === 403 || r.status === 422, `unbound token: HTTP ${r.status}`);
      check(String(r.body.message).includes(`${NODE_NAME_EXTRA} missing`), String(r.body.message));
      const removed = await apiRequest(api, 'DELETE', `${SLICES}/kvm-a`);
      check(removed.status === 200, `delete of its own slice: HTTP ${removed.status}`);
      await cluster.create(SLICES, slice('kvm-a', NODES[0]));
      return `refused: "${message.slice(message.indexOf('on node'))}"`;
    },
  );

  await scenario(
    `${label}: the real kvm driver, with the chart's account and a pod-bound token, publishes only its node's slice`,
    async () => {
      check(driver !== undefined, 'no driver token (an earlier scenario failed)');
      if (process.getuid?.() !== 0) {
        if (process.env.CI === 'true') throw new Error('needs root (mknod of the fixture /dev/kvm)');
        return 'skipped: needs root (mknod of the fixture /dev/kvm)';
      }
      // Short: the driver's socket paths must fit a unix socket address (107 bytes).
      const root = fs.mkdtempSync(path.join(os.tmpdir(), 'kdpn-'));
      buildFixture('kvm', root);
      const kubeconfig = kubeconfigFor(cluster, driver!);
      const start = (node: string) =>
        startCli([
          'kvm',
          '--mode=dra',
          `--node-name=${node}`,
          `--kubelet-root-dir=${path.join(root, node.slice(-1))}`,
          `--kubeconfig=${kubeconfig}`,
          `--devfs-root=${path.join(root, 'dev')}`,
          `--sysfs-root=${path.join(root, 'sys')}`,
          `--cdi-dir=${path.join(root, `cdi-${node.slice(-1)}`)}`,
        ]);
      const selector = (node: string) =>
        encodeURIComponent(`spec.driver=${draDriverName('kvm')},spec.nodeName=${node}`);
      const slicesOf = async (node: string) =>
        (await cluster.request('GET', `${SLICES}?fieldSelector=${selector(node)}`)).body.items as Array<{
          metadata: { name: string; ownerReferences?: Array<{ kind: string; name: string }> };
          spec: { devices?: Array<{ name: string }> };
        }>;
      // The pool is the node's: the driver would take over the slice an admin wrote for node a above.
      for (const old of await slicesOf(NODES[0]))
        await cluster.request('DELETE', `${SLICES}/${old.metadata.name}`);

      // On its own node (the token's): its slice appears, with its device, owned by the Node.
      const own = start(NODES[0]);
      try {
        const published = await poll(30_000, async () => {
          if (own.child.exitCode !== null) return null;
          return (await slicesOf(NODES[0]))[0];
        });
        check(
          !!published,
          `no slice of its own after 30 s (exit ${own.child.exitCode}): ${own.output().slice(-1500)}`,
        );
        check(
          (published!.spec.devices ?? []).length === 1,
          `devices: ${JSON.stringify(published!.spec.devices)}`,
        );
        check(
          published!.metadata.ownerReferences?.some((o) => o.kind === 'Node' && o.name === NODES[0]) === true,
          `owners: ${JSON.stringify(published!.metadata.ownerReferences)}`,
        );
        check(!/HTTP 403/.test(own.output()), `refused something: ${own.output().slice(-1500)}`);
      } finally {
        own.child.kill('SIGTERM');
      }
      check((await own.exited) === 0, `SIGTERM: exit ${own.child.exitCode}: ${own.output().slice(-800)}`);

      // The same token claiming node b: the policy refuses its slice, and the driver says so.
      const b = (await slicesOf(NODES[1])).map((s) => s.metadata.name).sort();
      const other = start(NODES[1]);
      try {
        const refused = await poll(30_000, () =>
          other.child.exitCode === null &&
          /HTTP 403: [^\n]*ValidatingAdmissionPolicy [^\n]*denied request/.test(other.output())
            ? true
            : other.child.exitCode !== null
              ? false
              : undefined,
        );
        check(
          refused === true,
          `no refusal logged after 30 s (exit ${other.child.exitCode}): ${other.output().slice(-1500)}`,
        );
        check(
          (await slicesOf(NODES[1]))
            .map((s) => s.metadata.name)
            .sort()
            .join() === b.join(),
          'node b slices changed',
        );
      } finally {
        other.child.kill('SIGKILL');
        await other.exited;
        fs.rmSync(root, { recursive: true, force: true });
      }
      return `its slice on ${NODES[0]} (1 device, owned by the Node); as ${NODES[1]}: HTTP 403 from the policy, node b untouched`;
    },
  );

  await scenario(`${label}: helm test checks in DRA mode, with the test's own RBAC`, async () => {
    const hooks = manifests(helm(h, cluster, ['get', 'hooks', RELEASE, '-n', NAMESPACE]));
    const testPod = hooks.find((o) => o.kind === 'Pod');
    check(testPod !== undefined, 'no test hook pod');
    const containers = (
      testPod!.spec as { containers: Array<{ env: Array<{ name: string; value?: string }> }> }
    ).containers;
    const env = Object.fromEntries(containers[0].env.map((e) => [e.name, e.value ?? '']));
    const drivers = JSON.parse(env.KDP_DRA_DRIVERS) as Record<string, string>;
    check(
      Object.keys(drivers).sort().join() === [...FAMILIES].sort().join(),
      `KDP_DRA_DRIVERS: ${env.KDP_DRA_DRIVERS}`,
    );
    const api = await token(cluster, env.KDP_SERVICE_ACCOUNT);
    // No DaemonSet controller here: kvm and devnode each run on one node; only kvm has published a slice.
    await cluster.reportDaemonSets(NAMESPACE, (component) =>
      component === 'kvm' || component === 'devnode' ? 1 : 0,
    );
    const settings: TestSettings = {
      namespace: NAMESPACE,
      instance: RELEASE,
      plugins: JSON.parse(env.KDP_PLUGINS) as TestSettings['plugins'],
      draDrivers: drivers,
      serviceAccount: env.KDP_SERVICE_ACCOUNT,
      image: env.KDP_IMAGE,
      timeoutSeconds: 2,
      pollMs: 500,
    };
    const results = await runChecks(api, settings);
    const outcome = (name: string) => results.find((r) => r.check.startsWith(name));
    const summary = results.map((r) => `${r.check}=${r.outcome}`).join('; ');
    const kvm = outcome(`kvm: ResourceSlices of ${draDriverName('kvm')}`);
    check(
      kvm?.outcome === 'pass' && kvm.detail.includes(`${NODES[0]}=1`),
      `kvm: ${kvm?.detail} (${summary})`,
    );
    const devnode = outcome(`devnode: ResourceSlices of ${draDriverName('devnode')}`);
    check(devnode?.outcome === 'fail', `a driver that never published must fail: ${summary}`);
    check(outcome('tdx: DaemonSet ready')?.outcome === 'skip', summary);
    check(
      !results.some((r) => /allocatable/.test(r.check) && /^(kvm|tdx|devnode)/.test(r.check)),
      `an allocatable check for a DRA family: ${summary}`,
    );
    return `${kvm!.detail}; devnode without a slice fails: ${devnode!.detail.slice(0, 80)}`;
  });

  await scenario(`${label}: the server type-checks the DRA policies without warnings`, async () => {
    const policies = installed.filter((o) => o.kind === 'ValidatingAdmissionPolicy');
    const deadline = Date.now() + 60_000;
    for (const policy of policies)
      await cluster.expectTypeChecked(objectUrl(policy), policy.metadata.name, deadline);
    return `${policies.length} policies`;
  });

  await scenario(
    `${label}: helm uninstall runs the pre-delete Jobs: the real --dra-uninstall, as the Job's account, removes every slice`,
    async () => {
      const done = uninstallInBackground(h, cluster);
      const jobs = `/apis/batch/v1/namespaces/${NAMESPACE}/jobs`;
      // Helm creates the hook Jobs one by one and waits for each: play the Job controller and the pod.
      const handled = new Set<string>();
      const driverSlices = async (family: string) => {
        const selector = encodeURIComponent(`spec.driver=${draDriverName(family as 'kvm')}`);
        return ((await cluster.request('GET', `${SLICES}?fieldSelector=${selector}`)).body.items as unknown[])
          .length;
      };
      let deletedSlices = 0;
      const deadline = Date.now() + 60_000;
      let result: { status: number | null; output: string } | undefined;
      void done.then((r) => (result = r));
      while (!result && Date.now() < deadline) {
        const items = ((await cluster.request('GET', jobs)).body.items ?? []) as Manifest[];
        for (const job of items.filter((j) => !handled.has(j.metadata.name))) {
          handled.add(job.metadata.name);
          const spec = job.spec as {
            template: {
              spec: { serviceAccountName: string; containers: Array<{ command: string[]; args: string[] }> };
            };
          };
          const family = spec.template.spec.containers[0].command.slice(-1)[0];
          // The Job's own command (the real CLI from dist/), as the Job's own ServiceAccount.
          const api = await token(cluster, spec.template.spec.serviceAccountName);
          const before = await driverSlices(family);
          const run = await runCli([
            family,
            ...spec.template.spec.containers[0].args,
            `--kubeconfig=${kubeconfigFor(cluster, api)}`,
          ]);
          check(run.status === 0, `${family} --dra-uninstall exited ${run.status}: ${run.output}`);
          check(
            /deleted/.test(run.output),
            `${family} --dra-uninstall did not log what it deleted: ${run.output}`,
          );
          check((await driverSlices(family)) === 0, `${family}: slices left after --dra-uninstall`);
          deletedSlices += before;
          const now = new Date().toISOString().replace(/\.\d+Z$/, 'Z');
          // Newer servers want SuccessCriteriaMet before Complete; others refuse it without a successPolicy.
          const complete = (conditions: string[]) =>
            cluster.request('PATCH', `${jobs}/${job.metadata.name}/status`, {
              status: {
                startTime: now,
                completionTime: now,
                succeeded: 1,
                conditions: conditions.map((type) => ({
                  type,
                  status: 'True',
                  lastProbeTime: now,
                  lastTransitionTime: now,
                })),
              },
            });
          let status = await complete(['SuccessCriteriaMet', 'Complete']);
          if (status.status !== 200) status = await complete(['Complete']);
          check(
            status.status === 200,
            `${job.metadata.name} status: HTTP ${status.status} ${String(status.body.message)}`,
          );
        }
        await sleep(300);
      }
      const finished = result ?? (await done);
      check(finished.status === 0, `helm uninstall: ${finished.output}`);
      check(handled.size === FAMILIES.length, `${handled.size} hook Jobs ran`);
      const left = await cluster.request('GET', SLICES);
      check(
        ((left.body.items ?? []) as unknown[]).length === 0,
        `slices left: ${JSON.stringify(left.body.items)}`,
      );
      const remaining: string[] = [];
      for (const o of installed)
        if ((await cluster.request('GET', objectUrl(o))).status === 200)
          remaining.push(`${o.kind}/${o.metadata.name}`);
      check(remaining.length === 0, `left behind: ${remaining.join(', ')}`);
      // No kubelet confirms a graceful deletion here: delete it at once.
      if (driverPod)
        await cluster.request(
          'DELETE',
          `/api/v1/namespaces/${NAMESPACE}/pods/${driverPod}?gracePeriodSeconds=0`,
        );
      return `${handled.size} hook Jobs, ${deletedSlices} slices deleted by the real --dra-uninstall as the Jobs' accounts, ${installed.length} objects gone`;
    },
  );
}

/**
 * A kube-apiserver 1.34 with DRA turned off (on 1.37 the API cannot be turned off: the server never gets
 * ready without it): `helm install` with a family in DRA mode fails
 * naming the family (Helm 3 and 4 alike: both ask the server, not their built-in lists), and a devicePlugin-mode
 * install still works there.
 */
const LABEL_OFF = 'v1.34.4 DRA off';

export async function draWithoutApiScenarios(
  binaries: Record<string, string>,
  chart: string,
  scenario: Scenario,
): Promise<void> {
  let cluster: Cluster | undefined;
  const started = await scenario(`${LABEL_OFF}: start etcd + kube-apiserver`, async () => {
    cluster = await Cluster.start(
      {
        version: 'v1.34',
        featureGates: 'DynamicResourceAllocation=false',
        runtimeConfig: 'resource.k8s.io/v1=false',
      },
      binaries,
    );
    const served = await cluster.request('GET', '/apis/resource.k8s.io/v1');
    check(served.status === 404, `resource.k8s.io/v1 still served: HTTP ${served.status}`);
    return 'resource.k8s.io/v1 not served';
  });
  if (!started || !cluster) return;
  try {
    await cluster.create('/api/v1/namespaces', {
      apiVersion: 'v1',
      kind: 'Namespace',
      metadata: { name: NAMESPACE, labels: { 'pod-security.kubernetes.io/enforce': 'privileged' } },
    });
    for (const h of helms()) {
      await scenario(`${LABEL_OFF} helm ${h.major}: DRA mode refused, naming the family`, async () => {
        const refused = runHelm(h, [
          'install',
          RELEASE,
          chart,
          '-n',
          NAMESPACE,
          '--set',
          'tdx.mode=dra',
          '--kubeconfig',
          cluster!.kubeconfig,
        ]);
        check(refused.status !== 0, 'install succeeded');
        check(
          refused.stderr.includes('tdx.mode=dra needs a cluster serving resource.k8s.io/v1'),
          refused.stderr.trim(),
        );
        helm(h, cluster!, ['install', RELEASE, chart, '-n', NAMESPACE]);
        const objects = manifests(helm(h, cluster!, ['get', 'manifest', RELEASE, '-n', NAMESPACE]));
        check(!objects.some((o) => o.kind === 'DeviceClass'), 'a DeviceClass in devicePlugin mode');
        helm(h, cluster!, ['uninstall', RELEASE, '-n', NAMESPACE, '--wait']);
        return `refused: ${refused.stderr.trim().slice(refused.stderr.indexOf('tdx.mode')).slice(0, 90)}; devicePlugin mode installs (${objects.length} objects)`;
      });
    }
  } finally {
    await cluster.stop();
  }
}
