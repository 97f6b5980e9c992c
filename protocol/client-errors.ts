// How the client turns errors off the wire into thrown errors, and which of them are
// worth retrying. A retryable error says "this node, now" (no leader yet, busy, gone);
// any other says something about the request itself and is thrown to the caller at once.

import { isErrorCode, RaftboxError, raftboxError, type ErrorCode, type ErrorDetails } from './errors.ts';
import type { FileInfo, WireError } from './wire.ts';

const retryableCodes: ReadonlySet<ErrorCode> = new Set(['not_leader', 'unavailable', 'timeout', 'overloaded']);

/**
 * A refused compare-and-set. `code` is `conflict` and `current` is the record that is
 * current now (null when the path does not exist), so the caller can merge or retry
 * against it without another round trip.
 */
export class ConflictError extends RaftboxError {
  readonly current: FileInfo | null;

  constructor(message: string, details: ErrorDetails | undefined) {
    super('conflict', message, details);
    this.name = 'ConflictError';
    this.current = (details?.current as FileInfo | null | undefined) ?? null;
  }
}

/** Builds the error a caller sees from a `WireError`; unknown codes become `internal`, a conflict a `ConflictError`. */
export function errorFromWire(error: WireError): RaftboxError {
  if (!isErrorCode(error.code)) {
    return raftboxError('internal', `the node answered with an unknown error code '${String(error.code)}': ${error.message}`, error.details);
  }
  if (error.code === 'conflict') return new ConflictError(error.message, error.details);
  return raftboxError(error.code, error.message, error.details);
}

/** Tells whether a failed request may succeed if sent again, to this node later or to another node. */
export function isRetryable(error: unknown): boolean {
  return error instanceof RaftboxError && retryableCodes.has(error.code);
}

/** Wraps anything thrown below the client (a host bug, a socket exception) as a RaftboxError. */
export function asRaftboxError(error: unknown): RaftboxError {
  if (error instanceof RaftboxError) return error;
  const message = error instanceof Error ? error.message : String(error);
  return raftboxError('internal', `the client failed unexpectedly: ${message}`);
}
