/**
 * The gRPC status codes CXI allocation errors use. Plugins do not import gRPC, so the numbers are
 * spelled out here (they are fixed by the gRPC spec).
 */
export const INVALID_ARGUMENT = 3;
export const FAILED_PRECONDITION = 9;
