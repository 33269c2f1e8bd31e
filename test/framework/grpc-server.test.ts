/**
 * Our gRPC server (plugins/framework/grpc-server.ts) on a real unix socket, called by grpc-js's client
 * (what the kubelet simulator and the other tests use) and by raw HTTP/2 for what no well-behaved client
 * sends. The real kubelet's grpc-go client is the e2e tier's (npm run e2e:kubelet, e2e:dra).
 */
import * as fs from 'fs';
import * as http2 from 'http2';
import * as net from 'net';
import * as os from 'os';
import * as path from 'path';
import * as grpc from '@grpc/grpc-js';
import { GrpcError, MAX_MESSAGE_BYTES, Status, encodeMessage } from '../../plugins/framework/grpc-protocol';
import { GrpcServer, type ResponseStream } from '../../plugins/framework/grpc-server';
import type { WireAllocateRequest } from '../../plugins/framework/proto';
import { services, unary, unixTarget } from '../../simulator/grpc-js-clients';
import { AllocationError } from '../../plugins/framework/types';
import { MAX_ERROR_MESSAGE_LENGTH } from '../../plugins/framework/echo';

const ALLOCATE = '/v1beta1.DevicePlugin/Allocate';
let dir: string;
let socket: string;
let server: GrpcServer | undefined;
let client: grpc.Client | undefined;

beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'kdp-grpc-'));
  socket = path.join(dir, 's.sock');
});
afterEach(async () => {
  client?.close();
  client = undefined;
  await server?.shutdown(0);
  server = undefined;
  fs.rmSync(dir, { recursive: true, force: true });
});

/** Serve the DevicePlugin service with `handlers` and connect a grpc-js client to it. */
async function serve(handlers: Record<string, unknown>, maxConcurrentStreams = 16): Promise<grpc.Client> {
  server = new GrpcServer({ maxConcurrentStreams });
  server.addService(services().devicePlugin.service, handlers as never);
  await server.listen(socket);
  client = new (services().devicePlugin)(unixTarget(socket), grpc.credentials.createInsecure());
  return client;
}

const allocate = (c: grpc.Client, ids: string[]) =>
  unary<WireAllocateRequest, { container_responses: { envs: Record<string, string> }[] }>(
    c,
    'Allocate',
    { container_requests: [{ devices_ids: ids }] },
    5000,
  );

async function failure(promise: Promise<unknown>): Promise<grpc.ServiceError> {
  return promise.then(
    () => {
      throw new Error('expected the call to fail');
    },
    (err: grpc.ServiceError) => err,
  );
}

interface RawReply {
  status?: number;
  message: string;
  headers: http2.IncomingHttpHeaders[];
  reset?: number;
}

/** One call by hand: `headers` over the defaults, `body` as given (already framed, or not). */
function raw(body: Buffer, headers: http2.OutgoingHttpHeaders = {}, endRequest = true): Promise<RawReply> {
  return new Promise((resolve, reject) => {
    const session = http2.connect('http://localhost', { createConnection: () => net.connect(socket) });
    session.on('error', reject);
    const reply: RawReply = { message: '', headers: [] };
    const stream = session.request({
      ':method': 'POST',
      ':path': ALLOCATE,
      'content-type': 'application/grpc',
      te: 'trailers',
      ...headers,
    });
    const take = (h: http2.IncomingHttpHeaders) => {
      reply.headers.push(h);
      if (h['grpc-status'] !== undefined) {
        reply.status = Number(h['grpc-status']);
        reply.message = decodeURIComponent(String(h['grpc-message'] ?? ''));
      }
    };
    stream.on('response', take);
    stream.on('trailers', take);
    stream.on('error', () => undefined);
    stream.resume();
    stream.on('close', () => {
      reply.reset = stream.rstCode;
      session.close();
      resolve(reply);
    });
    if (endRequest) stream.end(body);
    else stream.write(body);
  });
}

function framed(body: Buffer, claimed = body.length, compressed = 0): Buffer {
  const head = Buffer.alloc(5);
  head[0] = compressed;
  head.writeUInt32BE(claimed, 1);
  return Buffer.concat([head, body]);
}

describe('unary calls', () => {
  test('a request is decoded, the handler answer encoded, status OK', async () => {
    const seen: WireAllocateRequest[] = [];
    const c = await serve({
      Allocate: (request: WireAllocateRequest) => {
        seen.push(request);
        return {
          container_responses: [{ envs: { A: request.container_requests[0].devices_ids.join(',') } }],
        };
      },
    });
    const res = await allocate(c, ['x', 'y']);
    expect(res.container_responses[0].envs).toEqual({ A: 'x,y' });
    expect(seen).toEqual([{ container_requests: [{ devices_ids: ['x', 'y'] }] }]);
  });

  test('an async handler answers when its promise settles', async () => {
    const c = await serve({
      Allocate: async () => {
        await new Promise((r) => setTimeout(r, 20));
        return { container_responses: [{ envs: { LATE: '1' } }] };
      },
    });
    expect((await allocate(c, ['x'])).container_responses[0].envs).toEqual({ LATE: '1' });
  });

  test.each([
    [
      'GrpcError',
      () => new GrpcError(Status.FAILED_PRECONDITION, 'not now'),
      Status.FAILED_PRECONDITION,
      'not now',
    ],
    [
      'AllocationError',
      () => new AllocationError('bad ID', Status.INVALID_ARGUMENT),
      Status.INVALID_ARGUMENT,
      'bad ID',
    ],
    ['any other error', () => new Error('boom'), Status.INTERNAL, 'boom'],
  ])('a thrown %s is its status and message', async (_kind, error, code, message) => {
    const c = await serve({
      Allocate: () => {
        throw error();
      },
      PreStartContainer: () => Promise.reject(error()),
    });
    const err = await failure(allocate(c, ['x']));
    expect([err.code, err.details]).toEqual([code, message]);
    const rejected = await failure(unary(c, 'PreStartContainer', { devices_ids: ['x'] }, 5000));
    expect([rejected.code, rejected.details]).toEqual([code, message]);
  });

  test('an error message is bounded and printable, whatever the handler threw', async () => {
    const c = await serve({
      Allocate: () => {
        throw new GrpcError(Status.INVALID_ARGUMENT, `caf\u00e9 100% ${'x'.repeat(100_000)}\u0000`);
      },
    });
    const err = await failure(allocate(c, ['x']));
    expect(err.details.length).toBeLessThan(MAX_ERROR_MESSAGE_LENGTH + 40);
    expect(err.details).toMatch(/^caf\\u00e9 100% x+\.\.\. \(\d+ more characters\)$/);
  });

  test('grpc-message is percent-encoded as the protocol says', () => {
    expect(encodeMessage('50% off: caf\u00e9')).toBe('50%25 off: caf%C3%A9');
  });

  test('a handler that answers after the client went away is dropped, and the server goes on', async () => {
    let release!: () => void;
    const c = await serve({
      Allocate: (request: WireAllocateRequest) =>
        request.container_requests[0].devices_ids[0] === 'slow'
          ? new Promise((r) => (release = () => r({ container_responses: [] })))
          : { container_responses: [{ envs: { OK: '1' } }] },
    });
    const slow = unary(c, 'Allocate', { container_requests: [{ devices_ids: ['slow'] }] }, 100);
    expect((await failure(slow)).code).toBe(grpc.status.DEADLINE_EXCEEDED); // the client's deadline
    release();
    expect((await allocate(c, ['x'])).container_responses[0].envs).toEqual({ OK: '1' });
  });
});

describe('what no well-behaved client sends', () => {
  const ok = () => ({ container_responses: [] });

  test('an unknown method: UNIMPLEMENTED naming it', async () => {
    await serve({ Allocate: ok });
    const reply = await raw(framed(Buffer.alloc(0)), { ':path': '/v1beta1.DevicePlugin/Nope' });
    expect([reply.status, reply.message]).toEqual([
      Status.UNIMPLEMENTED,
      'unknown method /v1beta1.DevicePlugin/Nope',
    ]);
  });

  test('a method the service has but we do not implement: UNIMPLEMENTED', async () => {
    await serve({ Allocate: ok });
    const reply = await raw(framed(Buffer.alloc(0)), { ':path': '/v1beta1.DevicePlugin/PreStartContainer' });
    expect(reply.status).toBe(Status.UNIMPLEMENTED);
  });

  test('not gRPC (wrong content-type): an error status, not a crash', async () => {
    await serve({ Allocate: ok });
    const reply = await raw(Buffer.from('{}'), { 'content-type': 'application/json' });
    expect(reply.status).toBe(Status.INTERNAL);
    expect(reply.message).toMatch(/not a gRPC request/);
  });

  test('compressed requests are refused: UNIMPLEMENTED', async () => {
    await serve({ Allocate: ok });
    const reply = await raw(framed(Buffer.alloc(3), 3, 1), { 'grpc-encoding': 'gzip' });
    expect([reply.status, reply.message]).toEqual([
      Status.UNIMPLEMENTED,
      'compression gzip is not supported',
    ]);
  });

  test.each([
    ['no frame at all', Buffer.alloc(0), /truncated message frame \(0 bytes/],
    ['a truncated frame header', Buffer.from([0, 0, 0]), /truncated message frame \(3 bytes/],
    [
      'a frame shorter than it claims',
      framed(Buffer.from([0x0a, 0x01]), 1000),
      /truncated message \(2 of 1000 bytes\)/,
    ],
    [
      'two messages',
      Buffer.concat([framed(Buffer.alloc(0)), framed(Buffer.alloc(0))]),
      /more than one request message/,
    ],
    [
      'the compressed flag without an encoding',
      framed(Buffer.alloc(1), 1, 1),
      /compressed message without a grpc-encoding/,
    ],
    [
      'bytes that are no AllocateRequest',
      framed(Buffer.from([0x0a, 0xff, 0xff, 0xff, 0x0f])),
      /cannot decode the request/,
    ],
  ])('%s: INTERNAL naming the problem', async (_label, body, message) => {
    let called = false;
    await serve({ Allocate: () => ((called = true), ok()) });
    const reply = await raw(body);
    expect(reply.status).toBe(Status.INTERNAL);
    expect(reply.message).toMatch(message);
    expect(called).toBe(false);
  });

  test('a message over the limit is refused from its frame header, before its body is sent', async () => {
    await serve({ Allocate: ok });
    // Only the 5-byte header announcing 8 MB, and the request kept open: the reply cannot wait for the body.
    const reply = await raw(framed(Buffer.alloc(0), 8 * 1024 * 1024), {}, false);
    expect(reply.status).toBe(Status.RESOURCE_EXHAUSTED);
    expect(reply.message).toBe(
      `request message of ${8 * 1024 * 1024} bytes is larger than the limit of ${MAX_MESSAGE_BYTES}`,
    );
    expect(reply.reset).toBe(http2.constants.NGHTTP2_NO_ERROR); // told to stop sending, politely
  });

  test('an 8 MB message sent whole gets the same answer, and the connection serves on', async () => {
    const c = await serve({ Allocate: () => ({ container_responses: [{ envs: { OK: '1' } }] }) });
    const big = Buffer.alloc(8 * 1024 * 1024, 0x0a);
    const reply = await raw(framed(big));
    expect(reply.status).toBe(Status.RESOURCE_EXHAUSTED);
    expect((await allocate(c, ['x'])).container_responses[0].envs).toEqual({ OK: '1' });
  });
});

describe('server streams', () => {
  test('messages as written, then OK at end(); onClose is told once', async () => {
    let closes = 0;
    const c = await serve({
      ListAndWatch: (_request: unknown, stream: ResponseStream) => {
        stream.onClose(() => (closes += 1));
        stream.write({ devices: [{ ID: 'a', health: 'Healthy' }] });
        stream.write({ devices: [{ ID: 'a', health: 'Unhealthy' }] });
        stream.end();
        stream.write({ devices: [] }); // after the end: dropped
        stream.end();
      },
    });
    const call = (
      c as unknown as {
        ListAndWatch(r: object): grpc.ClientReadableStream<{ devices: { health: string }[] }>;
      }
    ).ListAndWatch({});
    const seen: string[] = [];
    call.on('data', (m: { devices: { health: string }[] }) =>
      seen.push(m.devices.map((d) => d.health).join()),
    );
    const status = await new Promise<grpc.StatusObject>((resolve) => call.on('status', resolve));
    expect(status.code).toBe(Status.OK);
    expect(seen).toEqual(['Healthy', 'Unhealthy']);
    expect(closes).toBe(1);
  });

  test('a client that cancels ends the call here: onClose runs, later writes are dropped', async () => {
    let stream!: ResponseStream;
    const closed = new Promise<void>((resolve) =>
      serve({
        ListAndWatch: (_request: unknown, s: ResponseStream) => {
          stream = s;
          s.onClose(resolve);
          s.write({ devices: [] });
        },
      }).then((c) => {
        const call = (
          c as unknown as { ListAndWatch(r: object): grpc.ClientReadableStream<object> }
        ).ListAndWatch({});
        call.on('error', () => undefined);
        call.once('data', () => call.cancel());
      }),
    );
    await closed;
    expect(() => stream.write({ devices: [] })).not.toThrow();
  });

  test('shutdown ends open streams with OK, then lets the socket go', async () => {
    const c = await serve({
      ListAndWatch: (_request: unknown, s: ResponseStream) => s.write({ devices: [] }),
    });
    const call = (
      c as unknown as { ListAndWatch(r: object): grpc.ClientReadableStream<object> }
    ).ListAndWatch({});
    await new Promise((resolve) => call.once('data', resolve));
    const status = new Promise<grpc.StatusObject>((resolve) => call.on('status', resolve));
    await server!.shutdown(1000);
    server = undefined;
    expect((await status).code).toBe(Status.OK);
  });
});

describe('limits and shutdown', () => {
  test('a connection runs at most maxConcurrentStreams calls at once; the rest wait in the client', async () => {
    let running = 0;
    let most = 0;
    const c = await serve(
      {
        Allocate: async () => {
          running += 1;
          most = Math.max(most, running);
          await new Promise((r) => setTimeout(r, 30));
          running -= 1;
          return { container_responses: [] };
        },
      },
      3,
    );
    await Promise.all(Array.from({ length: 12 }, () => allocate(c, ['x'])));
    expect(most).toBe(3);
  });

  test('a graceful shutdown lets a call in progress finish', async () => {
    const c = await serve({
      Allocate: async () => {
        await new Promise((r) => setTimeout(r, 100));
        return { container_responses: [{ envs: { DONE: '1' } }] };
      },
    });
    const pending = allocate(c, ['x']);
    await new Promise((r) => setTimeout(r, 30)); // the call is in the handler
    await server!.shutdown(2000);
    server = undefined;
    expect((await pending).container_responses[0].envs).toEqual({ DONE: '1' });
  });

  test('shutdown(0) cancels a call in progress at once', async () => {
    const c = await serve({ Allocate: () => new Promise(() => undefined) });
    const pending = failure(allocate(c, ['x']));
    await new Promise((r) => setTimeout(r, 30));
    await server!.shutdown(0);
    server = undefined;
    expect((await pending).code).toBe(grpc.status.CANCELLED);
  });

  test('listening on a path that cannot be bound rejects with the errno', async () => {
    server = new GrpcServer({ maxConcurrentStreams: 1 });
    await expect(server.listen(path.join(dir, 'missing', 's.sock'))).rejects.toThrow(/^listen E[A-Z]+: /);
    server = undefined;
  });
});
