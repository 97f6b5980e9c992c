import type { Entry, HardState, NodeId, RaftMessage, Snapshot } from '../../../protocol/raft-messages.ts';

export type Role = 'follower' | 'preCandidate' | 'candidate' | 'leader';

/** Volatile state worth reporting when it changes (logs, dashboard, clients' leader hints). */
export interface SoftState {
  role: Role;
  lead: NodeId | null;
  term: number;
}

/** A linearizable read the leader confirmed: serve it once the applied index reaches `index`. */
export interface ReadState {
  index: number;
  context: number;
}

/**
 * One batch of work out of the Raft state machine. The fields are listed in the order
 * the caller must carry them out; each step starts only after the one before it is done.
 * Then the caller calls `advance(ready)`.
 */
export interface Ready {
  /** 1. Saved to stable storage BEFORE entries: a snapshot received from the leader. */
  snapshot: Snapshot | null;
  /** 2. Saved to stable storage BEFORE any message is sent; the first entry may overwrite a conflicting suffix. */
  entries: Entry[];
  /** 3. Saved to stable storage together with the entries, BEFORE any message is sent; null when unchanged. */
  hardState: HardState | null;
  /** 4. Sent only AFTER the above are durable: votes and acknowledgements promise what is on disk. */
  messages: RaftMessage[];
  /** 5. Applied to the state machine AFTER persisting, in order (after restoring `snapshot`, if any). */
  committedEntries: Entry[];
  /** 6. Answered once the applied index reaches each read's index. */
  readStates: ReadState[];
  /** Changed role, leader or term, or null; informational. */
  softState: SoftState | null;
}

export function isEmptyReady(ready: Ready): boolean {
  return (
    ready.snapshot === null &&
    ready.entries.length === 0 &&
    ready.hardState === null &&
    ready.messages.length === 0 &&
    ready.committedEntries.length === 0 &&
    ready.readStates.length === 0 &&
    ready.softState === null
  );
}
