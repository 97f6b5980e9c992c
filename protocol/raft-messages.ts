// Wire types of the Raft protocol between nodes. Data only: the state machine that
// produces and consumes them lives in node/core/raft/, the codec that checks untrusted
// bytes against them lives in protocol/codec.ts.

export type NodeId = string;

/** What an entry carries. `noop` is appended by each new leader to commit earlier terms. */
export type EntryType = 'normal' | 'config' | 'noop';

export interface Entry {
  term: number;
  index: number;
  type: EntryType;
  /** Opaque command for `normal`, an encoded ConfigChange for `config`, empty for `noop`. */
  data: Uint8Array;
}

/** Voters and learners of the cluster, as of some log index. */
export interface ClusterConfig {
  voters: NodeId[];
  learners: NodeId[];
}

export type ConfigChangeType = 'addVoter' | 'addLearner' | 'promote' | 'remove';

export interface ConfigChange {
  type: ConfigChangeType;
  node: NodeId;
}

/** The durable part of a node's state: it must reach stable storage before any reply that depends on it. */
export interface HardState {
  term: number;
  vote: NodeId | null;
  commit: number;
}

/** A snapshot of the applied state machine at `index`, with the configuration in force there. */
export interface Snapshot {
  index: number;
  term: number;
  config: ClusterConfig;
  data: Uint8Array;
}

interface Base {
  from: NodeId;
  to: NodeId;
  term: number;
}

/** RequestVote, or its PreVote probe, which changes no state on the receiver. */
export interface VoteRequest extends Base {
  type: 'vote';
  preVote: boolean;
  lastIndex: number;
  lastTerm: number;
  /** Set when the candidate campaigns because the leader asked it to (leader transfer). */
  transfer: boolean;
}

export interface VoteResponse extends Base {
  type: 'voteResponse';
  preVote: boolean;
  granted: boolean;
}

export interface AppendRequest extends Base {
  type: 'append';
  prevIndex: number;
  prevTerm: number;
  entries: Entry[];
  commit: number;
}

export interface AppendResponse extends Base {
  type: 'appendResponse';
  reject: boolean;
  /** On success the highest index now known to match; on rejection the prevIndex that was refused. */
  index: number;
  /** On rejection, the follower's hint for fast backtracking: an index to retry at and its term. */
  hintIndex: number;
  hintTerm: number;
}

export interface HeartbeatRequest extends Base {
  type: 'heartbeat';
  commit: number;
  /** ReadIndex round the heartbeat confirms, or 0. */
  readRound: number;
}

export interface HeartbeatResponse extends Base {
  type: 'heartbeatResponse';
  readRound: number;
}

export interface InstallSnapshot extends Base {
  type: 'snapshot';
  snapshot: Snapshot;
}

/** The leader tells a caught-up transferee to campaign at once. */
export interface TimeoutNow extends Base {
  type: 'timeoutNow';
}

export type RaftMessage =
  | VoteRequest
  | VoteResponse
  | AppendRequest
  | AppendResponse
  | HeartbeatRequest
  | HeartbeatResponse
  | InstallSnapshot
  | TimeoutNow;

export type RaftMessageType = RaftMessage['type'];
