/**
 * The symbolic inputs of template mode, derived from the values schema: every scalar becomes a token for
 * `$.Values.<path>`, every free-form map or list a `yaml` token, and the lists constructs iterate over a
 * SymbolicList whose item fields refer to the range variable.
 */
import { ClusterApis, OPTIONAL_APIS, OptionalApiName } from '../cluster-apis';
import { ChartValues } from '../values';
import { JsonSchema, hasFixedKeys } from '../values-schema';
import { SymbolicList, TokenType, symbolic, token } from './symbolic';

/** Lists that constructs loop over (forEach), with their range variable. Other lists are copied whole. */
const ITERATED_LISTS: Record<string, string> = { 'cxi.nics': '$nic' };

function tokenType(schema: JsonSchema): TokenType {
  if (schema.type === 'integer') return 'int';
  if (schema.type === 'boolean') return 'bool';
  if (schema.type === 'string' || (schema.type === undefined && schema.enum)) return 'str';
  return 'yaml';
}

function build(schema: JsonSchema, expr: string, path: string): unknown {
  const variable = ITERATED_LISTS[path];
  if (variable) return new SymbolicList(expr, variable, build(schema.items ?? {}, variable, `${path}[]`));
  if (!hasFixedKeys(schema)) return token(tokenType(schema), expr);
  const entries = Object.entries(schema.properties ?? {}).map(([key, property]) => {
    if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(key))
      throw new Error(`value key ${key} is not a Go template field name`);
    return [key, build(property, `${expr}.${key}`, path ? `${path}.${key}` : key)];
  });
  return Object.fromEntries(entries);
}

/** The chart values as tokens (`$.Values...`). */
export function symbolicValues(schema: JsonSchema): ChartValues {
  return build(schema, '$.Values', '') as ChartValues;
}

/** The optional APIs as tokens for the helpers that probe `.Capabilities` (see chart-files.ts). */
export function symbolicApis(): ClusterApis {
  const names = Object.keys(OPTIONAL_APIS) as OptionalApiName[];
  return Object.fromEntries(
    names.map((name) => [name, symbolic<string>('str', `include ${JSON.stringify(apiHelperName(name))} $`)]),
  ) as ClusterApis;
}

export function apiHelperName(name: OptionalApiName): string {
  return `kdp.api.${name}`;
}

/** The release namespace. */
export const RELEASE_NAMESPACE = symbolic<string>('str', '$.Release.Namespace');
