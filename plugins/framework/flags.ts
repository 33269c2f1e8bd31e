/**
 * Flags with environment-variable fallbacks. Precedence: command line, then env var, then default.
 * A bad value or an unknown flag is a UsageError, which the CLI turns into exit code 2 with the reason.
 */

import type { FlagSpec, FlagValue, SettingValues } from '../catalogue/setting';

// The spec of a flag is catalogue data (plugins/catalogue/setting.ts): the chart reads the same declarations.
export type { FlagSpec, FlagType, FlagValue, SettingValues } from '../catalogue/setting';

export type FlagValues = Record<string, FlagValue>;

export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}

/** `30s`, `5m`, `250ms`, `1h`, `1.5s` → milliseconds. */
export function parseDuration(text: string): number {
  const match = /^(\d+(?:\.\d+)?)(ms|s|m|h)$/.exec(text.trim());
  if (!match) throw new Error(`"${text}" is not a duration (examples: 500ms, 30s, 5m, 1h)`);
  const factor = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 }[match[2] as 'ms' | 's' | 'm' | 'h'];
  return Math.round(Number(match[1]) * factor);
}

function convert(spec: FlagSpec, raw: string, source: string): FlagValue {
  const fail = (why: string): never => {
    throw new UsageError(`invalid value for ${source}: ${why}`);
  };
  switch (spec.type) {
    case 'string':
      return raw;
    case 'bool':
      if (/^(true|1|yes)$/i.test(raw)) return true;
      if (/^(false|0|no)$/i.test(raw)) return false;
      return fail(`"${raw}" is not a boolean (true or false)`);
    case 'int': {
      if (!/^-?\d+$/.test(raw.trim())) return fail(`"${raw}" is not an integer`);
      const n = Number(raw);
      if (spec.min !== undefined && n < spec.min) return fail(`${n} is below the minimum ${spec.min}`);
      if (spec.max !== undefined && n > spec.max) return fail(`${n} is above the maximum ${spec.max}`);
      return n;
    }
    case 'duration': {
      let ms: number;
      try {
        ms = parseDuration(raw);
      } catch (err) {
        return fail((err as Error).message);
      }
      return ms > 0 ? ms : fail(`"${raw}" must be positive`);
    }
    case 'enum':
      if (!spec.choices?.includes(raw)) return fail(`"${raw}" is not one of ${spec.choices?.join(', ')}`);
      return raw;
    case 'regex':
      try {
        return new RegExp(raw);
      } catch (err) {
        return fail(`"${raw}" is not a regular expression: ${(err as Error).message}`);
      }
  }
}

/** camelCase key for a flag: `device-plugin-dir` → `devicePluginDir`. */
export function flagKey(name: string): string {
  return name.replace(/-([a-z])/g, (_, c: string) => c.toUpperCase());
}

export interface ParsedFlags<V = FlagValues> {
  values: V;
  positionals: string[];
  help: boolean;
}

/** Parse `argv` (then `env`, then the defaults) by `specs`; the values are typed by the specs given. */
export function parseFlags<const C extends readonly FlagSpec[]>(
  specs: C,
  argv: string[],
  env: NodeJS.ProcessEnv,
): ParsedFlags<SettingValues<C>> {
  const byName = new Map(specs.map((s) => [s.name, s]));
  const byShort = new Map(specs.filter((s) => s.short).map((s) => [s.short as string, s]));
  const fromCli = new Map<string, string>();
  const positionals: string[] = [];
  let help = false;

  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (arg === '--help' || arg === '-h') {
      help = true;
      continue;
    }
    if (arg === '--') {
      positionals.push(...argv.slice(i + 1));
      break;
    }
    if (!arg.startsWith('-') || arg === '-') {
      positionals.push(arg);
      continue;
    }
    const long = arg.startsWith('--');
    const body = arg.slice(long ? 2 : 1);
    const eq = body.indexOf('=');
    // Short flags may carry their value attached (`-V3`), as Go and POSIX tools accept.
    const attached = !long && eq < 0 && body.length > 1 ? body.slice(1) : undefined;
    const name = eq >= 0 ? body.slice(0, eq) : attached !== undefined ? body[0] : body;
    const spec = long ? byName.get(name) : byShort.get(name);
    if (!spec) throw new UsageError(`unknown flag ${long ? '--' : '-'}${long ? name : body}`);
    let value: string;
    if (eq >= 0) value = body.slice(eq + 1);
    else if (attached !== undefined) {
      if (spec.type === 'bool') throw new UsageError(`unknown flag -${body}`);
      value = attached;
    } else if (spec.type === 'bool') value = 'true';
    else {
      if (i + 1 >= argv.length) throw new UsageError(`flag --${spec.name} needs a value`);
      value = argv[++i];
    }
    fromCli.set(spec.name, value);
  }

  const values: FlagValues = {};
  for (const spec of specs) {
    const cli = fromCli.get(spec.name);
    const envValue = spec.env ? env[spec.env] : undefined;
    let value: FlagValue;
    if (cli !== undefined) value = convert(spec, cli, `--${spec.name}`);
    else if (envValue !== undefined && envValue !== '') value = convert(spec, envValue, `${spec.env} (env)`);
    else
      value =
        spec.default === undefined
          ? undefined
          : convert(spec, String(spec.default), `default of --${spec.name}`);
    if (spec.required && (value === undefined || value === '') && !help) {
      throw new UsageError(`--${spec.name}${spec.env ? ` (or ${spec.env})` : ''} is required`);
    }
    values[flagKey(spec.name)] = value;
  }
  // Each key is the camelCase of a spec's name and each value converted by the spec's type, as SettingValues says.
  return { values: values as SettingValues<C>, positionals, help };
}

export function formatHelp(
  usage: string,
  summary: string,
  specs: readonly FlagSpec[],
  extraEnv: EnvDoc[] = [],
): string {
  const lines = [
    `Usage: ${usage}`,
    '',
    summary,
    '',
    'Flags (each also settable by its environment variable):',
  ];
  for (const s of specs) {
    const names = `${s.short ? `-${s.short}, ` : ''}--${s.name}${s.type === 'bool' ? '' : ` <${s.type === 'enum' ? s.choices?.join('|') : s.type}>`}`;
    const def = s.default === undefined || s.default === '' ? '' : ` (default ${s.default})`;
    lines.push(`  ${names.padEnd(40)} ${s.help}${def}${s.env ? ` [${s.env}]` : ''}`);
  }
  lines.push('  --help'.padEnd(42) + ' show this help');
  if (extraEnv.length) {
    lines.push('', 'Environment variables:');
    for (const e of extraEnv) lines.push(`  ${e.name.padEnd(40)} ${e.help}`);
  }
  return lines.join('\n') + '\n';
}

export interface EnvDoc {
  name: string;
  help: string;
}
