/**
 * The gRPC server the kubelet calls (device-plugin v1beta1, DRA, plugin registration): the gRPC
 * protocol on node:http2, for unary calls and server streams, which is all the kubelet APIs use.
 *
 * Why our own and not grpc-js's server: per call grpc-js builds metadata, interceptor chains, a call
 * object with its own stream machinery and timers, and that bookkeeping was most of an Allocate's round
 * trip (BENCHMARKS.md, issue 15: Allocate p50 and RSS). What the kubelet needs is small: HTTP/2 from
 * Node, a 5-byte frame around each protobuf message, the status in trailers (grpc-protocol.ts). Our
 * calls to the kubelet (Register, PodResources) are grpc-client.ts.
 *
 * Guarantees the fault tier (faults/malformed.ts) and test/framework/grpc-server.test.ts hold us to:
 * every malformed request gets a gRPC status naming the problem, never a crash or a dropped connection;
 * a request over MAX_MESSAGE_BYTES is refused as soon as its frame header says so; a connection runs at
 * most `maxConcurrentStreams` calls at once (more wait in the client).
 *
 * Deadlines (`grpc-timeout`) are the client's to enforce, as grpc-go's server leaves them: a client whose
 * deadline passes resets its stream, which ends the call here like any cancellation. A timer per call
 * for the same outcome cost ~2% of an Allocate's CPU.
 */
import * as http2 from 'http2';
import { capMessage } from './echo';
import {
  encodeMessage,
  frame,
  frameProblem,
  GrpcError,
  MAX_MESSAGE_BYTES,
  Status,
  type MethodSpec,
  type ServiceSpec,
} from './grpc-protocol';

/** A server stream as a handler sees it: write messages until `end()` or until the client goes. */
export interface ResponseStream<T = object> {
  write(message: T): void;
  /** End the call with OK. */
  end(): void;
  /** Called once when the call ends for any reason (end, client gone, connection lost, shutdown). */
  onClose(listener: () => void): void;
}

/* eslint-disable @typescript-eslint/no-explicit-any -- handlers are typed where they are written */
export type UnaryHandler = (request: any) => unknown;
export type StreamHandler = (request: any, stream: ResponseStream<any>) => void;
/* eslint-enable @typescript-eslint/no-explicit-any */
/** Handlers by method name (the keys of a ServiceSpec). */
export type Implementation = Record<string, UnaryHandler | StreamHandler>;

interface Route {
  method: MethodSpec;
  handler: UnaryHandler | StreamHandler;
}

const GRPC_HEADERS = { ':status': 200, 'content-type': 'application/grpc' };
/** The trailers of every successful call, built once: most calls end this way (Allocate's hot path). */
const OK_STATUS = Object.freeze({ 'grpc-status': String(Status.OK), 'grpc-message': '' });

/** A call's status as trailer fields: the message bounded and escaped (echo.ts), then percent-encoded. */
function statusFields(code: number, message: string): Readonly<Record<string, string>> {
  if (code === Status.OK && !message) return OK_STATUS;
  return { 'grpc-status': String(code), 'grpc-message': encodeMessage(capMessage(message)) };
}

export class GrpcServer {
  private readonly routes = new Map<string, Route>();
  private readonly sessions = new Set<http2.ServerHttp2Session>();
  /** Every call in progress, to cancel at shutdown. */
  private readonly calls = new Set<http2.ServerHttp2Stream>();
  /** How to end each open server stream, to end them with OK at shutdown. */
  private readonly openStreams = new Set<() => void>();
  private http?: http2.Http2Server;

  constructor(private readonly options: { maxConcurrentStreams: number }) {}

  addService(spec: ServiceSpec, implementation: Implementation): void {
    for (const [name, method] of Object.entries(spec)) {
      const handler = implementation[name] as Implementation[string] | undefined;
      if (handler) this.routes.set(method.path, { method, handler });
    }
  }

  /** Listen on a unix socket path (the caller removes any stale file first). */
  listen(socketPath: string): Promise<void> {
    const http = http2.createServer({
      settings: { maxConcurrentStreams: this.options.maxConcurrentStreams },
    });
    http.on('session', (session) => {
      this.sessions.add(session);
      session.on('close', () => this.sessions.delete(session));
      session.on('error', () => undefined); // a peer gone mid-write; its streams end through 'close'
    });
    http.on('stream', (stream, headers) => this.dispatch(stream, headers));
    return new Promise((resolve, reject) => {
      http.once('error', reject);
      http.listen(socketPath, () => {
        http.off('error', reject);
        this.http = http;
        resolve();
      });
    });
  }

  /**
   * Stop: end open server streams, refuse new connections and calls, and let calls in progress
   * finish for up to `graceMs`; then cut every connection. `graceMs` 0 cuts at once.
   */
  async shutdown(graceMs: number): Promise<void> {
    const http = this.http;
    if (!http) return;
    this.http = undefined;
    for (const end of [...this.openStreams]) end();
    const closed = new Promise<void>((resolve) => http.close(() => resolve()));
    if (graceMs > 0) {
      for (const session of this.sessions) session.close(); // GOAWAY: no new calls, the current ones finish
      let timer: NodeJS.Timeout | undefined;
      const late = new Promise<void>((resolve) => (timer = setTimeout(resolve, graceMs)));
      await Promise.race([closed, late]);
      clearTimeout(timer);
    }
    await this.cut();
    await closed;
  }

  /**
   * Cancel every call still in progress (RST_STREAM CANCEL: the client sees CANCELLED, as with grpc-js's
   * forceShutdown), then drop the connections. The resets go out first: a session destroyed at once
   * would reset its streams with NO_ERROR, which a client reads as a call ended without a status.
   */
  private async cut(): Promise<void> {
    const resets = [...this.calls].map((stream) => {
      const closed = new Promise((resolve) => stream.once('close', resolve));
      stream.close(http2.constants.NGHTTP2_CANCEL);
      return closed;
    });
    await Promise.all(resets);
    // With no call left a session closes as soon as its GOAWAY is written; one that does not (a peer
    // that stopped reading) is destroyed after a moment.
    const sessions = [...this.sessions].map((session) => {
      const gone = new Promise((resolve) => session.once('close', resolve));
      session.close();
      return gone;
    });
    const timer = setTimeout(() => this.sessions.forEach((session) => session.destroy()), 100);
    await Promise.all(sessions);
    clearTimeout(timer);
  }

  private dispatch(stream: http2.ServerHttp2Stream, headers: http2.IncomingHttpHeaders): void {
    stream.on('error', () => undefined); // a reset by the client; 'close' follows
    this.calls.add(stream);
    stream.on('close', () => this.calls.delete(stream));
    const route = this.routes.get(headers[':path'] ?? '');
    const problem = requestProblem(headers, route);
    if (problem) return void answer(stream, problem.code, problem.message);
    const call = new Call(stream, route!);
    readRequest(stream, call);
    call.onRequest = (request) =>
      route!.method.responseStream ? this.openStream(call, request) : call.unary(request);
  }

  private openStream(call: Call, request: unknown): void {
    const end = () => call.finish(Status.OK, '');
    this.openStreams.add(end);
    call.onEnd(() => this.openStreams.delete(end));
    (call.route.handler as StreamHandler)(request, call);
  }
}

/** Why a call is refused before its body is read, or undefined. */
function requestProblem(
  headers: http2.IncomingHttpHeaders,
  route: Route | undefined,
): { code: number; message: string } | undefined {
  const type = headers['content-type'] ?? '';
  if (headers[':method'] !== 'POST' || !/^application\/grpc(\+proto)?($|;)/.test(type))
    return { code: Status.INTERNAL, message: `not a gRPC request (${headers[':method']} ${type})` };
  if (!route) return { code: Status.UNIMPLEMENTED, message: `unknown method ${headers[':path']}` };
  const encoding = headers['grpc-encoding'];
  if (encoding && encoding !== 'identity')
    return { code: Status.UNIMPLEMENTED, message: `compression ${encoding} is not supported` };
  return undefined;
}

/**
 * Read the request body: exactly one length-prefixed message. A frame header announcing more than
 * MAX_MESSAGE_BYTES is refused before its body arrives.
 */
function readRequest(stream: http2.ServerHttp2Stream, call: Call): void {
  const chunks: Buffer[] = [];
  let received = 0;
  let refused = false;
  stream.on('data', (chunk: Buffer) => {
    if (refused) return;
    chunks.push(chunk);
    received += chunk.length;
    if (received >= 5 && chunks.length <= 2) {
      const head = chunks.length === 1 ? chunk : Buffer.concat(chunks);
      const size = head.readUInt32BE(1);
      if (size > MAX_MESSAGE_BYTES) {
        refused = true;
        chunks.length = 0;
        call.finish(
          Status.RESOURCE_EXHAUSTED,
          `request message of ${size} bytes is larger than the limit of ${MAX_MESSAGE_BYTES}`,
        );
      }
    }
  });
  stream.on('end', () => {
    if (refused || call.done) return;
    const body = chunks.length === 1 ? chunks[0] : Buffer.concat(chunks);
    const problem = frameProblem(body, 'request');
    if (problem) return call.finish(Status.INTERNAL, problem);
    let request: unknown;
    try {
      request = call.route.method.requestDeserialize(body.subarray(5));
    } catch (err) {
      return call.finish(Status.INTERNAL, `cannot decode the request: ${(err as Error).message}`);
    }
    call.onRequest?.(request);
  });
}

/**
 * One call in progress: answers once (a reply, an error or a stream's end), and drops whatever
 * comes after it (a handler finishing after the client went away, a write after the end).
 */
class Call implements ResponseStream {
  done = false;
  onRequest?: (request: unknown) => void;
  private headersSent = false;
  private readonly endListeners: (() => void)[] = [];

  constructor(
    private readonly stream: http2.ServerHttp2Stream,
    readonly route: Route,
  ) {
    stream.on('close', () => this.closed());
  }

  unary(request: unknown): void {
    let result: unknown;
    try {
      result = (this.route.handler as UnaryHandler)(request);
    } catch (err) {
      return this.fail(err);
    }
    if (result instanceof Promise)
      result.then(
        (value) => this.reply(value),
        (err) => this.fail(err),
      );
    else this.reply(result);
  }

  write(message: object): void {
    if (this.done || this.stream.destroyed) return;
    this.sendHeaders();
    this.stream.write(frame(this.route.method.responseSerialize(message)));
  }

  end(): void {
    this.finish(Status.OK, '');
  }

  onClose(listener: () => void): void {
    this.onEnd(listener);
  }

  onEnd(listener: () => void): void {
    if (this.done) listener();
    else this.endListeners.push(listener);
  }

  private reply(value: unknown): void {
    if (this.done || this.stream.destroyed) return this.closed();
    let body: Buffer;
    try {
      body = frame(this.route.method.responseSerialize(value as object));
    } catch (err) {
      return this.fail(err);
    }
    this.sendHeaders();
    this.finish(Status.OK, '', body);
  }

  private fail(err: unknown): void {
    const code = statusCodeOf(err);
    this.finish(code, err instanceof Error ? err.message : String(err));
  }

  /** Answer once: `body` (a framed reply) if any, then the status; later answers are dropped. */
  finish(code: number, message: string, body?: Buffer): void {
    if (this.done) return;
    const stream = this.stream;
    if (stream.destroyed || stream.closed) return this.closed();
    const status = statusFields(code, message);
    if (!this.headersSent) {
      // Nothing sent yet and nothing to send: a trailers-only reply, one HEADERS frame.
      if (!body) {
        this.closed();
        stream.respond({ ...GRPC_HEADERS, ...status }, { endStream: true });
        stopReading(stream);
        return;
      }
      this.sendHeaders();
    }
    this.closed();
    stream.once('wantTrailers', () => stream.sendTrailers(status));
    stream.end(body);
    stopReading(stream);
  }

  private sendHeaders(): void {
    if (this.headersSent) return;
    this.headersSent = true;
    this.stream.respond(GRPC_HEADERS, { waitForTrailers: true });
  }

  /** The call is over: no more answers, listeners told (once). */
  private closed(): void {
    if (this.done) return;
    this.done = true;
    for (const listener of this.endListeners.splice(0)) listener();
  }
}

/**
 * After our answer, a client still sending (an oversized request) is told to stop: RST_STREAM NO_ERROR.
 * The reset waits a turn of the event loop after 'finish': Node 26 emits 'finish' before it hands the
 * answer's HEADERS to nghttp2, and a reset submitted then goes out first, so the client never sees the
 * status (Node 20 did not; test/framework/grpc-server.test.ts catches it on both).
 */
function stopReading(stream: http2.ServerHttp2Stream): void {
  if (stream.readableEnded) return;
  stream.resume();
  stream.once('finish', () =>
    setImmediate(() => {
      if (!stream.closed) stream.close(http2.constants.NGHTTP2_NO_ERROR);
    }),
  );
}

function answer(stream: http2.ServerHttp2Stream, code: number, message: string): void {
  stream.respond({ ...GRPC_HEADERS, ...statusFields(code, message) }, { endStream: true });
  stopReading(stream);
}

/** A handler's error as a status code: GrpcError's code, AllocationError's grpcCode, else INTERNAL. */
function statusCodeOf(err: unknown): number {
  const e = err as { code?: unknown; grpcCode?: unknown } | undefined;
  if (err instanceof GrpcError) return err.code;
  if (typeof e?.grpcCode === 'number') return e.grpcCode;
  return Status.INTERNAL;
}
