/**
 * Validation of rendered objects against the upstream schemas in ../shared/upstream: the Kubernetes OpenAPI v3
 * documents (each `$ref` resolved inside its own file) and the NFD and Multus CRDs.
 *
 * Like `kubectl apply --validate=strict`, unknown fields are errors: every object schema that lists its
 * properties gets `additionalProperties: false` (unless it preserves unknown fields). Formats are not checked.
 *
 * Where ../shared is missing (a user's clone) core kinds fall back to kubernetes-models' validators and CRD
 * kinds are skipped with a printed reason; under CI=true a missing ../shared is a failure.
 */
import Ajv, { ValidateFunction } from 'ajv';
import * as fs from 'fs';
import * as path from 'path';
import * as yaml from 'js-yaml';
import {
  ValidatingAdmissionPolicy,
  ValidatingAdmissionPolicyBinding,
} from 'kubernetes-models/admissionregistration.k8s.io/v1';
import { DaemonSet } from 'kubernetes-models/apps/v1';
import { ConfigMap } from 'kubernetes-models/v1';
import { K8sObject, REPO_ROOT } from './helm';

/** ../shared/upstream beside the repository (KDP_UPSTREAM_DIR overrides it, e.g. to try the fallback). */
export const UPSTREAM = process.env.KDP_UPSTREAM_DIR ?? path.resolve(REPO_ROOT, '..', 'shared', 'upstream');

/** True when ../shared/upstream is there; throws under CI, where it must be. */
export function upstreamAvailable(): boolean {
  if (fs.existsSync(path.join(UPSTREAM, 'kubernetes-openapi-v3'))) return true;
  if (process.env.CI === 'true') throw new Error(`CI=true but the upstream schemas are missing: ${UPSTREAM}`);
  return false;
}

type Json = Record<string, unknown>;

/** A copy of `schema` in which objects with listed properties accept no others. */
function strict(schema: unknown): unknown {
  if (Array.isArray(schema)) return schema.map(strict);
  if (schema === null || typeof schema !== 'object') return schema;
  const copy: Json = {};
  for (const [key, value] of Object.entries(schema)) copy[key] = strict(value);
  const closable =
    copy.properties !== undefined &&
    copy.additionalProperties === undefined &&
    copy['x-kubernetes-preserve-unknown-fields'] !== true;
  if (closable) copy.additionalProperties = false;
  return copy;
}

function gvk(apiVersion: string, kind: string): string {
  return `${apiVersion}/${kind}`;
}

export class UpstreamValidator {
  private readonly ajv = new Ajv({ strict: false, allErrors: true, validateFormats: false });
  private readonly validators = new Map<string, ValidateFunction>();
  /** Kind (`group/version/Kind`) → [OpenAPI file, schema name], for the files not yet loaded. */
  private readonly openApiKinds = new Map<string, [string, string]>();
  private readonly loadedFiles = new Set<string>();

  constructor() {
    const dir = path.join(UPSTREAM, 'kubernetes-openapi-v3');
    for (const file of fs.readdirSync(dir).filter((f) => f.endsWith('.json'))) {
      const schemas = (JSON.parse(fs.readFileSync(path.join(dir, file), 'utf8')) as Json).components as Json;
      for (const [name, schema] of Object.entries(schemas.schemas as Json)) {
        const kinds = (schema as Json)['x-kubernetes-group-version-kind'] as Json[] | undefined;
        for (const k of kinds ?? []) {
          const apiVersion = k.group ? `${k.group}/${k.version}` : String(k.version);
          // Only the file of the kind's own group (others embed copies, e.g. for watch events).
          if (file === openApiFileOf(apiVersion))
            this.openApiKinds.set(gvk(apiVersion, String(k.kind)), [file, name]);
        }
      }
    }
    this.addCrd('node-feature-discovery/nodefeaturerules.nfd.k8s-sigs.io.yaml');
    this.addCrd('multus/network-attachment-definitions.k8s.cni.cncf.io.yaml');
  }

  private addCrd(file: string): void {
    const documents = yaml
      .loadAll(fs.readFileSync(path.join(UPSTREAM, file), 'utf8'))
      .filter(Boolean) as Json[];
    for (const crd of documents) {
      const spec = crd.spec as { group: string; names: { kind: string }; versions: Json[] };
      for (const version of spec.versions) {
        const schema = (version.schema as Json).openAPIV3Schema;
        this.validators.set(
          gvk(`${spec.group}/${version.name}`, spec.names.kind),
          this.ajv.compile(strict(schema) as Json),
        );
      }
    }
  }

  /** The schema the object's kind has upstream, or undefined when none of the files defines it. */
  private validatorFor(object: K8sObject): ValidateFunction | undefined {
    const key = gvk(object.apiVersion, object.kind);
    const cached = this.validators.get(key);
    if (cached) return cached;
    const located = this.openApiKinds.get(key);
    if (!located) return undefined;
    const [file, name] = located;
    if (!this.loadedFiles.has(file)) {
      const document = JSON.parse(
        fs.readFileSync(path.join(UPSTREAM, 'kubernetes-openapi-v3', file), 'utf8'),
      );
      this.ajv.addSchema({ components: strict(document.components) } as Json, file);
      this.loadedFiles.add(file);
    }
    const validate = this.ajv.getSchema(`${file}#/components/schemas/${name}`);
    if (!validate) throw new Error(`cannot compile ${name} from ${file}`);
    this.validators.set(key, validate);
    return validate;
  }

  /** True when upstream has a schema for this kind. */
  knows(object: K8sObject): boolean {
    return this.validatorFor(object) !== undefined;
  }

  /** The schema errors of the object (empty when valid). */
  errors(object: K8sObject): string[] {
    const validate = this.validatorFor(object);
    if (!validate) throw new Error(`no upstream schema for ${object.apiVersion} ${object.kind}`);
    if (validate(object)) return [];
    return (validate.errors ?? []).map(
      (e) => `${e.instancePath || '/'} ${e.message} ${JSON.stringify(e.params)}`,
    );
  }
}

/** `api__v1_openapi.json`, `apis__apps__v1_openapi.json`, ... */
function openApiFileOf(apiVersion: string): string {
  const [group, version] = apiVersion.includes('/') ? apiVersion.split('/') : ['', apiVersion];
  return group ? `apis__${group}__${version}_openapi.json` : `api__${version}_openapi.json`;
}

/**
 * Fallback without ../shared: kubernetes-models validates the core kinds we emit (it lacks
 * MutatingAdmissionPolicy and every CRD).
 */
const CORE_MODELS: Record<string, new (data: never) => { validate(): void }> = {
  'v1/ConfigMap': ConfigMap,
  'apps/v1/DaemonSet': DaemonSet,
  'admissionregistration.k8s.io/v1/ValidatingAdmissionPolicy': ValidatingAdmissionPolicy,
  'admissionregistration.k8s.io/v1/ValidatingAdmissionPolicyBinding': ValidatingAdmissionPolicyBinding,
};

/** kubernetes-models' verdict, or undefined when it has no model of the kind. */
export function kubernetesModelsErrors(object: K8sObject): string[] | undefined {
  const Model = CORE_MODELS[gvk(object.apiVersion, object.kind)];
  if (!Model) return undefined;
  try {
    new Model(object as never).validate();
    return [];
  } catch (error) {
    return [String(error)];
  }
}
