/**
 * JSON exactly as Helm's `toJson` / `toPrettyJson` (Go's encoding/json) writes it: object keys sorted, and
 * `<`, `>`, `&`, U+2028, U+2029 escaped. Derived strings use it so that the TypeScript and template versions
 * agree byte for byte.
 */

function sortKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(sortKeys);
  if (value !== null && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>).filter(([, v]) => v !== undefined);
    return Object.fromEntries(
      entries.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([k, v]) => [k, sortKeys(v)]),
    );
  }
  return value;
}

const GO_ESCAPES: Record<string, string> = {
  '<': '\\u003c',
  '>': '\\u003e',
  '&': '\\u0026',
  '\u2028': '\\u2028',
  '\u2029': '\\u2029',
};

/** `toJson` (compact) or, with `pretty`, `toPrettyJson` (two-space indent). */
export function goJson(value: unknown, pretty = false): string {
  const text = JSON.stringify(sortKeys(value), null, pretty ? 2 : undefined);
  return text.replace(/[<>&\u2028\u2029]/g, (c) => GO_ESCAPES[c]);
}
