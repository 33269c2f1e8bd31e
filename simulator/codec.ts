/**
 * The simulator's own protobuf codec: gRPC service definitions built by protobufjs from the `.proto`
 * files in proto/, never from the plugins' hand-written tables (plugins/framework/wire.ts, api.ts).
 * With two independent codecs on the two ends of every test, a mistake in ours cannot hide by being
 * made the same way on both sides.
 */
import * as fs from 'fs';
import * as path from 'path';
import type * as grpc from '@grpc/grpc-js';
import * as protobuf from 'protobufjs';

/** proto/ beside the sources (ts-jest) or dist/proto (compiled; scripts/copy-protos.js puts it there). */
export function protoDir(): string {
  const candidates = [path.join(__dirname, '..', 'proto'), path.join(__dirname, '..', '..', 'proto')];
  const found = candidates.find((dir) => fs.existsSync(path.join(dir, 'deviceplugin-v1beta1.proto')));
  if (!found) throw new Error(`kubelet simulator: no proto/ directory in ${candidates.join(' or ')}`);
  return found;
}

// Decoded messages use the .proto field names (keepCase), 64-bit integers as numbers, and every field
// present (empty lists, '' and null for unset messages), as the Go structs the kubelet uses would be.
const TO_OBJECT: protobuf.IConversionOptions = {
  longs: Number,
  enums: String,
  defaults: true,
  arrays: true,
  objects: true,
};

type Definition = grpc.ServiceDefinition<grpc.UntypedServiceImplementation>;

function serviceDefinition(service: protobuf.Service, pkg: string): Definition {
  const definition: Record<string, grpc.MethodDefinition<object, object>> = {};
  for (const method of service.methodsArray) {
    method.resolve();
    const request = method.resolvedRequestType as protobuf.Type;
    const response = method.resolvedResponseType as protobuf.Type;
    definition[method.name] = {
      path: `/${pkg}.${service.name}/${method.name}`,
      requestStream: !!method.requestStream,
      responseStream: !!method.responseStream,
      requestSerialize: (value: object) => Buffer.from(request.encode(request.fromObject(value)).finish()),
      requestDeserialize: (bytes: Buffer) => request.toObject(request.decode(bytes), TO_OBJECT),
      responseSerialize: (value: object) => Buffer.from(response.encode(response.fromObject(value)).finish()),
      responseDeserialize: (bytes: Buffer) => response.toObject(response.decode(bytes), TO_OBJECT),
    };
  }
  return definition as Definition;
}

export interface SimulatorServices {
  registration: Definition;
  devicePlugin: Definition;
  podResources: Definition;
}

let cache: SimulatorServices | undefined;

/** The three kubelet services, parsed from proto/ once. */
export function simulatorServices(): SimulatorServices {
  if (cache) return cache;
  const root = new protobuf.Root();
  const dir = protoDir();
  root.loadSync([path.join(dir, 'deviceplugin-v1beta1.proto'), path.join(dir, 'podresources-v1.proto')], {
    keepCase: true,
  });
  root.resolveAll();
  cache = {
    registration: serviceDefinition(root.lookupService('v1beta1.Registration'), 'v1beta1'),
    devicePlugin: serviceDefinition(root.lookupService('v1beta1.DevicePlugin'), 'v1beta1'),
    podResources: serviceDefinition(root.lookupService('v1.PodResourcesLister'), 'v1'),
  };
  return cache;
}
