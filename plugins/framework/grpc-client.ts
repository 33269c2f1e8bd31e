/**
 * The gRPC calls a plugin makes itself: Register on kubelet.sock and the PodResources queries. Unary
 * calls over a unix socket on node:http2, the client half of grpc-protocol.ts.
 *
 * Why our own and not grpc-js's client: once the kubelet's calls were served by grpc-server.ts, these two
 * calls were all a plugin process still loaded grpc-js for, and loading it was a tenth of every start
 * and a few MB of every plugin's memory (BENCHMARKS.md, issue 15). What the calls need is small: connect,
 * retrying while the socket is not yet accepting (grpc-js's wait-for-ready); one request message; one
 * response message; the status from the trailers; a deadline.
 */
import * as http2 from 'http2';
import * as net from 'net';
import { capMessage } from './echo';
import {
  decodeMessage,
  frame,
  frameProblem,
  GrpcError,
  MAX_MESSAGE_BYTES,
  Status,
  type MethodSpec,
} from './grpc-protocol';

/**
 * Connect errors worth another try: the file is not there yet, or is there but nobody accepts on it yet
 * (a unix socket is bound a moment before it listens; a kubelet is restarting).
 */
const RETRYABLE = new Set(['ENOENT', 'ECONNREFUSED', 'EAGAIN']);
/** Retry delays while connecting double from FIRST to MAX: a socket that appears is reached within ms. */
const FIRST_RETRY_MS = 10;
const MAX_RETRY_MS = 500;

/** One HTTP/2 connection to a gRPC server on a unix socket, for unary calls. */
export class GrpcConnection {
  /** The server said GOAWAY (it is stopping): no new call may start on this connection. */
  private goneAway = false;

  private constructor(
    private readonly session: http2.ClientHttp2Session,
    readonly socketPath: string,
  ) {
    session.once('goaway', () => (this.goneAway = true));
  }

  /**
   * Connect to `socketPath` within `timeoutMs`, retrying refused or missing sockets. Rejects with
   * DEADLINE_EXCEEDED (naming the last connect error) when the time is up, UNAVAILABLE on any other
   * connect error, CANCELLED when `signal` aborts.
   */
  static async connect(socketPath: string, timeoutMs: number, signal?: AbortSignal): Promise<GrpcConnection> {
    const deadline = Date.now() + timeoutMs;
    let delay = FIRST_RETRY_MS;
    for (;;) {
      if (signal?.aborted) throw new GrpcError(Status.CANCELLED, `connecting to ${socketPath}: cancelled`);
      try {
        return new GrpcConnection(await openSession(socketPath, signal), socketPath);
      } catch (err) {
        if (err instanceof GrpcError) throw err;
        const code = (err as NodeJS.ErrnoException).code ?? '';
        const reason = `cannot connect to ${socketPath}: ${(err as Error).message}`;
        if (!RETRYABLE.has(code)) throw new GrpcError(Status.UNAVAILABLE, reason);
        const left = deadline - Date.now();
        if (left <= 0) throw new GrpcError(Status.DEADLINE_EXCEEDED, `${reason} (for ${timeoutMs} ms)`);
        await sleep(Math.min(delay, left), signal);
        delay = Math.min(delay * 2, MAX_RETRY_MS);
      }
    }
  }

  /** The connection is gone or going (closed by us, by the server, or lost): a new one is needed. */
  get closed(): boolean {
    return this.goneAway || this.session.closed || this.session.destroyed;
  }

  /**
   * One unary call with a deadline. Resolves with the decoded response; rejects with a GrpcError: the
   * server's status, DEADLINE_EXCEEDED, or what was wrong with the answer (bounded, as logs quote it).
   */
  unary<Res>(method: MethodSpec, request: object, timeoutMs: number): Promise<Res> {
    return new Promise<Res>((resolve, reject) => {
      let stream: http2.ClientHttp2Stream;
      try {
        stream = this.session.request({
          ':method': 'POST',
          ':path': method.path,
          'content-type': 'application/grpc',
          te: 'trailers',
          'grpc-timeout': `${Math.max(1, Math.ceil(timeoutMs))}m`,
        });
      } catch (err) {
        return reject(new GrpcError(Status.UNAVAILABLE, `${method.path}: ${(err as Error).message}`));
      }
      let settled = false;
      const settle = (err: GrpcError | undefined, value?: Res) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        if (err) reject(err);
        else resolve(value as Res);
      };
      const fail = (code: number, message: string) => {
        settle(new GrpcError(code, capMessage(`${method.path}: ${message}`)));
        if (!stream.closed) stream.close(http2.constants.NGHTTP2_CANCEL);
      };
      const timer = setTimeout(
        () => fail(Status.DEADLINE_EXCEEDED, `no answer within ${timeoutMs} ms`),
        timeoutMs,
      );

      let headers: http2.IncomingHttpHeaders | undefined;
      let trailers: http2.IncomingHttpHeaders | undefined;
      const chunks: Buffer[] = [];
      let received = 0;
      stream.on('response', (h) => (headers = h));
      stream.on('trailers', (t) => (trailers = t));
      stream.on('data', (chunk: Buffer) => {
        received += chunk.length;
        if (received > MAX_MESSAGE_BYTES + 5)
          return fail(
            Status.RESOURCE_EXHAUSTED,
            `response larger than the limit of ${MAX_MESSAGE_BYTES} bytes`,
          );
        chunks.push(chunk);
      });
      stream.on('error', () => undefined); // a reset or a lost connection: 'close' follows and says which
      stream.on('close', () => {
        if (settled) return;
        const problem = answerProblem(headers, trailers, stream.rstCode);
        if (problem) {
          // The server's own status message as it sent it (bounded and escaped: our logs quote it); a
          // problem we found with the answer names the method.
          const message = problem.fromServer ? problem.message : `${method.path}: ${problem.message}`;
          return settle(new GrpcError(problem.code, capMessage(message)));
        }
        const body = chunks.length === 1 ? chunks[0] : Buffer.concat(chunks);
        const bad = frameProblem(body, 'response');
        if (bad) return settle(new GrpcError(Status.INTERNAL, `${method.path}: ${bad}`));
        try {
          settle(undefined, method.responseDeserialize(body.subarray(5)) as Res);
        } catch (err) {
          settle(
            new GrpcError(
              Status.INTERNAL,
              `${method.path}: cannot decode the response: ${(err as Error).message}`,
            ),
          );
        }
      });
      try {
        stream.end(frame(method.requestSerialize(request)));
      } catch (err) {
        fail(Status.INTERNAL, `cannot encode the request: ${(err as Error).message}`);
      }
    });
  }

  /** Close: calls in progress finish, no new ones start. */
  close(): void {
    if (!this.closed) this.session.close();
  }
}

/**
 * Why a finished call did not succeed, or undefined when it did (status OK). The status comes in the
 * trailers, or in the headers of a trailers-only answer; none at all means the stream was cut.
 */
function answerProblem(
  headers: http2.IncomingHttpHeaders | undefined,
  trailers: http2.IncomingHttpHeaders | undefined,
  rstCode: number,
): { code: number; message: string; fromServer?: boolean } | undefined {
  if (!headers)
    return { code: Status.UNAVAILABLE, message: `the call ended before any answer (HTTP/2 code ${rstCode})` };
  if (Number(headers[':status']) !== 200)
    return { code: Status.UNKNOWN, message: `HTTP status ${headers[':status']}` };
  const status = trailers?.['grpc-status'] ?? headers['grpc-status'];
  if (status === undefined)
    return {
      code: Status.INTERNAL,
      message: `the call ended without a gRPC status (HTTP/2 code ${rstCode})`,
    };
  const code = Number(status);
  if (code === Status.OK) return undefined;
  const message = trailers?.['grpc-message'] ?? headers['grpc-message'];
  return {
    code,
    message: typeof message === 'string' && message ? decodeMessage(message) : `status ${code}`,
    fromServer: true,
  };
}

/** One connection attempt: the session once the socket is connected, or the connect error. */
function openSession(socketPath: string, signal?: AbortSignal): Promise<http2.ClientHttp2Session> {
  return new Promise((resolve, reject) => {
    const session = http2.connect('http://localhost', { createConnection: () => net.connect(socketPath) });
    const onAbort = () => {
      session.destroy();
      reject(new GrpcError(Status.CANCELLED, `connecting to ${socketPath}: cancelled`));
    };
    const onError = (err: Error) => {
      signal?.removeEventListener('abort', onAbort);
      session.destroy();
      reject(err);
    };
    signal?.addEventListener('abort', onAbort, { once: true });
    session.once('error', onError);
    session.once('connect', () => {
      signal?.removeEventListener('abort', onAbort);
      session.off('error', onError);
      session.on('error', () => undefined); // a connection lost later fails its calls through 'close'
      session.unref(); // an idle connection does not keep the process alive; a call's deadline timer does
      resolve(session);
    });
  });
}

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(done, ms);
    signal?.addEventListener('abort', done, { once: true });
    function done() {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    }
  });
}
