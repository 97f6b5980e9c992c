// Stable error codes that cross the wire. A code is part of the protocol: clients branch
// on it, so a code is never renamed or reused for another meaning; new codes are added.
// The message beside it is for people and may change freely.

/** Every error code a node or client may send, with when it is used. */
export const errorCodes = [
  /** The bytes of a frame are not valid msgpack (truncated, garbled, trailing bytes). */
  'bad_frame',
  /** A frame is larger than `frameBytesMax`; it is refused before it is decoded. */
  'frame_too_large',
  /** A frame decoded but does not match the message schema (a field is missing or wrong). */
  'bad_message',
  /** The peer speaks a protocol version this build does not implement. */
  'unsupported_version',
  /** This node is not the Raft leader; `details.leader` names the leader if known. */
  'not_leader',
  /** The operation did not complete in time; it may or may not have taken effect. */
  'timeout',
  /** A queue or mailbox is at its limit; retry later with backoff. */
  'overloaded',
  /** A compare-and-set named a version that is not current; `details.current` is the record. */
  'conflict',
  /** The path, version, block or node asked for does not exist. */
  'not_found',
  /** A path breaks the path rules (absolute, `..`, empty segment, too long). */
  'bad_path',
  /**
   * A path would be a file and a folder at once: a file inside something that is a file
   * (`details.file`), or a file where a folder holds records. Refused whole, like `conflict`.
   */
  'path_conflict',
  /** Bytes do not hash to the name they were sent or stored under. */
  'hash_mismatch',
  /** A file version that was asked for is not retained (never existed or collected). */
  'unknown_version',
  /** The node's storage has no room for the write. */
  'disk_full',
  /** Not enough nodes are reachable to serve the request (no quorum, no replica). */
  'unavailable',
  /** The request carries no valid credentials for what it asks. */
  'unauthorized',
  /** A bug: an assertion failed on the server. The message says what was expected. */
  'internal',
] as const;

export type ErrorCode = (typeof errorCodes)[number];

/** Optional structured context of an error, sent on the wire beside the code. */
export type ErrorDetails = Readonly<Record<string, unknown>>;

/**
 * An error with a stable `code` from `errorCodes`, a message a person can act on, and
 * optional `details` (the leader hint of `not_leader`, the current record of `conflict`).
 * Code that must react to an error checks `code`, never the message text.
 */
export class RaftboxError extends Error {
  readonly code: ErrorCode;
  readonly details: ErrorDetails | undefined;

  constructor(code: ErrorCode, message: string, details?: ErrorDetails) {
    super(message);
    this.name = 'RaftboxError';
    this.code = code;
    this.details = details;
  }
}

/**
 * Builds a `RaftboxError`. The message should be one sentence that names the offending
 * value and what would be accepted instead, for example
 * `raftboxError('bad_path', "path must be relative: '/etc/passwd'")`.
 */
export function raftboxError(code: ErrorCode, message: string, details?: ErrorDetails): RaftboxError {
  return new RaftboxError(code, message, details);
}

/** Tells whether `value` is a `RaftboxError`, optionally with the given code. */
export function isRaftboxError(value: unknown, code?: ErrorCode): value is RaftboxError {
  return value instanceof RaftboxError && (code === undefined || value.code === code);
}

/** Tells whether `value` is one of the known error codes, for checking codes read off the wire. */
export function isErrorCode(value: unknown): value is ErrorCode {
  return typeof value === 'string' && (errorCodes as readonly string[]).includes(value);
}
