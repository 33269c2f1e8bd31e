/**
 * The kubelet side of DRA, as far as a driver can tell: a plugin watcher that finds `*-reg.sock` in
 * plugins_registry, asks GetInfo, checks it, answers NotifyRegistrationStatus, and then calls the DRA
 * service at the endpoint it was given. Its gRPC clients are built by protobufjs from proto/ (not by
 * our codec), so a mistake in our tables cannot hide behind the same mistake on both ends. Used by the
 * DRA tests and by `npm run demo`'s DRA-mode scenario.
 */
import * as path from 'path';
import * as grpc from '@grpc/grpc-js';
import * as protobuf from 'protobufjs';
import { protoDir } from './codec';

const root = new protobuf.Root();
root.loadSync(
  ['pluginregistration-v1.proto', 'dra-v1.proto', 'dra-v1beta1.proto', 'dra-health-v1.proto'].map((f) =>
    path.join(protoDir(), f),
  ),
  { keepCase: true },
);
root.resolveAll();

/** A generic gRPC client for a service of the protobufjs root. */
function clientFor(serviceName: string, socket: string): grpc.Client {
  const service = root.lookupService(serviceName);
  const definition: Record<string, grpc.MethodDefinition<object, object>> = {};
  for (const m of service.methodsArray) {
    const req = root.lookupType(m.requestType);
    const res = root.lookupType(m.responseType);
    definition[m.name] = {
      path: `/${serviceName}/${m.name}`,
      requestStream: false,
      responseStream: !!m.responseStream,
      requestSerialize: (v: object) => Buffer.from(req.encode(req.fromObject(v)).finish()),
      requestDeserialize: (b: Buffer) => req.toObject(req.decode(b), { defaults: true }),
      responseSerialize: (v: object) => Buffer.from(res.encode(res.fromObject(v)).finish()),
      responseDeserialize: (b: Buffer) =>
        res.toObject(res.decode(b), { defaults: true, longs: Number, oneofs: false }),
    };
  }
  const Ctor = grpc.makeGenericClientConstructor(definition, serviceName);
  return new Ctor(`unix://${socket}`, grpc.credentials.createInsecure());
}

function call<T>(client: grpc.Client, method: string, request: object): Promise<T> {
  return new Promise((resolve, reject) =>
    (client as unknown as Record<string, (...a: unknown[]) => void>)[method].call(
      client,
      request,
      { deadline: Date.now() + 5000 },
      (err: grpc.ServiceError | null, res: T) => (err ? reject(err) : resolve(res)),
    ),
  );
}

export interface PluginInfo {
  type: string;
  name: string;
  endpoint: string;
  supported_versions: string[];
}

export type DraVersion = 'v1' | 'v1beta1';
const DRA_PACKAGE: Record<DraVersion, string> = {
  v1: 'k8s.io.kubelet.pkg.apis.dra.v1',
  v1beta1: 'k8s.io.kubelet.pkg.apis.dra.v1beta1',
};

export class FakePluginWatcher {
  private readonly clients: grpc.Client[] = [];

  /** GetInfo, then NotifyRegistrationStatus with `accept` (the kubelet's verdict). */
  async register(regSocket: string, accept: { ok: boolean; error?: string } = { ok: true }) {
    const client = clientFor('pluginregistration.Registration', regSocket);
    this.clients.push(client);
    const info = await call<PluginInfo>(client, 'GetInfo', {});
    await call(client, 'NotifyRegistrationStatus', {
      plugin_registered: accept.ok,
      error: accept.error ?? '',
    });
    return info;
  }

  /** A DRA client of the given version at the endpoint GetInfo named. */
  dra(version: DraVersion, endpoint: string) {
    const client = clientFor(`${DRA_PACKAGE[version]}.DRAPlugin`, endpoint);
    this.clients.push(client);
    return {
      prepare: (claims: object[]) =>
        call<{ claims: Record<string, { devices: object[]; error: string }> }>(
          client,
          'NodePrepareResources',
          { claims },
        ),
      unprepare: (claims: object[]) =>
        call<{ claims: Record<string, { error: string }> }>(client, 'NodeUnprepareResources', { claims }),
    };
  }

  /** Opens NodeWatchResources and collects every message the driver sends. */
  watchHealth(endpoint: string) {
    const client = clientFor('v1.DRAResourceHealth', endpoint);
    this.clients.push(client);
    const stream = (
      client as unknown as Record<string, (req: object) => grpc.ClientReadableStream<object>>
    ).NodeWatchResources.call(client, {});
    const messages: { devices: object[] }[] = [];
    stream.on('data', (m: { devices: object[] }) => messages.push(m));
    stream.on('error', () => undefined); // cancelled at close
    return { messages, cancel: () => stream.cancel() };
  }

  close(): void {
    for (const c of this.clients.splice(0)) c.close();
  }
}
