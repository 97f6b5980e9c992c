// Binary codec of the Raft wire messages (raft-messages.ts): msgpack frames, checked
// against valibot schemas because a peer's bytes are untrusted (a bug, a version skew or
// a corrupted packet must not reach the state machine as a malformed value).
//
// Unknown fields are dropped rather than refused, so a newer node may add optional fields
// during a rolling upgrade without older nodes rejecting its messages.

import * as v from 'valibot';
import { decodeWith, encodeFrame } from './frame.ts';
import { binary, count, flag, text, variant } from './schema-helpers.ts';
import { clusterNodesMax, entriesPerAppendMax, entryBytesMax, nodeIdBytesMax, snapshotBytesMax } from './limits.ts';
import type { RaftMessage } from './raft-messages.ts';

export { decodeFrame, decodeWith, encodeFrame } from './frame.ts';

const nodeId = text(nodeIdBytesMax);
const nodeIds = v.pipe(
  v.array(nodeId, 'must be an array of node ids'),
  v.maxLength(clusterNodesMax, `must list at most ${clusterNodesMax} nodes`),
);

const entry = v.object({
  term: count,
  index: count,
  type: v.picklist(['normal', 'config', 'noop'], 'must be one of normal, config, noop'),
  data: binary(entryBytesMax),
});

const base = { from: nodeId, to: nodeId, term: count };

const append = v.pipe(
  v.object({
    ...base,
    type: v.literal('append'),
    prevIndex: count,
    prevTerm: count,
    entries: v.pipe(
      v.array(entry, 'must be an array of entries'),
      v.maxLength(entriesPerAppendMax, `must hold at most ${entriesPerAppendMax} entries`),
    ),
    commit: count,
  }),
  // Every correct leader sends a contiguous run of its log; anything else would corrupt a
  // follower's log, so it is refused here rather than trusted by the state machine.
  v.forward(
    v.check(
      (m) => m.entries.every((e, i) => e.index === m.prevIndex + 1 + i),
      'must have consecutive indexes starting at prevIndex + 1',
    ),
    ['entries'],
  ),
  v.forward(
    v.check(
      (m) => m.entries.every((e, i) => e.term <= m.term && e.term >= (i === 0 ? m.prevTerm : m.entries[i - 1]!.term)),
      'must have terms that never decrease, from prevTerm up to the message term',
    ),
    ['entries'],
  ),
);

const snapshot = v.object({
  index: count,
  term: count,
  config: v.object({ voters: nodeIds, learners: nodeIds }),
  data: binary(snapshotBytesMax),
});

export const raftMessageSchema = variant(
  'type',
  [
    v.object({ ...base, type: v.literal('vote'), preVote: flag, lastIndex: count, lastTerm: count, transfer: flag }),
    v.object({ ...base, type: v.literal('voteResponse'), preVote: flag, granted: flag }),
    append,
    v.object({
      ...base,
      type: v.literal('appendResponse'),
      reject: flag,
      index: count,
      hintIndex: count,
      hintTerm: count,
    }),
    v.object({ ...base, type: v.literal('heartbeat'), commit: count, readRound: count }),
    v.object({ ...base, type: v.literal('heartbeatResponse'), readRound: count }),
    v.object({ ...base, type: v.literal('snapshot'), snapshot }),
    v.object({ ...base, type: v.literal('timeoutNow') }),
  ],
  'must be one of vote, voteResponse, append, appendResponse, heartbeat, heartbeatResponse, snapshot, timeoutNow',
);

// Compile-time proof that the schema and the wire types describe the same values: if a
// field is added to raft-messages.ts and not here (or the reverse), this stops compiling.
type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;
const schemaMatchesTypes: Same<v.InferOutput<typeof raftMessageSchema>, RaftMessage> = true;
void schemaMatchesTypes;

/**
 * Encodes a Raft message as one msgpack frame. Throws `frame_too_large` if it exceeds
 * `frameBytesMax`; a leader keeps appends under `appendBatchBytesMax` so that never
 * happens for them.
 */
export function encodeRaftMessage(message: RaftMessage): Uint8Array {
  return encodeFrame(message);
}

/**
 * Decodes and checks a Raft message from untrusted bytes. Returns a fresh plain object
 * (its byte arrays are copies, not views into `bytes`). Throws `RaftboxError` only:
 * `frame_too_large` (checked before decoding), `bad_frame` (not msgpack), or
 * `bad_message` naming the first offending field.
 */
export function decodeRaftMessage(bytes: Uint8Array): RaftMessage {
  return decodeWith(raftMessageSchema, bytes, 'Raft message');
}
