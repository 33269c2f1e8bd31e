/**
 * Writes a synthesized manifest as block YAML, turning the tokens of template mode into Go template actions:
 *
 *   "⟦int:…⟧"             → `{{ int $.Values.tdx.sharedCount }}`
 *   "--x=⟦str:…⟧"         → `{{ printf "--x=%v" ($.Values.x) | toJson }}`
 *   key: "⟦yaml:…⟧"       → `key: {{- toYaml $.Values.tdx.tolerations | nindent 8 }}`
 *   [a, when-marker(b)]   → `- a` / `{{- if cond }}` / `- b` / `{{- end }}`
 *
 * Plain strings are quoted unless they are unambiguous in YAML 1.1 as well (Helm reads YAML 1.1, where `n`,
 * `on` or `yes` are booleans), so js-yaml, Helm and the API server all read the same values.
 */
import { Token, WHEN_KEY, WhenMarker, splitTokens, wholeToken } from './symbolic';

const PLAIN_SAFE = /^[A-Za-z_/][A-Za-z0-9_./-]*$/;
const YAML11_SPECIAL = /^(y|yes|n|no|true|false|on|off|null)$/i;

function quoteIfNeeded(text: string): string {
  return PLAIN_SAFE.test(text) && !YAML11_SPECIAL.test(text) ? text : JSON.stringify(text);
}

/** A Go template action argument for a token. */
function tokenArgument(token: Token): string {
  if (token.type === 'yaml') throw new Error(`a map or list value cannot be part of a string: ${token.expr}`);
  return token.type === 'int' ? `(int ${token.expr})` : `(${token.expr})`;
}

/** A string with tokens (and maybe text around them) as one template action. */
function templatedScalar(text: string): string {
  const whole = wholeToken(text);
  if (whole?.type === 'int') return `{{ int ${whole.expr} }}`;
  if (whole?.type === 'bool') return `{{ ${whole.expr} }}`;
  if (whole?.type === 'str') return `{{ ${whole.expr} | toJson }}`;
  const parts = splitTokens(text);
  const format = parts.map((part) => (typeof part === 'string' ? part.replace(/%/g, '%%') : '%v')).join('');
  const args = parts.filter((part): part is Token => typeof part !== 'string').map(tokenArgument);
  return `{{ printf ${JSON.stringify(format)} ${args.join(' ')} | toJson }}`;
}

function isBlockSafe(text: string): boolean {
  return (
    text.includes('\n') &&
    !/^[\s]/.test(text) &&
    !text.endsWith('\n') &&
    !/[\r\t]/.test(text) &&
    !/[ ]$/m.test(text) &&
    !text.includes('{{') &&
    !text.includes('}}')
  );
}

/** A scalar on one line, or `|-` followed by its lines (returned as the second element). */
function scalar(value: unknown, indent: number): [string, string[]] {
  if (value === null || value === undefined) return ['null', []];
  if (typeof value === 'number' || typeof value === 'boolean') return [String(value), []];
  if (Array.isArray(value)) return ['[]', []];
  if (typeof value === 'object') return ['{}', []];
  const text = String(value);
  if (splitTokens(text).some((part) => typeof part !== 'string')) return [templatedScalar(text), []];
  if (isBlockSafe(text))
    return ['|-', text.split('\n').map((line) => (line ? ' '.repeat(indent + 2) + line : ''))];
  if (text.includes('{{') || text.includes('}}')) return [`{{ ${JSON.stringify(text)} | toJson }}`, []];
  return [quoteIfNeeded(text), []];
}

function isEmptyCollection(value: unknown): boolean {
  return (
    value !== null &&
    typeof value === 'object' &&
    (Array.isArray(value) ? value.length === 0 : Object.keys(value).length === 0)
  );
}

function isCollection(value: unknown): value is object {
  return value !== null && typeof value === 'object' && !isEmptyCollection(value);
}

function isWhenMarker(value: unknown): value is WhenMarker<unknown> {
  return value !== null && typeof value === 'object' && WHEN_KEY in value;
}

/** The lines of a map at `indent` spaces. */
export function mapLines(map: Record<string, unknown>, indent: number): string[] {
  const pad = ' '.repeat(indent);
  const lines: string[] = [];
  for (const [key, value] of Object.entries(map)) {
    if (splitTokens(key).length !== 1 || typeof splitTokens(key)[0] !== 'string') {
      throw new Error(`a map key cannot come from values: ${key}`);
    }
    const name = quoteIfNeeded(key);
    const subtree = wholeToken(value);
    if (isWhenMarker(value)) {
      // A key that exists only when its condition holds (see whenKey).
      lines.push(
        `${pad}{{- if ${value[WHEN_KEY]} }}`,
        ...mapLines({ [key]: value.item }, indent),
        `${pad}{{- end }}`,
      );
    } else if (subtree?.type === 'yaml') {
      // A pipeline of several words (merge, default, …) is one argument only in parentheses.
      const argument = /\s/.test(subtree.expr) ? `(${subtree.expr})` : subtree.expr;
      lines.push(`${pad}${name}: {{- toYaml ${argument} | nindent ${indent + 2} }}`);
    } else if (Array.isArray(value) && value.length > 0 && value.every(isWhenMarker)) {
      // Every item is conditional: so is the key, or it would read `key: null` when none is there.
      const conditions = [...new Set(value.map((item) => item[WHEN_KEY]))];
      const condition =
        conditions.length === 1 ? conditions[0] : `or ${conditions.map((c) => `(${c})`).join(' ')}`;
      lines.push(
        `${pad}{{- if ${condition} }}`,
        `${pad}${name}:`,
        ...listLines(value, indent + 2),
        `${pad}{{- end }}`,
      );
    } else if (Array.isArray(value) && value.length > 0) {
      lines.push(`${pad}${name}:`, ...listLines(value, indent + 2));
    } else if (isCollection(value)) {
      lines.push(`${pad}${name}:`, ...mapLines(value as Record<string, unknown>, indent + 2));
    } else {
      const [first, rest] = scalar(value, indent);
      lines.push(`${pad}${name}: ${first}`, ...rest);
    }
  }
  return lines;
}

/** The lines of a list at `indent` spaces (`- item`). */
export function listLines(list: unknown[], indent: number): string[] {
  const pad = ' '.repeat(indent);
  const lines: string[] = [];
  for (const item of list) {
    if (isWhenMarker(item)) {
      lines.push(`${pad}{{- if ${item[WHEN_KEY]} }}`, ...listLines([item.item], indent), `${pad}{{- end }}`);
    } else if (wholeToken(item)?.type === 'yaml') {
      throw new Error(`a list item cannot be a whole map or list from values: ${String(item)}`);
    } else if (Array.isArray(item) && item.length > 0) {
      lines.push(`${pad}-`, ...listLines(item, indent + 2));
    } else if (isCollection(item)) {
      const [first, ...rest] = mapLines(item as Record<string, unknown>, indent + 2);
      lines.push(`${pad}- ${first.slice(indent + 2)}`, ...rest);
    } else {
      const [first, rest] = scalar(item, indent);
      lines.push(`${pad}- ${first}`, ...rest);
    }
  }
  return lines;
}
