/**
 * Template mode: how one set of constructs yields both plain manifests and the Helm chart.
 *
 * The constructs are written once, against plain typed values. `npm run synth` synthesizes them a second time
 * with *symbolic* values: each value from values.yaml is replaced by a token, a short string that names the Helm
 * expression it stands for (`$.Values.tdx.sharedCount`, typed int). The tokens flow through the constructs
 * untouched (into args, names, JSON strings) and the renderer turns them back into `{{ ... }}` actions.
 *
 * Where a construct must *decide* something from a value (include a volume, loop over NICs, compute a string)
 * it calls one of the helpers below. With plain values they just do the obvious thing; with tokens they leave a
 * marker the renderer turns into `{{ if }}`, `{{ range }}` or an `include` of a named template.
 */
import { Construct } from 'constructs';
import { goJson } from './go-json';

/** How a token's expression is written into the template. */
export type TokenType =
  | 'str' // a string: `{{ expr | toJson }}`
  | 'int' // an integer: `{{ int expr }}` (Helm reads numbers as float64; `int` avoids `1e+06`)
  | 'bool' // a boolean: `{{ expr }}`
  | 'yaml'; // a whole subtree (map or list): `{{- toYaml expr | nindent N }}`

export interface Token {
  readonly type: TokenType;
  /** A Go template pipeline, e.g. `$.Values.tdx.sharedCount` or `include "kdp.cxi.networks" (...)`. */
  readonly expr: string;
}

// ⟦type:base64url(expr)⟧ — characters that survive JSON.stringify and YAML untouched, and never occur in our
// own manifests.
const OPEN = '\u27e6';
const CLOSE = '\u27e7';
const TOKEN_SOURCE = `${OPEN}(str|int|bool|yaml):([A-Za-z0-9_-]*)${CLOSE}`;

/** Encodes a Helm expression as a token string. */
export function token(type: TokenType, expr: string): string {
  return `${OPEN}${type}:${Buffer.from(expr, 'utf8').toString('base64url')}${CLOSE}`;
}

/** A token passed where a value of type T is expected (the one place where template mode bends the types). */
export function symbolic<T>(type: TokenType, expr: string): T {
  return token(type, expr) as unknown as T;
}

/** Splits a string into literal text and tokens, in order. */
export function splitTokens(text: string): Array<string | Token> {
  const parts: Array<string | Token> = [];
  const pattern = new RegExp(TOKEN_SOURCE, 'g');
  let last = 0;
  for (const match of text.matchAll(pattern)) {
    if (match.index > last) parts.push(text.slice(last, match.index));
    parts.push({ type: match[1] as TokenType, expr: Buffer.from(match[2], 'base64url').toString('utf8') });
    last = match.index + match[0].length;
  }
  if (last < text.length) parts.push(text.slice(last));
  return parts;
}

/** The token when `value` is exactly one token, else undefined. */
export function wholeToken(value: unknown): Token | undefined {
  if (typeof value !== 'string') return undefined;
  const parts = splitTokens(value);
  return parts.length === 1 && typeof parts[0] !== 'string' ? parts[0] : undefined;
}

/**
 * A list from values.yaml that constructs iterate over (see {@link forEach}). `item` holds one symbolic element
 * whose fields are tokens relative to the range variable, e.g. `$nic.master`.
 */
export class SymbolicList<T> {
  constructor(
    readonly expr: string,
    readonly variable: string,
    readonly item: T,
  ) {}
}

/** True when the value is, or contains, a token (i.e. we are synthesizing the Helm templates). */
export function isSymbolic(value: unknown): boolean {
  if (value instanceof SymbolicList) return true;
  return typeof value === 'string' && new RegExp(TOKEN_SOURCE).test(value);
}

function expressionOf(value: unknown): string {
  if (value instanceof SymbolicList) return value.expr;
  const whole = wholeToken(value);
  if (!whole) throw new Error(`expected a value from values.yaml, got ${JSON.stringify(value)}`);
  return whole.expr;
}

/** A boolean; in template mode, a bool token. */
export type Condition = boolean;

/** Metadata types the renderer reads from the construct tree. */
export const IF_METADATA = 'kube-device-plugins:if';
export const RANGE_METADATA = 'kube-device-plugins:range';

/**
 * A scope whose objects exist only when `condition` holds. Returns undefined when it plainly does not; in
 * template mode the scope is always built and its objects are wrapped in `{{ if }}`.
 */
export function gate(scope: Construct, id: string, ...conditions: Condition[]): Construct | undefined {
  const symbolicConditions = conditions.filter(isSymbolic);
  if (conditions.some((c) => !isSymbolic(c) && !c)) return undefined;
  const gated = new Construct(scope, id);
  for (const condition of symbolicConditions) gated.node.addMetadata(IF_METADATA, expressionOf(condition));
  return gated;
}

/** Key of the marker object that {@link when} leaves in a list in template mode. */
export const WHEN_KEY = `${OPEN}when${CLOSE}`;

export interface WhenMarker<T> {
  readonly [WHEN_KEY]: string;
  readonly item: T;
}

/**
 * A list item that exists only when `condition` holds: spread it into the list, `[a, ...when(c, b)]`.
 * In template mode it becomes `{{- if c }}` around the item.
 */
export function when<T>(condition: Condition | undefined, item: T): T[] {
  if (condition === undefined) return [item];
  if (!isSymbolic(condition)) return condition ? [item] : [];
  const marker: WhenMarker<T> = { [WHEN_KEY]: expressionOf(condition), item };
  return [marker as unknown as T];
}

/** True for a non-empty list or string; in template mode the value itself is the condition (Go: empty is false). */
export function nonEmpty(value: string | readonly unknown[]): Condition {
  if (isSymbolic(value)) return symbolic<boolean>('bool', expressionOf(value));
  return value.length > 0;
}

/**
 * Builds something per list item, each in its own scope. In template mode `build` runs once, with a symbolic
 * item, and the objects it makes are wrapped in `{{ range }}`.
 */
export function forEach<T>(
  scope: Construct,
  id: string,
  items: readonly T[],
  build: (itemScope: Construct, item: T) => void,
): void {
  if (items instanceof SymbolicList) {
    const list = items as SymbolicList<T>;
    const ranged = new Construct(scope, id);
    ranged.node.addMetadata(RANGE_METADATA, { variable: list.variable, expr: list.expr });
    build(ranged, list.item);
    return;
  }
  items.forEach((item, index) => build(new Construct(scope, `${id}${index}`), item));
}

/** True when a string value equals `literal`; in template mode `eq`. */
export function equals(value: string, literal: string): Condition {
  if (isSymbolic(value))
    return symbolic<boolean>('bool', `eq ${goArgument(value)} ${JSON.stringify(literal)}`);
  return value === literal;
}

/** The negation of a condition; in template mode `not`. */
export function not(condition: Condition): Condition {
  if (isSymbolic(condition)) return symbolic<boolean>('bool', `not ${goArgument(condition)}`);
  return !condition;
}

/** True when any condition holds; in template mode `or`. */
export function anyOf(...conditions: Condition[]): Condition {
  if (conditions.some((c) => !isSymbolic(c) && c)) return true;
  const symbolicOnes = conditions.filter(isSymbolic);
  if (symbolicOnes.length === 0) return false;
  if (symbolicOnes.length === 1) return symbolicOnes[0];
  return symbolic('bool', `or ${symbolicOnes.map(goArgument).join(' ')}`);
}

/**
 * A map entry that exists only when `condition` holds: spread it into the map, `{ a, ...whenKey(c, 'b', v) }`.
 * In template mode it becomes `{{- if c }}` around the key.
 */
export function whenKey<T>(condition: Condition, key: string, value: T): Record<string, T> {
  if (!isSymbolic(condition)) return condition ? { [key]: value } : {};
  const marker: WhenMarker<T> = { [WHEN_KEY]: expressionOf(condition), item: value };
  return { [key]: marker as unknown as T };
}

/** A whole-value string conversion (`String(port)`), kept typed in template mode. */
export function toStr(value: string | number | boolean): string {
  const whole = wholeToken(value);
  if (!whole) return String(value);
  return token('str', whole.type === 'int' ? `print (int ${whole.expr})` : `print ${whole.expr}`);
}

/**
 * A string computed from values (JSON for a ConfigMap, a CEL literal). `compute` is the TypeScript version;
 * `template` is the body of the named Helm template that computes the same string from `.` = the input dict.
 * The chart tests render both on several value sets and require identical output.
 */
export interface Derivation<I extends object> {
  readonly name: string;
  readonly compute: (input: I) => string;
  readonly template: string;
}

const derivations = new Map<string, Derivation<never>>();

/** Declares a derivation; its template lands in the chart's `_helpers.tpl`. */
export function defineDerivation<I extends object>(derivation: Derivation<I>): Derivation<I> {
  derivations.set(derivation.name, derivation as Derivation<never>);
  return derivation;
}

/**
 * A check that renders nothing: `problem` says what is wrong with the input (undefined when nothing is),
 * and the template must `fail` with the same message. TypeScript throws it; Helm fails with it.
 */
export function defineCheck<I extends object>(
  name: string,
  problem: (input: I) => string | undefined,
  template: string,
): Derivation<I> {
  return defineDerivation<I>({
    name,
    compute: (input) => {
      const message = problem(input);
      if (message) throw new Error(message);
      return '';
    },
    template,
  });
}

/** Every declared derivation, by name. */
export function allDerivations(): Array<Derivation<never>> {
  return [...derivations.values()].sort((a, b) => a.name.localeCompare(b.name));
}

/** Computes a derived string, or in template mode a token for `include "name" (dict ...)`. */
export function derive<I extends object>(derivation: Derivation<I>, input: I): string {
  const entries = Object.entries(input);
  const symbolicCount = entries.filter(([, value]) => isSymbolic(value)).length;
  if (symbolicCount === 0) return derivation.compute(input);
  if (symbolicCount !== entries.length) {
    throw new Error(
      `${derivation.name}: mix of plain and template values (${Object.keys(input).join(', ')})`,
    );
  }
  const argument = (value: unknown) => {
    const expr = expressionOf(value);
    return /\s/.test(expr) ? `(${expr})` : expr;
  };
  const args = entries.map(([key, value]) => `${JSON.stringify(key)} ${argument(value)}`).join(' ');
  return token('str', `include ${JSON.stringify(derivation.name)} (dict ${args})`);
}

/**
 * A value as a Go template argument: tokens become their expressions, strings with tokens `printf`, maps
 * `dict`, lists `list`. For values that mix fixed parts and values.yaml parts inside one template function.
 */
export function goArgument(value: unknown): string {
  if (value instanceof SymbolicList) return `(${value.expr})`;
  if (typeof value === 'string') {
    const parts = splitTokens(value);
    if (parts.length === 1 && typeof parts[0] !== 'string')
      return parts[0].type === 'int' ? `(int ${parts[0].expr})` : `(${parts[0].expr})`;
    if (parts.every((part) => typeof part === 'string')) return JSON.stringify(value);
    const format = parts.map((part) => (typeof part === 'string' ? part.replace(/%/g, '%%') : '%v')).join('');
    const args = parts
      .filter((part): part is Token => typeof part !== 'string')
      .map((t) => goArgument(token(t.type, t.expr)));
    return `(printf ${JSON.stringify(format)} ${args.join(' ')})`;
  }
  if (Array.isArray(value)) return `(list ${value.map(goArgument).join(' ')})`;
  if (value !== null && typeof value === 'object')
    return `(dict ${Object.entries(value)
      .map(([key, item]) => `${JSON.stringify(key)} ${goArgument(item)}`)
      .join(' ')})`;
  return JSON.stringify(value);
}

/** Maps merged key by key, later ones winning (`{...a, ...b}`); in template mode, Sprig's `merge`. */
export function mergeMaps<T>(...maps: Array<Record<string, T>>): Record<string, T> {
  if (!maps.some(isSymbolicTree)) return Object.assign({}, ...maps) as Record<string, T>;
  // `merge dst a b` keeps what dst has and fills in from a, then b: the first wins, so reverse.
  const args = [...maps].reverse().map(goArgument).join(' ');
  return symbolic('yaml', `merge (dict) ${args}`);
}

/** `specific` unless it is empty (Go's notion: "", [], {}, 0, false), else `general`; Sprig's `default`. */
export function orDefault<T>(specific: T, general: T, type: TokenType): T {
  if (isSymbolic(specific) || isSymbolic(general))
    return symbolic(type, `default ${goArgument(general)} ${goArgument(specific)}`);
  return isEmptyValue(specific) ? general : specific;
}

/** Two lists joined; in template mode, Sprig's `concat`. */
export function concatLists<T>(first: T[], second: T[]): T[] {
  if (isSymbolicTree(first) || isSymbolicTree(second))
    // `concat` of two empty lists is nil (toYaml: `null`): default to an empty list.
    return symbolic('yaml', `default (list) (concat ${goArgument(first)} ${goArgument(second)})`);
  return [...first, ...second];
}

function isEmptyValue(value: unknown): boolean {
  if (value === undefined || value === null || value === '' || value === 0 || value === false) return true;
  if (Array.isArray(value)) return value.length === 0;
  return typeof value === 'object' && Object.keys(value).length === 0;
}

/** True when the value holds a token anywhere (strings, lists, maps). */
function isSymbolicTree(value: unknown): boolean {
  if (isSymbolic(value)) return true;
  if (Array.isArray(value)) return value.some(isSymbolicTree);
  if (value !== null && typeof value === 'object') return Object.values(value).some(isSymbolicTree);
  return false;
}

/** True when every condition holds; in template mode `and`. */
export function allOf(...conditions: Condition[]): Condition {
  const symbolicOnes = conditions.filter(isSymbolic);
  if (conditions.some((c) => !isSymbolic(c) && !c)) return false;
  if (symbolicOnes.length === 0) return true;
  if (symbolicOnes.length === 1) return symbolicOnes[0];
  return symbolic('bool', `and ${symbolicOnes.map(goArgument).join(' ')}`);
}

/** A value as JSON, byte for byte as Helm's `toJson` writes it (keys sorted). */
export function jsonOf(value: unknown): string {
  if (!isSymbolicTree(value)) return goJson(value);
  return token('str', `toJson ${goArgument(value)}`);
}
