/**
 * Bounds on how much of a request goes back into an error reply or a log line. A gRPC error travels in
 * an HTTP/2 trailer: one that echoed 10,000 unknown IDs (~75 kB) made grpc-js drop the kubelet's whole
 * connection, ending its ListAndWatch stream. So every echo of request content goes through here.
 */

/** At most this many IDs are quoted in one message; the rest are counted. */
export const MAX_ECHOED_IDS = 10;
/** Each quoted ID is cut to this many characters (kubelet IDs are at most 63). */
export const MAX_ECHOED_ID_LENGTH = 64;
/** Hard cap on any error message sent to the kubelet, whatever built it (well under 16 kB). */
export const MAX_ERROR_MESSAGE_LENGTH = 4096;

/**
 * One request value, quoted and cut: JSON quoting makes NUL, control characters and the replacement
 * characters of non-UTF-8 input visible instead of breaking the line.
 */
export function echoValue(value: string, max = MAX_ECHOED_ID_LENGTH): string {
  const text = String(value);
  return text.length > max
    ? `${JSON.stringify(text.slice(0, max))}...(${text.length} chars)`
    : JSON.stringify(text);
}

/** `"a", "b", ... and 9990 more`: the first MAX_ECHOED_IDS values, each cut. */
export function echoIds(ids: readonly string[], max = MAX_ECHOED_IDS): string {
  return boundedList(
    ids.slice(0, max).map((id) => echoValue(id)),
    ids.length,
  );
}

/** `a, b, ... and 9990 more`: for IDs already checked (known devices), bounded the same way, unquoted. */
export function listIds(ids: readonly string[], max = MAX_ECHOED_IDS): string {
  return boundedList(
    ids
      .slice(0, max)
      .map((id) => (id.length > MAX_ECHOED_ID_LENGTH ? `${id.slice(0, MAX_ECHOED_ID_LENGTH)}...` : id)),
    ids.length,
  );
}

function boundedList(shown: string[], total: number): string {
  const rest = total - shown.length;
  return rest > 0 ? `${shown.join(', ')} ... and ${rest} more` : shown.join(', ');
}

/**
 * The form of any error message sent to the kubelet (the last line of defence, whatever built it):
 * ASCII only (other characters as \uXXXX: grpc-js percent-encodes the trailer, and a lone surrogate
 * would make that encoding throw), cut to MAX_ERROR_MESSAGE_LENGTH characters. Percent-encoding at most
 * triples it, so a reply stays under 13 kB.
 */
export function capMessage(message: string, max = MAX_ERROR_MESSAGE_LENGTH): string {
  const ascii = message.replace(
    /[^\x20-\x7e]/g,
    (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`,
  );
  return ascii.length > max ? `${ascii.slice(0, max)}... (${ascii.length - max} more characters)` : ascii;
}
