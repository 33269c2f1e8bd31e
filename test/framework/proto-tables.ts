/**
 * Shared by the wire tests: describe a codec table and a protobufjs type the same way, so a test can
 * compare them field by field, and list every message of a protobufjs root.
 */
import * as protobuf from 'protobufjs';
import { isMessage, type MessageType } from '../../plugins/framework/wire';

export function loadRoot(files: string[]): protobuf.Root {
  const root = new protobuf.Root();
  root.loadSync(files, { keepCase: true });
  root.resolveAll();
  return root;
}

export function describeTable(type: MessageType) {
  return type.fields.map((f) => ({
    no: f.no,
    name: f.name,
    type:
      f.type === 'map'
        ? `map<string,${f.mapValue ? f.mapValue.name : 'string'}>`
        : typeof f.type === 'string'
          ? f.type
          : isMessage(f.type)
            ? f.type.name
            : `enum ${f.type.name} ${JSON.stringify(f.type.values)}`,
    repeated: !!f.repeated,
    optional: !!f.optional,
  }));
}

export function describeProto(type: protobuf.Type) {
  return type.fieldsArray.map((f) => ({
    no: f.id,
    name: f.name,
    type:
      f instanceof protobuf.MapField
        ? `map<${f.keyType},${f.resolvedType ? f.resolvedType.fullName.slice(1) : f.type}>`
        : f.resolvedType instanceof protobuf.Enum
          ? `enum ${f.resolvedType.fullName.slice(1)} ${JSON.stringify(f.resolvedType.values)}`
          : f.resolvedType
            ? f.resolvedType.fullName.slice(1)
            : f.type,
    repeated: f.repeated,
    // proto3 `optional` is a synthetic oneof of one field, named after it with a leading `_`.
    optional: !!f.partOf && f.partOf.name === `_${f.name}`,
  }));
}

/** Every message type declared in the root, by fully-qualified name. */
export function allMessageNames(root: protobuf.Root): string[] {
  const all: string[] = [];
  const walk = (ns: protobuf.NamespaceBase) =>
    ns.nestedArray.forEach((n) =>
      n instanceof protobuf.Type ? all.push(n.fullName.slice(1)) : n instanceof protobuf.Namespace && walk(n),
    );
  walk(root);
  return all;
}
