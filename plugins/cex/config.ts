/**
 * The crypto configuration (`cex_resources.json`, mounted from the ConfigMap `cex-resources-config`):
 * parsing, validation with errors that name the set and field, and resolution of the per-set
 * defaults (APQN_OVERCOMMIT_LIMIT, APQN_LIVE_SYSFS) in one place, so every code path sees the same
 * effective values from the first device list on.
 */
import { resourceNameErrors } from '../framework';
import { resourceNameFor } from './ids';

export type CexMode = '' | 'ep11' | 'cca' | 'accel';
export const CEX_MODES: CexMode[] = ['', 'ep11', 'cca', 'accel'];

/** Largest per-set overcommit, the same ceiling as APQN_OVERCOMMIT_LIMIT. */
export const MAX_OVERCOMMIT = 100;

export interface ApqnDef {
  adapter: number;
  domain: number;
  /** `<Manufacturer>-<Type>-<Sequence Code>`; empty matches any machine. */
  machineId: string;
}

/** A config set as written; absent optional fields stay undefined. */
export interface CryptoConfigSet {
  setName: string;
  project: string;
  cexMode: CexMode;
  /** `cex4` … `cex9`, or '' for any generation. */
  minCexGen: string;
  overcommit?: number;
  liveSysfs?: number;
  apqns: ApqnDef[];
}

export interface CryptoConfig {
  sets: CryptoConfigSet[];
}

/** A set with every default applied: what the plugin actually serves. */
export interface ResolvedSet {
  name: string;
  resourceName: string;
  project: string;
  cexMode: CexMode;
  /** Minimum card generation as a number (7 for `cex7`), 0 for any. */
  minCexGen: number;
  overcommit: number;
  liveSysfs: boolean;
  apqns: ApqnDef[];
}

export interface SetDefaults {
  overcommit: number;
  liveSysfs: boolean;
}

export type ParseResult = { config: CryptoConfig; warnings: string[] } | { errors: string[] };

const QUALIFIED_NAME = /^[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$/;
const MIN_CEX_GEN = /^cex([4-9])$/;
const SET_KEYS = ['setname', 'project', 'cexmode', 'mincexgen', 'overcommit', 'livesysfs', 'apqns'];
const APQN_KEYS = ['adapter', 'domain', 'machineid'];

/** Parse and validate the file's text. Either a config (with warnings) or every error found. */
export function parseCryptoConfig(text: string): ParseResult {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (err) {
    return { errors: [`not valid JSON: ${(err as Error).message}`] };
  }
  if (!isObject(raw)) return { errors: ['the top level must be an object with "cryptoconfigsets"'] };
  const list = raw.cryptoconfigsets;
  if (!Array.isArray(list)) {
    return {
      errors: ['"cryptoconfigsets" must be an array (use [] for no sets)'],
    };
  }
  const errors: string[] = [];
  const warnings = unknownKeys(raw, ['cryptoconfigsets'], 'top level');
  const sets: CryptoConfigSet[] = [];
  list.forEach((item, i) => {
    const set = parseSet(item, `cryptoconfigsets[${i}]`, errors, warnings);
    if (set) sets.push(set);
  });
  if (errors.length === 0) errors.push(...crossSetErrors(sets));
  return errors.length ? { errors } : { config: { sets }, warnings };
}

export function resolveSet(set: CryptoConfigSet, defaults: SetDefaults): ResolvedSet {
  return {
    name: set.setName,
    resourceName: resourceNameFor(set.setName),
    project: set.project,
    cexMode: set.cexMode,
    minCexGen: set.minCexGen ? Number(MIN_CEX_GEN.exec(set.minCexGen)?.[1]) : 0,
    // Absent or 0 means APQN_OVERCOMMIT_LIMIT, as upstream documents (Go reads an absent field as 0).
    overcommit: set.overcommit ? set.overcommit : defaults.overcommit,
    liveSysfs: set.liveSysfs === undefined ? defaults.liveSysfs : set.liveSysfs > 0,
    apqns: set.apqns,
  };
}

/** Two definitions name the same APQN when adapter and domain match and the machines may be the same. */
export function sameApqn(a: ApqnDef, b: ApqnDef): boolean {
  return (
    a.adapter === b.adapter &&
    a.domain === b.domain &&
    (a.machineId === b.machineId || a.machineId === '' || b.machineId === '')
  );
}

function parseSet(
  item: unknown,
  where: string,
  errors: string[],
  warnings: string[],
): CryptoConfigSet | undefined {
  if (!isObject(item)) {
    errors.push(`${where}: must be an object`);
    return undefined;
  }
  const before = errors.length;
  const name = item.setname;
  // Name the set in every message once we know its name.
  const at = typeof name === 'string' && name ? `set "${name}"` : where;
  const fail = (field: string, why: string) => errors.push(`${at}: ${field}: ${why}`);

  if (typeof name !== 'string' || name === '') fail('setname', 'is required (a non-empty string)');
  else {
    const problem = setNameProblem(name);
    if (problem) fail('setname', problem);
  }
  const project = item.project;
  if (typeof project !== 'string' || project === '') fail('project', 'is required (a non-empty string)');
  const cexMode = optionalString(item, 'cexmode', fail);
  if (cexMode !== undefined && !(CEX_MODES as string[]).includes(cexMode))
    fail('cexmode', `"${cexMode}" is not one of "", "ep11", "cca", "accel"`);
  const minCexGen = optionalString(item, 'mincexgen', fail);
  if (minCexGen && !MIN_CEX_GEN.test(minCexGen))
    fail('mincexgen', `"${minCexGen}" is not one of "", "cex4" … "cex9"`);
  const overcommit = intField(item, 'overcommit', 0, MAX_OVERCOMMIT, fail, false);
  const liveSysfs = intField(item, 'livesysfs', 0, Number.MAX_SAFE_INTEGER, fail, false);
  const apqns = parseApqns(item.apqns, at, fail, warnings);
  warnings.push(...unknownKeys(item, SET_KEYS, at));
  for (const [i, apqn] of apqns.entries()) {
    const twin = apqns.findIndex((other, j) => j !== i && sameApqn(apqn, other));
    if (twin > i)
      fail(
        `apqns[${twin}]`,
        `names the same APQN as apqns[${i}] (adapter ${apqn.adapter}, domain ${apqn.domain})`,
      );
  }
  if (errors.length > before) return undefined;
  return {
    setName: name as string,
    project: project as string,
    cexMode: (cexMode ?? '') as CexMode,
    minCexGen: minCexGen ?? '',
    overcommit,
    liveSysfs,
    apqns,
  };
}

/** Set names become resource names `cex.s390.ibm.com/<setname>`, so they must fit that. */
function setNameProblem(name: string): string | undefined {
  if (name.length > 63) return `"${name}" is longer than 63 characters`;
  if (!QUALIFIED_NAME.test(name))
    return `"${name}" is not a qualified name (alphanumerics, '-', '_' or '.', starting and ending alphanumeric)`;
  const errors = resourceNameErrors(resourceNameFor(name));
  return errors.length ? errors.join('; ') : undefined;
}

function parseApqns(
  value: unknown,
  at: string,
  fail: (field: string, why: string) => void,
  warnings: string[],
): ApqnDef[] {
  if (value === undefined || value === null) return [];
  if (!Array.isArray(value)) {
    fail('apqns', 'must be an array');
    return [];
  }
  const out: ApqnDef[] = [];
  value.forEach((item, i) => {
    const field = `apqns[${i}]`;
    if (!isObject(item)) return fail(field, 'must be an object with adapter and domain');
    const sub = (name: string, why: string) => fail(`${field}.${name}`, why);
    const adapter = intField(item, 'adapter', 0, 255, sub);
    const domain = intField(item, 'domain', 0, 255, sub);
    const machineId = optionalString(item, 'machineid', sub) ?? '';
    warnings.push(...unknownKeys(item, APQN_KEYS, `${at}: ${field}`));
    if (adapter !== undefined && domain !== undefined) out.push({ adapter, domain, machineId });
  });
  return out;
}

function crossSetErrors(sets: CryptoConfigSet[]): string[] {
  const errors: string[] = [];
  sets.forEach((set, i) => {
    if (sets.findIndex((other) => other.setName === set.setName) < i)
      errors.push(`set "${set.setName}": setname: defined more than once; set names must be unique`);
  });
  sets.forEach((set, i) => {
    for (const other of sets.slice(i + 1)) {
      for (const [k, apqn] of set.apqns.entries()) {
        const clash = other.apqns.findIndex((b) => sameApqn(apqn, b));
        if (clash >= 0)
          errors.push(
            `set "${set.setName}": apqns[${k}] (adapter ${apqn.adapter}, domain ${apqn.domain}) is also in ` +
              `set "${other.setName}" (apqns[${clash}]); an APQN may belong to one set only`,
          );
      }
    }
  });
  return errors;
}

function optionalString(
  obj: Record<string, unknown>,
  key: string,
  fail: (field: string, why: string) => void,
): string | undefined {
  const value = obj[key];
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'string') {
    fail(key, `must be a string, not ${JSON.stringify(value)}`);
    return undefined;
  }
  return value;
}

/** An integer field in min..max; absent is an error only when `required`. */
function intField(
  obj: Record<string, unknown>,
  key: string,
  min: number,
  max: number,
  fail: (field: string, why: string) => void,
  required = true,
): number | undefined {
  const value = obj[key];
  if (value === undefined || value === null) {
    if (required) fail(key, 'is required');
    return undefined;
  }
  if (typeof value !== 'number' || !Number.isInteger(value)) {
    fail(key, `must be an integer, not ${JSON.stringify(value)}`);
    return undefined;
  }
  if (value < min || value > max) {
    fail(
      key,
      max === Number.MAX_SAFE_INTEGER
        ? `${value} is below ${min}`
        : `${value} is out of range ${min}..${max}`,
    );
    return undefined;
  }
  return value;
}

/** Unknown keys are not errors (upstream ignores them) but a typo deserves a warning. */
function unknownKeys(obj: Record<string, unknown>, known: string[], at: string): string[] {
  return Object.keys(obj)
    .filter((key) => !known.includes(key))
    .map((key) => `${at}: unknown field "${key}" is ignored (known: ${known.join(', ')})`);
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
