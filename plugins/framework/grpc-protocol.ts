/**
 * The gRPC protocol on HTTP/2, the part both ends share: our server (grpc-server.ts, what the kubelet
 * calls) and our client (grpc-client.ts, Register and PodResources). Status codes, the 5-byte frame
 * around each protobuf message, the percent-encoded grpc-message, the size bound.
 * The protocol: github.com/grpc/grpc/blob/master/doc/PROTOCOL-HTTP2.md.
 */

/** gRPC status codes we send or read (grpc/doc/statuscodes.md). */
export const Status = {
  OK: 0,
  CANCELLED: 1,
  UNKNOWN: 2,
  INVALID_ARGUMENT: 3,
  DEADLINE_EXCEEDED: 4,
  NOT_FOUND: 5,
  RESOURCE_EXHAUSTED: 8,
  FAILED_PRECONDITION: 9,
  UNIMPLEMENTED: 12,
  INTERNAL: 13,
  UNAVAILABLE: 14,
} as const;

/** Messages larger than this are refused, as grpc-go and grpc-js refuse them by default. */
export const MAX_MESSAGE_BYTES = 4 * 1024 * 1024;

/**
 * A call's failure with its status code: what a method handler throws to answer with a status other
 * than INTERNAL, and what our client rejects with. `details` is the status message (grpc-js's name for
 * it, which callers of either client read).
 */
export class GrpcError extends Error {
  constructor(
    readonly code: number,
    message: string,
  ) {
    super(message);
    this.name = 'GrpcError';
  }

  get details(): string {
    return this.message;
  }
}

/**
 * One method of a service: its route and codec (proto.ts `method()` builds these). The shape is
 * grpc-js's MethodDefinition, so tests can build grpc-js clients on the same specs.
 */
export interface MethodSpec {
  path: string;
  requestStream: boolean;
  responseStream: boolean;
  requestSerialize(value: object): Buffer;
  requestDeserialize(bytes: Buffer): unknown;
  responseSerialize(value: object): Buffer;
  responseDeserialize(bytes: Buffer): unknown;
}
export type ServiceSpec = Record<string, MethodSpec>;

/** One gRPC message on the wire: uncompressed flag, 4-byte big-endian length, the protobuf bytes. */
export function frame(body: Buffer): Buffer {
  const out = Buffer.allocUnsafe(5 + body.length);
  out[0] = 0;
  out.writeUInt32BE(body.length, 1);
  body.copy(out, 5);
  return out;
}

/** Why `body` is not exactly one uncompressed gRPC message (a unary call's `what`), or undefined. */
export function frameProblem(body: Buffer, what: 'request' | 'response'): string | undefined {
  if (body.length < 5) return `truncated message frame (${body.length} bytes, a frame header is 5)`;
  if (body[0] !== 0) return 'compressed message without a grpc-encoding';
  const size = body.readUInt32BE(1);
  if (body.length - 5 < size) return `truncated message (${body.length - 5} of ${size} bytes)`;
  if (body.length - 5 > size) return `more than one ${what} message in a unary call`;
  return undefined;
}

/** grpc-message is percent-encoded: every byte outside printable ASCII, and '%' itself. */
export function encodeMessage(message: string): string {
  return message.replace(/[^\x20-\x24\x26-\x7e]/g, (c) =>
    [...Buffer.from(c, 'utf8')].map((b) => `%${b.toString(16).toUpperCase().padStart(2, '0')}`).join(''),
  );
}

/** The reverse of encodeMessage; a malformed escape is kept as it came, as the spec asks. */
export function decodeMessage(encoded: string): string {
  if (!encoded.includes('%')) return encoded;
  try {
    return decodeURIComponent(encoded);
  } catch {
    return encoded;
  }
}
