/**
 * A real control plane on loopback for the chart: etcd and kube-apiserver (and, where asked, the
 * kube-controller-manager running only the ValidatingAdmissionPolicy status controller), built from the Go
 * module proxy by build.sh and started in a temp dir. Helm talks to it with a static admin token.
 */
import { ChildProcess, execFileSync, spawn } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { ApiConfig, ApiResponse, apiRequest } from '../../../chart-test/kube-api';

/** Ports assigned to this tier (see the e2e README): etcd client/peer, kube-apiserver. */
export const PORTS = { etcdClient: 23790, etcdPeer: 23800, apiserver: 16443 };

const HERE = path.resolve(__dirname, '..', '..', '..', '..', 'test', 'e2e', 'apiserver');

/** Builds (or finds in the cache) one binary; see build.sh. */
export function buildBinary(name: string): string {
  const started = Date.now();
  const out = execFileSync(path.join(HERE, 'build.sh'), [name], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const seconds = (Date.now() - started) / 1000;
  if (seconds > 5) console.log(`built ${name} in ${seconds.toFixed(0)} s`);
  return out.trim().split('\n').pop()!;
}

export interface ClusterOptions {
  /** e.g. v1.37 */
  readonly version: string;
  readonly featureGates?: string;
  readonly runtimeConfig?: string;
  /** Run the kube-controller-manager with the VAP status controller (type checking). */
  readonly policyStatusController?: boolean;
  /** More kube-controller-manager controllers to run (the DRA tier: resourceclaim-controller). */
  readonly controllers?: readonly string[];
  /** Run kube-scheduler (default profile) against the server. */
  readonly scheduler?: boolean;
  /** Default true (the CEX DaemonSet is privileged); false to show what such a cluster does. */
  readonly allowPrivileged?: boolean;
  /** Other ports, for a suite that may run beside this tier (the DRA framework tests); PORTS by default. */
  readonly ports?: typeof PORTS;
}

const ADMIN_TOKEN = 'kdp-e2e-admin-token';

function openssl(args: string[], cwd: string): void {
  execFileSync('openssl', args, { cwd, stdio: ['ignore', 'ignore', 'pipe'] });
}

/** A CA, a serving certificate for 127.0.0.1, and the ServiceAccount signing key pair. */
function makeCertificates(dir: string): void {
  openssl(
    [
      'req',
      '-x509',
      '-newkey',
      'rsa:2048',
      '-nodes',
      '-keyout',
      'ca.key',
      '-out',
      'ca.crt',
      '-days',
      '2',
      '-subj',
      '/CN=kdp-e2e-ca',
    ],
    dir,
  );
  openssl(
    [
      'req',
      '-newkey',
      'rsa:2048',
      '-nodes',
      '-keyout',
      'server.key',
      '-out',
      'server.csr',
      '-subj',
      '/CN=kube-apiserver',
    ],
    dir,
  );
  fs.writeFileSync(
    path.join(dir, 'san.ext'),
    'subjectAltName=IP:127.0.0.1,DNS:localhost,DNS:kubernetes.default.svc\n',
  );
  openssl(
    [
      'x509',
      '-req',
      '-in',
      'server.csr',
      '-CA',
      'ca.crt',
      '-CAkey',
      'ca.key',
      '-CAcreateserial',
      '-out',
      'server.crt',
      '-days',
      '2',
      '-extfile',
      'san.ext',
    ],
    dir,
  );
  openssl(['genrsa', '-out', 'sa.key', '2048'], dir);
  openssl(['rsa', '-in', 'sa.key', '-pubout', '-out', 'sa.pub'], dir);
}

export class Cluster {
  readonly dir: string;
  readonly api: ApiConfig;
  readonly kubeconfig: string;
  private readonly processes: ChildProcess[] = [];
  /** Every cluster not yet stopped, so that an interrupted run stops its etcd and kube-apiserver too. */
  static readonly running = new Set<Cluster>();
  private readonly logs: string[] = [];

  private constructor(
    dir: string,
    private readonly ports = PORTS,
  ) {
    this.dir = dir;
    const server = `https://127.0.0.1:${ports.apiserver}`;
    const ca = fs.readFileSync(path.join(dir, 'ca.crt'), 'utf8');
    this.api = { server, token: ADMIN_TOKEN, ca };
    this.kubeconfig = path.join(dir, 'kubeconfig');
    fs.writeFileSync(
      this.kubeconfig,
      JSON.stringify({
        apiVersion: 'v1',
        kind: 'Config',
        clusters: [
          {
            name: 'e2e',
            cluster: { server, 'certificate-authority-data': Buffer.from(ca).toString('base64') },
          },
        ],
        users: [{ name: 'admin', user: { token: ADMIN_TOKEN } }],
        contexts: [{ name: 'e2e', context: { cluster: 'e2e', user: 'admin' } }],
        'current-context': 'e2e',
      }),
      { mode: 0o600 },
    );
  }

  static async start(options: ClusterOptions, binaries: Record<string, string>): Promise<Cluster> {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'kdp-e2e-apiserver-'));
    makeCertificates(dir);
    fs.writeFileSync(path.join(dir, 'tokens.csv'), `${ADMIN_TOKEN},admin,admin,system:masters\n`);
    const cluster = new Cluster(dir, options.ports);
    Cluster.running.add(cluster);
    const ports = cluster.ports;
    try {
      const etcd = `http://127.0.0.1:${ports.etcdClient}`;
      cluster.spawn('etcd', binaries.etcd, [
        '--name=e2e',
        `--data-dir=${path.join(dir, 'etcd')}`,
        `--listen-client-urls=${etcd}`,
        `--advertise-client-urls=${etcd}`,
        `--listen-peer-urls=http://127.0.0.1:${ports.etcdPeer}`,
        `--initial-advertise-peer-urls=http://127.0.0.1:${ports.etcdPeer}`,
        `--initial-cluster=e2e=http://127.0.0.1:${ports.etcdPeer}`,
        '--log-level=warn',
      ]);
      cluster.spawn('kube-apiserver', binaries['kube-apiserver'], [
        `--etcd-servers=${etcd}`,
        '--bind-address=127.0.0.1',
        '--advertise-address=127.0.0.1',
        `--secure-port=${ports.apiserver}`,
        `--tls-cert-file=${path.join(dir, 'server.crt')}`,
        `--tls-private-key-file=${path.join(dir, 'server.key')}`,
        `--client-ca-file=${path.join(dir, 'ca.crt')}`,
        `--token-auth-file=${path.join(dir, 'tokens.csv')}`,
        '--authorization-mode=Node,RBAC',
        '--service-account-issuer=https://kubernetes.default.svc',
        `--service-account-key-file=${path.join(dir, 'sa.pub')}`,
        `--service-account-signing-key-file=${path.join(dir, 'sa.key')}`,
        '--service-cluster-ip-range=10.96.0.0/16',
        // The CEX DaemonSet is privileged.
        `--allow-privileged=${options.allowPrivileged ?? true}`,
        // No kube-proxy, no real endpoints: do not manage the kubernetes Service's endpoints.
        '--endpoint-reconciler-type=none',
        ...(options.featureGates ? [`--feature-gates=${options.featureGates}`] : []),
        ...(options.runtimeConfig ? [`--runtime-config=${options.runtimeConfig}`] : []),
        '--v=1',
      ]);
      await cluster.waitHealthy();
      const controllers = [
        ...(options.policyStatusController ? ['validatingadmissionpolicy-status-controller'] : []),
        ...(options.controllers ?? []),
      ];
      if (controllers.length > 0) {
        fs.writeFileSync(path.join(dir, 'kcm-kubeconfig'), fs.readFileSync(cluster.kubeconfig, 'utf8'));
        cluster.spawn('kube-controller-manager', binaries['kube-controller-manager'], [
          `--kubeconfig=${path.join(dir, 'kcm-kubeconfig')}`,
          `--controllers=${controllers.join(',')}`,
          '--leader-elect=false',
          '--bind-address=127.0.0.1',
          '--secure-port=0',
          '--v=1',
        ]);
      }
      if (options.scheduler) {
        cluster.spawn('kube-scheduler', binaries['kube-scheduler'], [
          `--kubeconfig=${cluster.kubeconfig}`,
          '--leader-elect=false',
          '--bind-address=127.0.0.1',
          '--secure-port=0',
          '--v=2',
        ]);
      }
    } catch (err) {
      await cluster.stop();
      throw err;
    }
    return cluster;
  }

  private spawn(name: string, binary: string, args: string[]): void {
    const log = path.join(this.dir, `${name}.log`);
    const out = fs.openSync(log, 'a');
    const child = spawn(binary, args, { stdio: ['ignore', out, out] });
    fs.closeSync(out);
    this.logs.push(log);
    this.processes.push(child);
  }

  /** The tail of every component's log (for a failure report). */
  logTail(lines = 30): string {
    return this.logs
      .map(
        (log) =>
          `--- ${path.basename(log)}\n${fs.readFileSync(log, 'utf8').split('\n').slice(-lines).join('\n')}`,
      )
      .join('\n');
  }

  private async waitHealthy(): Promise<void> {
    const deadline = Date.now() + 120_000;
    let last = '';
    while (Date.now() < deadline) {
      for (const child of this.processes)
        if (child.exitCode !== null)
          throw new Error(`a component exited (${child.exitCode}):\n${this.logTail(200)}`);
      try {
        const ready = await apiRequest(this.api, 'GET', '/readyz');
        if (ready.status === 200) return;
        last = JSON.stringify(ready.body).slice(0, 300);
      } catch (err) {
        last = (err as Error).message;
      }
      await new Promise((r) => setTimeout(r, 500));
    }
    throw new Error(`kube-apiserver not ready in 120 s: ${last}\n${this.logTail()}`);
  }

  request(
    method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE',
    url: string,
    body?: unknown,
  ): Promise<ApiResponse> {
    return apiRequest(this.api, method, url, body);
  }

  /**
   * Waits for the policy status controller's type check of the ValidatingAdmissionPolicy at `url` (up to
   * `deadline`), then fails naming each expression warning.
   */
  async expectTypeChecked(url: string, name: string, deadline: number): Promise<void> {
    for (;;) {
      const got = await this.request('GET', url);
      const status = got.body.status as
        { typeChecking?: { expressionWarnings?: Array<{ fieldRef: string; warning: string }> } } | undefined;
      if (status?.typeChecking) {
        const warnings = status.typeChecking.expressionWarnings ?? [];
        if (warnings.length > 0)
          throw new Error(`${name}: ${warnings.map((w) => `${w.fieldRef}: ${w.warning}`).join('; ')}`);
        return;
      }
      if (Date.now() > deadline) throw new Error(`${name}: no status.typeChecking after 60 s`);
      await new Promise((r) => setTimeout(r, 500));
    }
  }

  /**
   * Plays the DaemonSet controller (there is none here): each DaemonSet of `namespace` gets the status of
   * `running(component)` pods scheduled and ready.
   */
  async reportDaemonSets(namespace: string, running: (component: string) => number): Promise<void> {
    const daemonSets = (await this.request('GET', `/apis/apps/v1/namespaces/${namespace}/daemonsets`)).body
      .items as Array<{ metadata: { name: string; generation: number; labels: Record<string, string> } }>;
    for (const ds of daemonSets) {
      const desired = running(ds.metadata.labels['app.kubernetes.io/component']);
      const status = {
        observedGeneration: ds.metadata.generation,
        desiredNumberScheduled: desired,
        numberReady: desired,
        currentNumberScheduled: desired,
        numberMisscheduled: 0,
      };
      const url = `/apis/apps/v1/namespaces/${namespace}/daemonsets/${ds.metadata.name}/status`;
      const response = await this.request('PATCH', url, { status });
      if (response.status !== 200)
        throw new Error(`${url}: HTTP ${response.status} ${String(response.body.message)}`);
    }
  }

  /** Creates an object; fails unless the server says 201 (or 409 with `existsOk`). */
  async create(url: string, body: unknown, existsOk = false): Promise<ApiResponse> {
    const response = await this.request('POST', url, body);
    if (response.status === 201 || (existsOk && response.status === 409)) return response;
    throw new Error(`POST ${url}: HTTP ${response.status}: ${String(response.body.message)}`);
  }

  async stop(): Promise<void> {
    Cluster.running.delete(this);
    for (const child of [...this.processes].reverse()) {
      if (child.exitCode !== null) continue;
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGTERM');
      await Promise.race([exited, new Promise((r) => setTimeout(r, 10_000).unref())]);
      if (child.exitCode === null) child.kill('SIGKILL');
    }
    if (!process.env.KDP_E2E_KEEP) fs.rmSync(this.dir, { recursive: true, force: true });
  }
}
