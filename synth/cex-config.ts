/**
 * The CEX plugin's configuration, `cex_resources.json`, in the format of IBM's k8s-cex-dev-plugin: a list of
 * crypto config sets, each a named group of APQNs (adapter/domain pairs) that one project (namespace) may use.
 */
import { goJson } from './helm/go-json';
import { defineDerivation } from './helm/symbolic';

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

/** The file content of the `cex-resources-config` ConfigMap. */
export const cexResourcesJson = defineDerivation({
  name: 'kdp.cex.resourcesJson',
  compute: ({ sets }: { sets: readonly CexConfigSet[] }) => goJson({ cryptoconfigsets: sets }, true),
  template: '{{- dict "cryptoconfigsets" .sets | toPrettyJson -}}',
});
