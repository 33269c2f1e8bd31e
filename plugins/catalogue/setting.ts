/**
 * A setting of a plugin family, declared once as data: its flag, environment variable, type, bounds, default
 * and help, and the Helm value that carries it. Each family's catalogue (./<family>.ts) is a list of these,
 * read by the family's command (flags and their inferred types), --help and the README tables, and by the
 * chart (values.yaml, values.schema.json bounds, the construct's defaults, the DaemonSet args). Dependency-free
 * (eslint enforces it), so the chart reads it without loading plugin code.
 */

export type FlagType = 'string' | 'int' | 'bool' | 'duration' | 'enum' | 'regex';

/** How values.schema.json checks a string value (a pattern of the chart's schema). */
export type ValueFormat =
  'resourceName' | 'optionalResourceName' | 'absolutePath' | 'nestedPath' | 'duration';

/** The Helm value that carries a setting: `<family>.<key>` in values.yaml. */
export interface ChartValue {
  readonly key: string;
  /** The schema's description (values.yaml comment, chart README); the flag is appended: `… (--<flag>).` */
  readonly help: string;
  /** For strings: the schema pattern (durations get theirs from the type). */
  readonly format?: ValueFormat;
  /** The whole schema description, where it says more than `help` (it must name the flag). */
  readonly description?: string;
  /** The chart's default where the flag has none (a required flag the chart always sets). */
  readonly default?: string | number | boolean;
}

/** What every setting has: a type, bounds, a default and help, and the Helm value that carries it. */
export interface Setting {
  readonly type: FlagType;
  readonly help: string;
  readonly default?: string | number | boolean;
  readonly choices?: readonly string[];
  /** Inclusive minimum for `int`. */
  readonly min?: number;
  readonly max?: number;
  /** The Helm value that carries it; absent when the chart leaves the setting at its default. */
  readonly chart?: ChartValue;
}

/** A flag (with an environment variable that sets it when the flag is absent). */
export interface FlagSpec extends Setting {
  /** Long name without dashes, e.g. `device-plugin-dir`. */
  readonly name: string;
  /** Environment variable that sets it when the flag is absent (none for e.g. --version). */
  readonly env?: string;
  /** Short alias without dash, e.g. `n`. */
  readonly short?: string;
  readonly required?: boolean;
}

/** A setting read from an environment variable only (the CEX family's, as upstream). */
export interface EnvSetting extends Setting {
  readonly env: string;
}

/** How help and the chart name a setting: `--flag`, or the environment variable. */
export function settingRef(setting: FlagSpec | EnvSetting): string {
  return 'name' in setting ? `--${setting.name}` : setting.env;
}

/** `device-plugin-dir` → `devicePluginDir`, as a type. */
export type FlagKey<N extends string> = N extends `${infer Head}-${infer Tail}`
  ? `${Head}${Capitalize<FlagKey<Tail>>}`
  : N;

/** The value a flag of this spec parses to. */
export type FlagValueOf<S extends Setting> = S['type'] extends 'int' | 'duration'
  ? number
  : S['type'] extends 'bool'
    ? boolean
    : S['type'] extends 'regex'
      ? RegExp
      : S['type'] extends 'enum'
        ? S['choices'] extends readonly (infer C extends string)[]
          ? C
          : string
        : string;

export type FlagValue = string | number | boolean | RegExp | undefined;

/**
 * The parsed values of a catalogue, by camelCase key: a flag without default or `required` may be absent.
 * Specs not declared as constants (their names only known as `string`) add a plain record; a catalogue of
 * constants gives exactly its keys, so a renamed flag no longer compiles where its value is read.
 */
export type SettingValues<C extends readonly FlagSpec[]> = (string extends C[number]['name']
  ? Record<string, FlagValue>
  : unknown) & {
  [S in C[number] as string extends S['name'] ? never : FlagKey<S['name']>]: S extends
    { default: string | number | boolean } | { required: true }
    ? FlagValueOf<S>
    : FlagValueOf<S> | undefined;
};

/** The Helm values of a catalogue's settings that have one, by key, at their defaults. */
export type ChartDefaults<C extends readonly Setting[]> = {
  [S in C[number] as S['chart'] extends ChartValue ? S['chart']['key'] : never]: S['type'] extends 'enum'
    ? FlagValueOf<S>
    : S['type'] extends 'int'
      ? number
      : S['type'] extends 'bool'
        ? boolean
        : string;
};

/** The settings of `catalogue` that the chart carries. */
export function chartSettings<S extends Setting>(catalogue: readonly S[]): (S & { chart: ChartValue })[] {
  return catalogue.filter((s): s is S & { chart: ChartValue } => s.chart !== undefined);
}

/** The chart defaults of a catalogue (`{ virtualDevices: 1, … }`), from the flags' own defaults. */
export function chartDefaults<const C extends readonly Setting[]>(catalogue: C): ChartDefaults<C> {
  const defaults: Record<string, string | number | boolean> = {};
  for (const setting of chartSettings<Setting>(catalogue)) {
    const value = setting.chart.default ?? setting.default;
    if (value === undefined) throw new Error(`${setting.chart.key} has a Helm value but no default`);
    defaults[setting.chart.key] = value;
  }
  return defaults as ChartDefaults<C>;
}

/** The DaemonSet args for the chart's settings, in catalogue order: `--<flag>=<value>`. */
export function chartArgs<const C extends readonly FlagSpec[]>(
  catalogue: C,
  values: ChartDefaults<C>,
): string[] {
  const byKey = new Map<string, unknown>(Object.entries(values));
  return chartSettings(catalogue).map(
    (setting) => `--${setting.name}=${String(byKey.get(setting.chart.key))}`,
  );
}
