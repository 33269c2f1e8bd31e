/**
 * grpc-js on the kubelet's side of the tests: clients of a plugin's services (and of the simulator's
 * registration and PodResources servers) built on the plugins' own service specs (plugins/framework/
 * proto.ts), plus the small helpers every such client needs. The plugins themselves do not load grpc-js
 * (their server is grpc-server.ts, their client grpc-client.ts): an independent gRPC stack on this side
 * checks ours on the other.
 */
import * as path from 'path';
import * as grpc from '@grpc/grpc-js';
import { devicePluginService, podResourcesService, registrationService } from '../plugins/framework/proto';

type ServiceCtor = grpc.ServiceClientConstructor;
let cache: { registration: ServiceCtor; devicePlugin: ServiceCtor; podResources: ServiceCtor } | undefined;

/** grpc-js client constructors for the three services; each has `.service` for `server.addService`. */
export function services() {
  cache ??= {
    registration: grpc.makeGenericClientConstructor(registrationService, 'Registration'),
    devicePlugin: grpc.makeGenericClientConstructor(devicePluginService, 'DevicePlugin'),
    podResources: grpc.makeGenericClientConstructor(podResourcesService, 'PodResourcesLister'),
  };
  return cache;
}

/**
 * Channel options for every grpc-js client here. A unix socket file appears (bind) a moment before its
 * server accepts (listen): a connect in that window is refused, and gRPC's default 1 s reconnect backoff
 * would then stall a test for seconds.
 */
export const CHANNEL_OPTIONS: grpc.ChannelOptions = {
  'grpc.initial_reconnect_backoff_ms': 10,
  'grpc.max_reconnect_backoff_ms': 500,
};

/** A client for a unix socket path; gRPC wants `unix://` plus an absolute path. */
export function unixTarget(socketPath: string): string {
  return `unix://${path.resolve(socketPath)}`;
}

/** Waits until the channel is connected, so a socket file that exists but is not yet accepting is fine. */
export function waitForReady(client: grpc.Client, timeoutMs: number): Promise<void> {
  return new Promise((resolve, reject) => {
    client.waitForReady(Date.now() + timeoutMs, (err) => (err ? reject(err) : resolve()));
  });
}

/** Promise wrapper for a unary call with a deadline. */
export function unary<Req, Res>(
  client: grpc.Client,
  method: string,
  request: Req,
  timeoutMs: number,
): Promise<Res> {
  return new Promise((resolve, reject) => {
    const fn = (client as unknown as Record<string, grpc.requestCallback<Res> | unknown>)[method] as (
      req: Req,
      options: grpc.CallOptions,
      cb: grpc.requestCallback<Res>,
    ) => void;
    fn.call(
      client,
      request,
      { deadline: Date.now() + timeoutMs },
      (err: grpc.ServiceError | null, res?: Res) => (err ? reject(err) : resolve(res as Res)),
    );
  });
}
