/**
 * Runs the bundle's admission policies the way the API server does, with a real CEL engine (@bufbuild/cel):
 * match conditions, then variables in order, then the JSONPatch mutations (applied with an RFC 6902
 * implementation) or the validations.
 *
 * Kubernetes' `JSONPatch{op, path, value}` is a CEL object type; here it is a protobuf message registered with
 * the CEL environment, its `value` a google.protobuf.Value so that it takes any JSON.
 */
import { CelValue, celEnv, isCelError, isCelList, isCelMap, parse, plan } from '@bufbuild/cel';
import { strings } from '@bufbuild/cel/ext';
import { create, createFileRegistry, toJson } from '@bufbuild/protobuf';
import { isReflectMessage } from '@bufbuild/protobuf/reflect';
import { FileDescriptorProtoSchema, file_google_protobuf_struct } from '@bufbuild/protobuf/wkt';
import { JsonPatch } from 'cdk8s';
import { K8sObject } from './helm';

const TYPE_STRING = 9; // FieldDescriptorProto.Type
const TYPE_MESSAGE = 11;
const LABEL_OPTIONAL = 1;

const registry = createFileRegistry(
  create(FileDescriptorProtoSchema, {
    name: 'kubernetes/jsonpatch.proto',
    syntax: 'proto3',
    dependency: ['google/protobuf/struct.proto'],
    messageType: [
      {
        name: 'JSONPatch',
        field: [
          { name: 'op', number: 1, type: TYPE_STRING, label: LABEL_OPTIONAL, jsonName: 'op' },
          { name: 'path', number: 2, type: TYPE_STRING, label: LABEL_OPTIONAL, jsonName: 'path' },
          { name: 'from', number: 3, type: TYPE_STRING, label: LABEL_OPTIONAL, jsonName: 'from' },
          {
            name: 'value',
            number: 4,
            type: TYPE_MESSAGE,
            typeName: '.google.protobuf.Value',
            label: LABEL_OPTIONAL,
            jsonName: 'value',
          },
        ],
      },
    ],
  }),
  (file) => (file === 'google/protobuf/struct.proto' ? file_google_protobuf_struct : undefined),
);

// Kubernetes CEL includes the strings extension (join, split, ...).
const env = celEnv({ registry, funcs: strings });

/** Evaluates one expression; a CEL error (or a syntax error) throws, naming the expression. */
export function evaluate(expression: string, bindings: Record<string, unknown>): CelValue {
  const result = plan(env, parse(expression))(bindings as never);
  if (isCelError(result)) throw new Error(`${result.message} in: ${expression}`);
  return result;
}

/** A CEL result as plain JSON. */
export function plain(value: unknown): unknown {
  if (isCelList(value)) return [...value].map(plain);
  if (isCelMap(value)) return Object.fromEntries([...value.entries()].map(([k, v]) => [String(k), plain(v)]));
  if (isReflectMessage(value)) return toJson(value.desc, value.message, { registry });
  return value;
}

interface PolicySpec {
  matchConstraints: { resourceRules: Array<{ operations: string[]; resources: string[] }> };
  matchConditions?: Array<{ name: string; expression: string }>;
  variables?: Array<{ name: string; expression: string }>;
  mutations?: Array<{ patchType: string; jsonPatch: { expression: string } }>;
  validations?: Array<{ expression: string; messageExpression?: string; message?: string }>;
}

export interface AdmissionRequest {
  readonly namespace: string;
  readonly operation: 'CREATE';
  /** Default a plain user, `jane`. */
  readonly username?: string;
  /** Default false. */
  readonly dryRun?: boolean;
}

function bindings(spec: PolicySpec, pod: object, request: AdmissionRequest) {
  const base = {
    object: pod,
    oldObject: null,
    request: {
      namespace: request.namespace,
      operation: request.operation,
      kind: { group: '', version: 'v1', kind: 'Pod' },
      userInfo: { username: request.username ?? 'jane', groups: ['system:authenticated'] },
      dryRun: request.dryRun ?? false,
    },
  };
  const matched =
    spec.matchConstraints.resourceRules.some(
      (r) => r.resources.includes('pods') && r.operations.includes(request.operation),
    ) && (spec.matchConditions ?? []).every((condition) => evaluate(condition.expression, base) === true);
  const variables: Record<string, CelValue> = {};
  if (matched)
    for (const v of spec.variables ?? []) variables[v.name] = evaluate(v.expression, { ...base, variables });
  return { matched, all: { ...base, variables } };
}

/** A MutatingAdmissionPolicy on a pod: whether it matched, the patch, and the pod after it. */
export function mutate(policy: K8sObject, pod: object, request: AdmissionRequest) {
  const spec = policy.spec as PolicySpec;
  const { matched, all } = bindings(spec, pod, request);
  if (!matched) return { matched, patch: [], pod };
  const patch = (spec.mutations ?? []).flatMap((mutation) => {
    if (mutation.patchType !== 'JSONPatch') throw new Error(`unsupported patch type ${mutation.patchType}`);
    return plain(evaluate(mutation.jsonPatch.expression, all)) as Array<{
      op: string;
      path: string;
      value: unknown;
    }>;
  });
  const ops = patch.map((op) => {
    if (op.op !== 'add') throw new Error(`unexpected op ${op.op}`);
    return JsonPatch.add(op.path, op.value);
  });
  return { matched, patch, pod: JsonPatch.apply(structuredClone(pod), ...ops) as object };
}

/** A ValidatingAdmissionPolicy on a pod: whether it matched, and the verdict. */
export function validate(policy: K8sObject, pod: object, request: AdmissionRequest) {
  const spec = policy.spec as PolicySpec;
  const { matched, all } = bindings(spec, pod, request);
  if (!matched) return { matched, allowed: true, messages: [] as string[] };
  const failed = (spec.validations ?? []).filter((v) => evaluate(v.expression, all) !== true);
  const messages = failed.map((v) =>
    v.messageExpression ? String(evaluate(v.messageExpression, all)) : (v.message ?? ''),
  );
  return { matched, allowed: failed.length === 0, messages };
}
