/**
 * The CEX plugin's configuration, `cex_resources.json`, in the format of IBM's k8s-cex-dev-plugin: a list of
 * crypto config sets, each a named group of APQNs (adapter/domain pairs) that one project (namespace) may use.
 */
import { goJson } from './helm/go-json';
import { defineCheck, defineDerivation } from './helm/symbolic';

export type CexMode = '' | 'ep11' | 'cca' | 'accel';
export type CexGeneration = '' | 'cex4' | 'cex5' | 'cex6' | 'cex7' | 'cex8' | 'cex9';

export interface Apqn {
  readonly adapter: number;
  readonly domain: number;
  /** `<Manufacturer>-<Type>-<Sequence Code>` from /proc/sysinfo; empty matches any machine. */
  readonly machineid?: string;
}

export interface CexConfigSet {
  /** Becomes the resource `cex.s390.ibm.com/<setname>`. */
  readonly setname: string;
  /** The namespace allowed to use the set. */
  readonly project: string;
  readonly cexmode?: CexMode;
  readonly mincexgen?: CexGeneration;
  /** Pods that may share one APQN (0: APQN_OVERCOMMIT_LIMIT). */
  readonly overcommit?: number;
  /** 1: the pod's sysfs view follows the adapter live; 0: a static copy (default: APQN_LIVE_SYSFS). */
  readonly livesysfs?: number;
  readonly apqns: Apqn[];
}

const BYTE = { type: 'integer', minimum: 0, maximum: 255 };

/** JSON Schema (draft-07) of one config set; used by values.schema.json and by the tests. */
export const CEX_CONFIG_SET_SCHEMA = {
  type: 'object',
  additionalProperties: false,
  required: ['setname', 'project', 'apqns'],
  properties: {
    setname: {
      description: 'Set name; the resource is cex.s390.ibm.com/<setname>. Unique.',
      type: 'string',
      maxLength: 63,
      pattern: '^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$',
    },
    project: {
      description: 'Namespace whose pods may use the set.',
      type: 'string',
      maxLength: 63,
      pattern: '^[a-z0-9]([-a-z0-9]*[a-z0-9])?$',
    },
    cexmode: { description: 'Required card mode ("" = any).', enum: ['', 'ep11', 'cca', 'accel'] },
    mincexgen: {
      description: 'Minimal card generation ("" = any).',
      enum: ['', 'cex4', 'cex5', 'cex6', 'cex7', 'cex8', 'cex9'],
    },
    overcommit: {
      description: 'Pods per APQN (0 = APQN_OVERCOMMIT_LIMIT).',
      type: 'integer',
      minimum: 0,
      maximum: 100,
    },
    livesysfs: { description: 'Live (1) or static (0) sysfs view.', type: 'integer', minimum: 0 },
    apqns: {
      description: 'The adapter/domain pairs of the set.',
      type: 'array',
      items: {
        type: 'object',
        additionalProperties: false,
        required: ['adapter', 'domain'],
        properties: { adapter: BYTE, domain: BYTE, machineid: { type: 'string' } },
      },
    },
  },
};

/** JSON Schema of the whole file. */
export const CEX_RESOURCES_SCHEMA = {
  $schema: 'http://json-schema.org/draft-07/schema#',
  title: 'cex_resources.json',
  type: 'object',
  additionalProperties: false,
  required: ['cryptoconfigsets'],
  properties: { cryptoconfigsets: { type: 'array', items: CEX_CONFIG_SET_SCHEMA } },
};

/**
 * What the CEX plugin refuses across sets (plugins/cex/config.ts), which no JSON Schema can say: a set name
 * twice (the resource `cex.s390.ibm.com/<setname>` would be offered twice, and the CEX policy's CEL map of sets
 * would have a repeated key, failing for every CEX pod), and an APQN in two sets or twice in one (an empty
 * machineid matches any machine). The plugin exits on such a file, so the chart and the constructs refuse it
 * first; the first problem is reported, by the TypeScript and the template twin alike.
 */
export function cexConfigSetsProblem(sets: readonly CexConfigSet[]): string | undefined {
  const names = new Set<string>();
  for (const set of sets) {
    if (names.has(set.setname))
      return `cex.configSets: set name "${set.setname}" appears more than once; set names must be unique`;
    names.add(set.setname);
  }
  const seen: Array<{ adapter: number; domain: number; machineid: string; set: string }> = [];
  for (const set of sets) {
    for (const apqn of set.apqns) {
      const machineid = apqn.machineid ?? '';
      for (const prev of seen) {
        if (
          prev.adapter === apqn.adapter &&
          prev.domain === apqn.domain &&
          (prev.machineid === machineid || prev.machineid === '' || machineid === '')
        )
          return `cex.configSets: APQN adapter ${apqn.adapter}, domain ${apqn.domain} is in set "${prev.set}" and again in set "${set.setname}"; an APQN may belong to one set, once`;
      }
      seen.push({ adapter: apqn.adapter, domain: apqn.domain, machineid, set: set.setname });
    }
  }
  return undefined;
}

/** Renders nothing; fails (`fail` in Helm, an Error in TypeScript) on {@link cexConfigSetsProblem}. */
export const cexConfigSetsCheck = defineCheck(
  'kdp.cex.checkSets',
  ({ sets }: { sets: readonly CexConfigSet[] }) => cexConfigSetsProblem(sets),
  `{{- $names := dict -}}
{{- range $set := .sets -}}
{{- if hasKey $names $set.setname -}}
{{- fail (printf "cex.configSets: set name %q appears more than once; set names must be unique" $set.setname) -}}
{{- end -}}
{{- $_ := set $names $set.setname true -}}
{{- end -}}
{{- $seen := list -}}
{{- range $set := .sets -}}
{{- range $apqn := $set.apqns -}}
{{- $machineid := $apqn.machineid | default "" -}}
{{- range $prev := $seen -}}
{{- if and (eq $prev.adapter (int $apqn.adapter)) (eq $prev.domain (int $apqn.domain)) (or (eq $prev.machineid $machineid) (eq $prev.machineid "") (eq $machineid "")) -}}
{{- fail (printf "cex.configSets: APQN adapter %d, domain %d is in set %q and again in set %q; an APQN may belong to one set, once" (int $apqn.adapter) (int $apqn.domain) $prev.set $set.setname) -}}
{{- end -}}
{{- end -}}
{{- $seen = append $seen (dict "adapter" (int $apqn.adapter) "domain" (int $apqn.domain) "machineid" $machineid "set" $set.setname) -}}
{{- end -}}
{{- end -}}`,
);

/** The file content of the `cex-resources-config` ConfigMap (checked first, see {@link cexConfigSetsProblem}). */
export const cexResourcesJson = defineDerivation({
  name: 'kdp.cex.resourcesJson',
  compute: ({ sets }: { sets: readonly CexConfigSet[] }) =>
    cexConfigSetsCheck.compute({ sets }) + goJson({ cryptoconfigsets: sets }, true),
  template: '{{- include "kdp.cex.checkSets" . -}}\n{{- dict "cryptoconfigsets" .sets | toPrettyJson -}}',
});
