// Named maxima of the wire protocol and the on-disk log. Each is a hard limit: exceeding
// it is an error with a clear code, never a silent truncation. Units go last in names.

const kibibyte = 1024;
const mebibyte = 1024 * kibibyte;

/** Largest frame (one encoded message) a node or client accepts; larger ones are refused before decoding. */
export const frameBytesMax = 5 * mebibyte;

/**
 * Largest total of entry bytes a leader should put into one AppendRequest. It leaves
 * headroom under `frameBytesMax` for the message envelope and per-entry overhead.
 */
export const appendBatchBytesMax = 4 * mebibyte;

/** Most entries in one AppendRequest; bounds the work one message can cause a follower. */
export const entriesPerAppendMax = 1024;

/** Largest `data` of one log entry (one command). A block list larger than this must be split. */
export const entryBytesMax = 1 * mebibyte;

/** Longest node id, in UTF-8 bytes. */
export const nodeIdBytesMax = 64;

/** Most voters plus learners in a cluster configuration. */
export const clusterNodesMax = 64;

/**
 * Largest snapshot of the metadata state machine. An InstallSnapshot message larger than
 * `frameBytesMax` crosses the wire as 1 MiB fragments that the receiving node reassembles
 * and checks (node/host/peer-fragments.ts), so this, not the frame size, bounds it.
 */
export const snapshotBytesMax = 256 * mebibyte;

/**
 * Largest payload of one record in an append-only log file. A length field above it can
 * only come from corruption, so recovery treats it as such instead of reading on.
 */
export const recordBytesMax = frameBytesMax + 1 * mebibyte;
