/**
 * cxi-cdi-generator's work: discover the NICs, libraries and /dev/xpmem, and write (or update) the
 * `hpe.com/cxi` CDI spec. An existing spec is updated in place: new NICs are added, absent ones
 * dropped, and what the generator does not own is kept (see cdi-spec.ts). Nothing is written when an
 * input is bad, so a good spec already on disk is never replaced by a broken one.
 */
import * as fs from 'fs';
import * as path from 'path';
import * as yaml from 'js-yaml';
import {
  cdiSpecErrors,
  readCdiSpec,
  readConfigFile,
  writeCdiSpec,
  type CdiSpec,
  type Logger,
} from '../framework';
import { buildCxiSpec, CXI_CDI_FILE, existingSpecErrors, nicChanges, specEnv } from './cdi-spec';
import { isCharDevice, xpmemHostPath } from './devfs';
import { cxiLibraries, ldLibraryPath } from './libraries';
import { discoverNics, nicDevicePath, nicLogFields } from './sysfs';

export interface GeneratorOptions {
  sysfsRoot: string;
  devfsRoot: string;
  ofiRoot: string;
  cxiRoot: string;
  cdiDir: string;
  /** YAML file `env: ["KEY=VALUE", …]`; none when undefined. */
  envVarsFile?: string;
  dryRun: boolean;
  log: Logger;
}

export type GeneratorAction = 'written' | 'unchanged' | 'removed' | 'nothing' | 'dry-run';

export interface GeneratorResult {
  file: string;
  action: GeneratorAction;
  /** The spec written (or, with dry-run, that would be); undefined when no device is left. */
  spec?: CdiSpec;
  /** NIC device names added to / dropped from the previous spec. */
  added: string[];
  removed: string[];
}

/** A failure the operator must fix (bad env file, unreadable existing spec); nothing was written. */
export class GeneratorError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'GeneratorError';
  }
}

const ENV_ENTRY = /^[A-Za-z_][A-Za-z0-9_]*=/;

/** The `env` list of an env-vars file; every entry must be a string `KEY=VALUE`. */
export function readEnvVarsFile(file: string): string[] {
  let doc: unknown;
  try {
    doc = yaml.load(readConfigFile(file));
  } catch (err) {
    throw new GeneratorError(`cannot read env-vars file ${file}: ${(err as Error).message}`);
  }
  if (doc === undefined || doc === null) return [];
  const env = (doc as { env?: unknown }).env;
  if (typeof doc !== 'object' || Array.isArray(doc) || (env !== undefined && !Array.isArray(env)))
    throw new GeneratorError(`env-vars file ${file} must be a mapping with a list "env: [KEY=VALUE, …]"`);
  const entries = (env ?? []) as unknown[];
  const bad = entries.filter((e) => typeof e !== 'string' || !ENV_ENTRY.test(e));
  if (bad.length)
    throw new GeneratorError(
      `env-vars file ${file}: entries must be "KEY=VALUE" strings, not ${bad.map((e) => JSON.stringify(e)).join(', ')}`,
    );
  return entries as string[];
}

function readExistingSpec(file: string): CdiSpec | undefined {
  let content: unknown;
  try {
    content = readCdiSpec(file);
  } catch (err) {
    throw new GeneratorError(
      `existing spec ${file} cannot be read (${(err as Error).message}); fix or move it, nothing was written`,
    );
  }
  if (content === undefined) return undefined;
  const errors = existingSpecErrors(content);
  if (errors.length)
    throw new GeneratorError(
      `existing file ${file} is not a CXI CDI spec: ${errors.join('; ')}; fix or move it, nothing was written`,
    );
  return content as CdiSpec;
}

/** NICs whose /dev/cxiN is a character device; a spec must not list a node the runtime cannot stat. */
function nicsWithNodes(options: GeneratorOptions): number[] {
  const { nics, skipped } = discoverNics(options.sysfsRoot);
  for (const s of skipped) options.log.info('ignoring cxi class entry', { entry: s.entry, reason: s.reason });
  const usable: number[] = [];
  for (const nic of nics) {
    const node = nicDevicePath(options.devfsRoot, nic.number);
    if (isCharDevice(node)) {
      options.log.debug('discovered CXI NIC', { ...nicLogFields(nic), device: node });
      usable.push(nic.number);
    } else {
      options.log.warn('CXI NIC left out of the spec: its device node is missing', {
        nic: nic.name,
        device: node,
      });
    }
  }
  return usable;
}

export function generateCxiSpec(options: GeneratorOptions): GeneratorResult {
  const { log, cdiDir } = options;
  const file = path.join(cdiDir, CXI_CDI_FILE);
  const fileEnv = options.envVarsFile ? readEnvVarsFile(options.envVarsFile) : [];
  const existing = readExistingSpec(file);

  const nics = nicsWithNodes(options);
  const libraries = cxiLibraries(options.cxiRoot, options.ofiRoot);
  for (const lib of libraries) log.debug('library mounted read-only', { file: lib });
  if (libraries.length === 0)
    log.warn('no libcxi*/libfabric* file found: the spec mounts no library', {
      cxiRoot: options.cxiRoot,
      ofiRoot: options.ofiRoot,
    });
  const xpmem = xpmemHostPath(options.devfsRoot);
  if (!xpmem)
    log.info('no /dev/xpmem on this node: the spec has no xpmem node', { devfsRoot: options.devfsRoot });
  const env = specEnv(fileEnv, ldLibraryPath(options.ofiRoot, options.cxiRoot));
  for (const entry of env) log.debug('environment variable', { entry });

  const spec = buildCxiSpec({ nics, devfsRoot: options.devfsRoot, xpmem, libraries, env }, existing);
  const { added, removed } = nicChanges(existing, spec);
  const result = { file, added, removed };
  if (spec.devices.length === 0) {
    if (options.dryRun) return { ...result, action: 'dry-run' };
    if (!existing) return { ...result, action: 'nothing' };
    fs.rmSync(file, { force: true });
    return { ...result, action: 'removed' };
  }
  const errors = cdiSpecErrors(spec);
  if (errors.length) throw new GeneratorError(`the generated spec is invalid: ${errors.join('; ')}`);
  if (options.dryRun) return { ...result, spec, action: 'dry-run' };
  if (existing && JSON.stringify(existing) === JSON.stringify(spec)) {
    fs.chmodSync(file, 0o644); // an up-to-date spec may still carry a narrower mode from elsewhere
    return { ...result, spec, action: 'unchanged' };
  }
  writeCdiSpec(cdiDir, spec);
  return { ...result, spec, action: 'written' };
}
