/**
 * Hostile RPCs over raw HTTP/2 on a plugin's unix socket: the fault tier needs bytes no well-behaved
 * gRPC client sends (random bodies, truncated frames, 8 MB messages, non-UTF-8 strings), and it needs the
 * size of the whole reply (headers, data and trailers), which only the raw stream shows.
 */
import * as http2 from 'http2';
import * as net from 'net';

export interface RawReply {
  /** grpc-status of the reply; undefined when the call did not finish (a stream kept open, e.g. ListAndWatch). */
  status?: number;
  message: string;
  /** Bytes of every header and trailer name and value plus the data frames. */
  bytes: number;
  /** The connection failed or was reset instead of answering with a status. */
  broken?: string;
}

export const METHODS = [
  'GetDevicePluginOptions',
  'ListAndWatch',
  'GetPreferredAllocation',
  'Allocate',
  'PreStartContainer',
] as const;

/** One protobuf field: tag, then a varint or length-delimited payload. */
export function field(no: number, payload: Buffer | number): Buffer {
  if (typeof payload === 'number') return Buffer.concat([varint((no << 3) | 0), varint(payload)]);
  return Buffer.concat([varint((no << 3) | 2), varint(payload.length), payload]);
}

function varint(n: number): Buffer {
  const bytes: number[] = [];
  let v = n;
  while (v > 127) {
    bytes.push((v & 127) | 128);
    v = Math.floor(v / 128);
  }
  bytes.push(v);
  return Buffer.from(bytes);
}

/** AllocateRequest / PreStartContainerRequest bodies with arbitrary ID bytes. */
export function allocateBody(ids: Buffer[]): Buffer {
  return field(1, Buffer.concat(ids.map((id) => field(1, id))));
}
export function preStartBody(ids: Buffer[]): Buffer {
  return Buffer.concat(ids.map((id) => field(1, id)));
}
export function preferredBody(available: string[], mustInclude: string[], size: number): Buffer {
  const request = Buffer.concat([
    ...available.map((id) => field(1, Buffer.from(id))),
    ...mustInclude.map((id) => field(2, Buffer.from(id))),
    size ? field(3, size) : Buffer.alloc(0),
  ]);
  return field(1, request);
}

/** gRPC length-prefixed message; `claimed` lets a frame announce more bytes than it carries. */
export function frame(body: Buffer, claimed = body.length): Buffer {
  const head = Buffer.alloc(5);
  head.writeUInt32BE(claimed, 1);
  return Buffer.concat([head, body]);
}

function headerBytes(headers: http2.IncomingHttpHeaders): number {
  let n = 0;
  for (const [k, v] of Object.entries(headers)) n += k.length + String(v ?? '').length;
  return n;
}

/** Send `payload` (already framed) to `method` and read the whole reply, giving up after `timeoutMs`. */
export function rawCall(
  socketPath: string,
  method: string,
  payload: Buffer,
  timeoutMs = 3000,
): Promise<RawReply> {
  return new Promise((resolve) => {
    const session = http2.connect('http://localhost', { createConnection: () => net.connect(socketPath) });
    let bytes = 0;
    let status: number | undefined;
    let message = '';
    let done = false;
    const finish = (extra: Partial<RawReply> = {}) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      session.destroy();
      resolve({ status, message, bytes, ...extra });
    };
    const timer = setTimeout(() => finish(), timeoutMs);
    session.on('error', (err) => finish({ broken: err.message }));
    const stream = session.request({
      ':method': 'POST',
      ':path': `/v1beta1.DevicePlugin/${method}`,
      'content-type': 'application/grpc',
      te: 'trailers',
    });
    const take = (headers: http2.IncomingHttpHeaders) => {
      bytes += headerBytes(headers);
      if (headers['grpc-status'] !== undefined) {
        status = Number(headers['grpc-status']);
        message = decodeURIComponent(String(headers['grpc-message'] ?? ''));
      }
    };
    stream.on('response', take);
    stream.on('trailers', take);
    stream.on('data', (chunk: Buffer) => (bytes += chunk.length));
    stream.on('end', () => finish());
    stream.on('close', () =>
      finish(status === undefined ? { broken: `stream closed (${stream.rstCode})` } : {}),
    );
    stream.on('error', (err) => finish({ broken: err.message }));
    stream.end(payload);
  });
}
