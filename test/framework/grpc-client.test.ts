/**
 * Our gRPC client (plugins/framework/grpc-client.ts: Register, PodResources) on real unix sockets: against
 * our server, against grpc-js's server (an independent stack), and against raw HTTP/2 servers for the
 * answers no well-behaved server sends. The real kubelet's grpc-go servers are the e2e tier's
 * (npm run e2e:kubelet, e2e:node).
 */
import * as fs from 'fs';
import * as http2 from 'http2';
import * as path from 'path';
import * as grpc from '@grpc/grpc-js';
import { GrpcConnection } from '../../plugins/framework/grpc-client';
import { GrpcError, MAX_MESSAGE_BYTES, Status, frame } from '../../plugins/framework/grpc-protocol';
import { GrpcServer } from '../../plugins/framework/grpc-server';
import { devicePluginService, type WireAllocateResponse } from '../../plugins/framework/proto';
import { services, unixTarget } from '../../simulator/grpc-js-clients';
import { eventually, removeDir, sleep, tempDir } from '../helpers/tmp';

const ALLOCATE = devicePluginService.Allocate;
const REQUEST = { container_requests: [{ devices_ids: ['kvm-0'] }] };

let dir: string;
let socket: string;
const cleanups: (() => unknown)[] = [];

beforeEach(() => {
  dir = tempDir('kdp-grpcc-');
  socket = path.join(dir, 's.sock');
});
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  removeDir(dir);
});

async function ourServer(handlers: Record<string, unknown>): Promise<GrpcServer> {
  const server = new GrpcServer({ maxConcurrentStreams: 16 });
  server.addService(devicePluginService, handlers as never);
  await server.listen(socket);
  cleanups.push(() => server.shutdown(0));
  return server;
}

async function connect(timeoutMs = 5000): Promise<GrpcConnection> {
  const connection = await GrpcConnection.connect(socket, timeoutMs);
  cleanups.push(() => connection.close());
  return connection;
}

async function failure(promise: Promise<unknown>): Promise<GrpcError> {
  return promise.then(
    () => {
      throw new Error('expected the call to fail');
    },
    (err: GrpcError) => err,
  );
}

/** A raw HTTP/2 server whose every stream `answer` handles: for answers a gRPC server would not give. */
async function rawServer(answer: (stream: http2.ServerHttp2Stream) => void): Promise<void> {
  const server = http2.createServer();
  const sessions = new Set<http2.ServerHttp2Session>();
  server.on('session', (session) => sessions.add(session));
  server.on('stream', (stream) => {
    stream.on('error', () => undefined);
    stream.resume();
    answer(stream);
  });
  await new Promise<void>((resolve) => server.listen(socket, resolve));
  cleanups.push(() => {
    const closed = new Promise((resolve) => server.close(resolve));
    for (const session of sessions) session.destroy(); // close() waits for open sessions
    return closed;
  });
}

test('a unary call to our server: the decoded answer, and the server saw the request', async () => {
  let seen: unknown;
  await ourServer({
    Allocate: (request: unknown) => {
      seen = request;
      return { container_responses: [{ envs: { KVM: '1' } }] };
    },
  });
  const connection = await connect();
  const response = await connection.unary<WireAllocateResponse>(ALLOCATE, REQUEST, 5000);
  expect(response.container_responses[0].envs).toEqual({ KVM: '1' });
  expect(seen).toEqual(REQUEST);
  // The connection serves more calls.
  await expect(connection.unary(ALLOCATE, REQUEST, 5000)).resolves.toBeDefined();
});

test("a server's status comes back as the error's code and message: percent-decoding undone, non-ASCII escaped for logs", async () => {
  await ourServer({
    Allocate: () => {
      throw new GrpcError(Status.FAILED_PRECONDITION, 'device kvm-0 is unhealthy: café 100%');
    },
  });
  const err = await failure((await connect()).unary(ALLOCATE, REQUEST, 5000));
  expect(err).toBeInstanceOf(GrpcError);
  expect([err.code, err.details]).toEqual([
    Status.FAILED_PRECONDITION,
    'device kvm-0 is unhealthy: caf\\u00e9 100%',
  ]);
});

test("grpc-js's server (an independent stack): answers and statuses", async () => {
  const server = new grpc.Server();
  server.addService(services().devicePlugin.service, {
    Allocate: (call: grpc.ServerUnaryCall<typeof REQUEST, object>, cb: grpc.sendUnaryData<object>) =>
      call.request.container_requests[0].devices_ids[0] === 'kvm-0'
        ? cb(null, { container_responses: [{ envs: { FROM: 'grpc-js' } }] })
        : cb({ code: grpc.status.NOT_FOUND, details: 'no such device' }),
  });
  await new Promise<void>((resolve, reject) =>
    server.bindAsync(unixTarget(socket), grpc.ServerCredentials.createInsecure(), (err) =>
      err ? reject(err) : resolve(),
    ),
  );
  cleanups.push(() => server.forceShutdown());
  const connection = await connect();
  const response = await connection.unary<WireAllocateResponse>(ALLOCATE, REQUEST, 5000);
  expect(response.container_responses[0].envs).toEqual({ FROM: 'grpc-js' });
  const err = await failure(
    connection.unary(ALLOCATE, { container_requests: [{ devices_ids: ['nope'] }] }, 5000),
  );
  expect([err.code, err.details]).toEqual([Status.NOT_FOUND, 'no such device']);
});

test('connecting waits for a socket that appears later (a kubelet starting), within the timeout', async () => {
  const connecting = GrpcConnection.connect(socket, 10_000);
  await sleep(150); // refused / missing meanwhile: retried
  await ourServer({ Allocate: () => ({ container_responses: [] }) });
  const connection = await connecting;
  cleanups.push(() => connection.close());
  await expect(connection.unary(ALLOCATE, REQUEST, 5000)).resolves.toEqual({ container_responses: [] });
});

test('a socket file nobody accepts on: DEADLINE_EXCEEDED naming the socket and the refusal', async () => {
  fs.writeFileSync(socket, ''); // a plain file: connect() is refused
  const err = await failure(GrpcConnection.connect(socket, 200));
  expect(err.code).toBe(Status.DEADLINE_EXCEEDED);
  expect(err.message).toContain(socket);
  expect(err.message).toContain('ECONNREFUSED');
});

test('a connect cancelled by its signal stops retrying: CANCELLED', async () => {
  const abort = new AbortController();
  const connecting = GrpcConnection.connect(socket, 60_000, abort.signal);
  setTimeout(() => abort.abort(), 50);
  const err = await failure(connecting);
  expect(err.code).toBe(Status.CANCELLED);
});

test('a server that never answers: DEADLINE_EXCEEDED, and the call is cancelled on the server', async () => {
  let cancelled!: () => void;
  const serverSawCancel = new Promise<void>((resolve) => (cancelled = resolve));
  await rawServer((stream) => stream.on('close', () => cancelled()));
  const err = await failure((await connect()).unary(ALLOCATE, REQUEST, 100));
  expect([err.code, err.message]).toEqual([
    Status.DEADLINE_EXCEEDED,
    `${ALLOCATE.path}: no answer within 100 ms`,
  ]);
  await serverSawCancel;
});

const OK_HEADERS = { ':status': 200, 'content-type': 'application/grpc' };

test.each<[string, (stream: http2.ServerHttp2Stream) => void, number, RegExp]>([
  [
    'an HTTP error status',
    (s) => s.respond({ ':status': 503 }, { endStream: true }),
    Status.UNKNOWN,
    /HTTP status 503/,
  ],
  [
    'no gRPC status at all',
    (s) => s.respond(OK_HEADERS, { endStream: true }),
    Status.INTERNAL,
    /ended without a gRPC status/,
  ],
  [
    'a stream reset before any answer',
    (s) => s.close(http2.constants.NGHTTP2_REFUSED_STREAM),
    Status.UNAVAILABLE,
    /ended before any answer \(HTTP\/2 code 7\)/,
  ],
  [
    'a truncated answer',
    (s) => {
      s.respond(OK_HEADERS, { waitForTrailers: true });
      s.once('wantTrailers', () => s.sendTrailers({ 'grpc-status': '0' }));
      s.end(frame(Buffer.alloc(10)).subarray(0, 8));
    },
    Status.INTERNAL,
    /truncated message \(3 of 10 bytes\)/,
  ],
  [
    'two messages in a unary answer',
    (s) => {
      s.respond(OK_HEADERS, { waitForTrailers: true });
      s.once('wantTrailers', () => s.sendTrailers({ 'grpc-status': '0' }));
      s.end(Buffer.concat([frame(Buffer.alloc(0)), frame(Buffer.alloc(0))]));
    },
    Status.INTERNAL,
    /more than one response message/,
  ],
  [
    'bytes that are not the response message',
    (s) => {
      s.respond(OK_HEADERS, { waitForTrailers: true });
      s.once('wantTrailers', () => s.sendTrailers({ 'grpc-status': '0' }));
      s.end(frame(Buffer.from([0x0a, 0xff]))); // field 1, length 255, nothing after it
    },
    Status.INTERNAL,
    /cannot decode the response/,
  ],
  [
    `an answer over ${MAX_MESSAGE_BYTES} bytes`,
    (s) => {
      s.respond(OK_HEADERS);
      s.end(frame(Buffer.alloc(MAX_MESSAGE_BYTES + 1)));
    },
    Status.RESOURCE_EXHAUSTED,
    /larger than the limit/,
  ],
])('%s: a GrpcError naming the problem and the method', async (_name, answer, code, message) => {
  await rawServer(answer);
  const err = await failure((await connect()).unary(ALLOCATE, REQUEST, 5000));
  expect(err.code).toBe(code);
  expect(err.message).toMatch(message);
  expect(err.message.startsWith(ALLOCATE.path)).toBe(true);
});

test('a lost connection shows as closed, and its calls fail instead of hanging', async () => {
  const server = await ourServer({ Allocate: () => new Promise(() => undefined) });
  const connection = await connect();
  const pending = failure(connection.unary(ALLOCATE, REQUEST, 60_000));
  await sleep(50);
  await server.shutdown(0);
  const err = await pending;
  expect([Status.CANCELLED, Status.UNAVAILABLE]).toContain(err.code);
  await eventually(() => connection.closed, 5000, 'the connection to show as closed');
});
