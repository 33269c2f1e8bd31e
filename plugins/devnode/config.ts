/**
 * The devnode config (YAML or JSON): which resources to serve and which device nodes make them up.
 *
 *   resources:
 *     - name: github.com.ihcsim/crand   # extended resource name
 *       glob: crand*                    # nodes under the devfs root
 *       containerPath: /dev/{name}      # optional; {name} = node name, {path} = path under the devfs root
 *       permissions: rw                 # optional, cgroup r/w/m; default rw
 *       shareCount: 1                   # optional; IDs per node, default 1
 *
 * Every problem is reported at once, with where it is, so one edit fixes a broken ConfigMap.
 */
import * as path from 'path';
import * as yaml from 'js-yaml';
import { ConfigError, MAX_RESOURCES_PER_PROCESS, readConfigFile, resourceNameErrors } from '../framework';
import { compileGlob, MAX_SHARED_COUNT } from '../device-nodes';

export interface DevnodeResourceSpec {
  name: string;
  glob: string;
  /** Template; see renderContainerPath. */
  containerPath: string;
  permissions: string;
  shareCount: number;
}

export interface DevnodeConfig {
  resources: DevnodeResourceSpec[];
}

// The framework's configuration error, re-exported for the devnode modules that import it from here.
export { ConfigError };

export const DEFAULT_CONTAINER_PATH = '/dev/{path}';
export const DEFAULT_PERMISSIONS = 'rw';
const RESOURCE_KEYS = ['name', 'glob', 'containerPath', 'permissions', 'shareCount'];
const PLACEHOLDER = /\{([^}]*)\}/g;
const PLACEHOLDERS = ['name', 'path'];

/** `/dev/{name}` with `dri/renderD128` → `/dev/renderD128`; `{path}` → `/dev/dri/renderD128`. */
export function renderContainerPath(template: string, rel: string): string {
  return template.replace(PLACEHOLDER, (_, key: string) => (key === 'name' ? path.posix.basename(rel) : rel));
}

export function loadConfig(file: string): DevnodeConfig {
  let text: string;
  try {
    text = readConfigFile(file);
  } catch (err) {
    throw new ConfigError(`cannot read ${file}: ${(err as Error).message}`);
  }
  return parseConfig(text, file);
}

/** Parse and validate; throws ConfigError naming every problem. */
export function parseConfig(text: string, source: string): DevnodeConfig {
  let doc: unknown;
  try {
    doc = text.trimStart().startsWith('{') ? JSON.parse(text) : yaml.load(text);
  } catch (err) {
    throw new ConfigError(`${source} is not valid YAML or JSON: ${(err as Error).message.split('\n')[0]}`);
  }
  const errors: string[] = [];
  const resources = validateDocument(doc, errors);
  if (errors.length) throw new ConfigError(`${source} is invalid: ${errors.join('; ')}`);
  return { resources };
}

function validateDocument(doc: unknown, errors: string[]): DevnodeResourceSpec[] {
  if (!isObject(doc)) {
    errors.push('the top level must be a mapping with a "resources" list');
    return [];
  }
  for (const key of Object.keys(doc)) if (key !== 'resources') errors.push(`unknown top-level key "${key}"`);
  if (!Array.isArray(doc.resources) || doc.resources.length === 0) {
    errors.push('"resources" must be a non-empty list');
    return [];
  }
  if (doc.resources.length > MAX_RESOURCES_PER_PROCESS) {
    errors.push(
      `"resources" names ${doc.resources.length} resources, more than the ${MAX_RESOURCES_PER_PROCESS} one ` +
        'process serves (each is a socket, a kubelet stream and watches); split them over several configs',
    );
    return [];
  }
  const specs = doc.resources.map((item, i) => validateResource(item, `resources[${i}]`, errors));
  const seen = new Set<string>();
  for (const spec of specs) {
    if (spec && seen.has(spec.name)) errors.push(`resource "${spec.name}" appears twice`);
    if (spec) seen.add(spec.name);
  }
  return specs.filter((s): s is DevnodeResourceSpec => s !== undefined);
}

function validateResource(item: unknown, at: string, errors: string[]): DevnodeResourceSpec | undefined {
  if (!isObject(item)) {
    errors.push(`${at} must be a mapping`);
    return undefined;
  }
  const before = errors.length;
  for (const key of Object.keys(item))
    if (!RESOURCE_KEYS.includes(key))
      errors.push(`${at}: unknown key "${key}" (known: ${RESOURCE_KEYS.join(', ')})`);
  const {
    name,
    glob,
    containerPath = DEFAULT_CONTAINER_PATH,
    permissions = DEFAULT_PERMISSIONS,
    shareCount = 1,
  } = item;

  if (typeof name !== 'string') errors.push(`${at}.name must be a string`);
  else for (const e of resourceNameErrors(name)) errors.push(`${at}.name: ${e}`);

  if (typeof glob !== 'string') errors.push(`${at}.glob must be a string`);
  else {
    try {
      compileGlob(glob);
    } catch (err) {
      errors.push(`${at}.glob: ${(err as Error).message}`);
    }
  }

  if (typeof containerPath !== 'string') errors.push(`${at}.containerPath must be a string`);
  else for (const e of containerPathErrors(containerPath)) errors.push(`${at}.containerPath: ${e}`);

  if (
    typeof permissions !== 'string' ||
    !/^[rwm]{1,3}$/.test(permissions) ||
    new Set(permissions).size !== permissions.length
  )
    errors.push(
      `${at}.permissions must be a combination of r, w and m (e.g. rw), got ${JSON.stringify(permissions)}`,
    );

  if (
    !Number.isInteger(shareCount) ||
    (shareCount as number) < 1 ||
    (shareCount as number) > MAX_SHARED_COUNT
  )
    errors.push(
      `${at}.shareCount must be an integer from 1 to ${MAX_SHARED_COUNT}, got ${JSON.stringify(shareCount)}`,
    );

  if (errors.length > before) return undefined;
  return {
    name: name as string,
    glob: glob as string,
    containerPath: containerPath as string,
    permissions: permissions as string,
    shareCount: shareCount as number,
  };
}

function containerPathErrors(template: string): string[] {
  const errors: string[] = [];
  if (!template.startsWith('/')) errors.push(`"${template}" must be an absolute path`);
  for (const [, key] of template.matchAll(PLACEHOLDER))
    if (!PLACEHOLDERS.includes(key)) errors.push(`unknown placeholder {${key}} (use {name} or {path})`);
  if (template.split('/').some((part) => part === '..')) errors.push(`"${template}" may not contain ".."`);
  return errors;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
