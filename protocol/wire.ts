// Wire types of the client protocol and of the non-Raft traffic between nodes. Data only;
// the schemas that check untrusted frames against these types live in wire-schema.ts.
//
// One WebSocket carries binary msgpack frames. The side that connects speaks first with
// `hello`; the node answers `welcome` or an `error` frame and closes. After that a client
// sends `request` frames and receives `response` and `push` frames; a peer sends
// `PeerEnvelope` frames, each naming the actor address it is for.

import type { NodeId, RaftMessage } from './raft-messages.ts';
import type { ErrorCode } from './errors.ts';

/** The protocol version this build speaks; a hello with any other is refused with `unsupported_version`. */
export const protocolVersion = 1;

/** The namespace a request uses when it names none. */
export const defaultNamespace = 'default';

/** Lowercase hex SHA-256 of a block's bytes (64 characters). */
export type BlockHash = string;

export interface BlockRef {
  hash: BlockHash;
  size: number;
}

/** device id → counter; a version dominates another when it is ≥ in every device. */
export type VectorClock = Record<string, number>;

/** One version of one file, as stored in the metadata state machine and returned to clients. */
export interface FileInfo {
  path: string;
  /** 1 for a new file; every change, a delete included, adds 1. */
  version: number;
  size: number;
  /** Milliseconds since the epoch, as the author's device reported it. */
  mtime: number;
  mode: number;
  /** A tombstone: the file was deleted at this version. */
  deleted: boolean;
  /** The device that wrote this version. */
  device: string;
  clock: VectorClock;
  blocks: BlockRef[];
  /** The commit index of the log entry that wrote this version. */
  index: number;
}

/** One file's change inside a commit. */
export interface FileChange {
  path: string;
  /** Compare-and-set: the version this change is based on; 0 means "the path must not exist or be deleted". Absent: unconditional. */
  ifVersion?: number;
  deleted: boolean;
  blocks: BlockRef[];
  size: number;
  mtime: number;
  mode: number;
  /** The clock the writer saw; the new version's clock is its merge with the current one, plus one for `device`. */
  clock?: VectorClock;
}

export interface NodeAddress {
  id: NodeId;
  /** ws:// URL clients and peers connect to. */
  url: string;
}

export type NodeRole = 'leader' | 'follower' | 'candidate' | 'learner' | 'down';

export interface NodeStatus {
  id: NodeId;
  url: string;
  role: NodeRole;
  term: number;
  commitIndex: number;
  appliedIndex: number;
  blocks: number;
  bytes: number;
}

/** What `raftbox status --json` prints and `client.status()` returns. */
export interface ClusterStatus {
  leader: NodeId | null;
  term: number;
  nodes: NodeStatus[];
  /** `epoch` counts the ring changes (nodes declared down or up) the log has applied. */
  replication: { factor: number; blocks: number; underReplicated: number; epoch?: number };
}

/** The cluster map a client needs to route blocks and fail over. */
export interface ClusterMap {
  clusterId: string;
  nodes: NodeAddress[];
  leader: NodeId | null;
  replication: number;
  /** Virtual nodes per node on the placement ring. */
  virtualNodes: number;
}

// ------------------------------------------------------------------ requests

/**
 * Every operation a client (or a node acting for one) may ask of a node. Metadata
 * operations go to any node (followers forward them to the leader); block operations go
 * to the block's owners. Writes carry the client session (`client`, `seq`), so a retry
 * after a failover is applied once.
 */
export type Request =
  | { op: 'stat'; namespace?: string; path: string; version?: number }
  /** One page of a listing, in path order: paths after `after`, at most `limit` (and a frame's worth); `more` says another page follows. */
  | { op: 'list'; namespace?: string; prefix: string; includeDeleted?: boolean; after?: string; limit?: number }
  | { op: 'history'; namespace?: string; path: string }
  | { op: 'changes'; namespace?: string; cursor: number; limit?: number }
  | { op: 'commit'; namespace?: string; client: string; seq: number; device: string; changes: FileChange[] }
  | { op: 'watch'; namespace?: string; cursor?: number }
  | { op: 'unwatch' }
  | { op: 'status' }
  | { op: 'cluster' }
  | { op: 'node.info' }
  | { op: 'blocks.has'; hashes: BlockHash[] }
  | { op: 'blocks.put'; hash: BlockHash; data: Uint8Array }
  /** Several small blocks in one request, each stored as `blocks.put` would; each gets its own outcome. */
  | { op: 'blocks.put-many'; blocks: BlockUpload[] }
  | { op: 'blocks.get'; hash: BlockHash }
  | { op: 'blocks.register'; client: string; seq: number; blocks: (BlockRef & { owners: NodeId[] })[] }
  /** Re-hash one node's blocks now and repair what is corrupt or missing; any node forwards it to `node`'s block actor. */
  | { op: 'admin.scrub'; node: NodeId }
  /** Run a garbage-collection pass now, at the leader. */
  | { op: 'admin.gc' }
  /** A node's block actor gives up copies the current owners confirmed they hold: these owners leave these blocks. */
  | { op: 'blocks.release'; client: string; seq: number; blocks: (BlockRef & { owners: NodeId[] })[] }
  /** A new node asks to join: it is added to the placement ring and as a Raft learner, then promoted to voter unless `voter` is false. */
  | { op: 'node.join'; node: NodeId; url: string; voter: boolean }
  /** Drain a node's blocks to their new owners, then take it out of the ring and the Raft configuration. */
  | { op: 'admin.remove-node'; node: NodeId };

export type RequestOp = Request['op'];

/** The result each operation answers with. */
export interface Results {
  stat: FileInfo | null;
  list: { files: FileInfo[]; more?: boolean };
  history: { versions: FileInfo[] };
  /** `reset` means the feed no longer holds `cursor`: list everything, then continue from `cursor`. */
  changes: { changes: FileInfo[]; cursor: number; reset: boolean };
  commit: { files: FileInfo[] };
  watch: { cursor: number };
  unwatch: Record<string, never>;
  status: ClusterStatus;
  cluster: ClusterMap;
  'node.info': NodeStatus;
  'blocks.has': { missing: BlockHash[] };
  'blocks.put': { replicas: number };
  /** One outcome per block, in request order. A failed block is retried alone (`blocks.put`) or reported. */
  'blocks.put-many': { outcomes: PutOutcome[] };
  'blocks.get': { data: Uint8Array };
  'blocks.register': { registered: number };
  'admin.scrub': ScrubReport;
  'admin.gc': GcReport;
  'blocks.release': { released: number };
  /** `initialMembers`: the ring the cluster started with, which a joining node's state machine must start from too. */
  'node.join': { clusterId: string; initialMembers: NodeId[] };
  'admin.remove-node': RemoveNodeReport;
}

/** What `raftbox admin remove-node` did: the blocks the node held when its drain began. */
export interface RemoveNodeReport {
  node: NodeId;
  drainedBlocks: number;
}

/** What one scrub pass found: blocks re-hashed, copies found corrupt or missing, and copies repaired from a good owner. */
export interface ScrubReport {
  checked: number;
  corrupt: number;
  repaired: number;
  missing: number;
}

/** What one garbage-collection pass deleted: distinct blocks, and the bytes of all their copies. */
export interface GcReport {
  deletedBlocks: number;
  freedBytes: number;
}

export interface WireError {
  code: ErrorCode;
  message: string;
  details?: Record<string, unknown>;
}

// ------------------------------------------------------------------ client frames

export interface HelloFrame {
  type: 'hello';
  protocol: number;
  role: 'client' | 'peer';
  /** Required of peers; a client may leave it out and learn it from `welcome`. */
  clusterId?: string;
  /** Peers: the connecting node and the node it believes it reached. */
  from?: NodeId;
  to?: NodeId;
  /** Bearer token; a node on loopback serves the local user without one. */
  token?: string;
  /** A client's device id, recorded as the author of its writes. */
  device?: string;
}

export interface WelcomeFrame {
  type: 'welcome';
  protocol: number;
  clusterId: string;
  node: NodeId;
  map: ClusterMap;
}

export type RequestFrame = { type: 'request'; id: number } & Request;

export type ResponseFrame =
  | { type: 'response'; id: number; ok: true; result: unknown }
  | { type: 'response'; id: number; ok: false; error: WireError };

/** Pushed to a watching session after each applied commit that changed files. */
export interface PushFrame {
  type: 'push';
  cursor: number;
  changes: FileInfo[];
}

/** Sent before a node closes a connection, or in answer to a frame that has no request id. */
export interface ErrorFrame {
  type: 'error';
  error: WireError;
}

export type ClientToNode = HelloFrame | RequestFrame;
export type NodeToClient = WelcomeFrame | ResponseFrame | PushFrame | ErrorFrame;

// ------------------------------------------------------------------ inside the cluster

/**
 * Actor addresses are global: `n1` is node n1's Raft + metadata actor, `n1/blocks` its
 * block actor, `n1/client/7` the 7th client session connected to n1. A reply is sent to
 * the `from` of a request, wherever that is, so a leader answers a forwarded request
 * straight to the session that asked.
 */
export type Address = string;

/** A request on its way to an actor: from a client session, a peer, or another actor. */
export interface RequestMessage {
  type: 'request';
  from: Address;
  id: number;
  request: Request;
  /** Hops taken by forwarding; a request is never forwarded twice. */
  hops: number;
}

export type ResponseMessage =
  | { type: 'response'; id: number; ok: true; result: unknown }
  | { type: 'response'; id: number; ok: false; error: WireError };

export interface PushMessage {
  type: 'push';
  cursor: number;
  changes: FileInfo[];
}

/** A block's bytes and their name, as uploaded or copied. */
export interface BlockUpload {
  hash: BlockHash;
  data: Uint8Array;
}

/** How storing one block of a batch went: the copies made, or why it failed. */
export type PutOutcome = { replicas: number } | { error: WireError };

/** A replica's answer for one block of a `block.replicate`: stored durably, or why not. */
export interface ReplicaOutcome {
  ok: boolean;
  error?: WireError;
}

/**
 * Block replication between block actors: the node coordinating a put copies blocks to
 * the other owners, several per message when they are small, and each gets an outcome.
 */
export type BlockPeerMessage =
  | { type: 'block.replicate'; from: Address; id: number; blocks: BlockUpload[] }
  | { type: 'block.replicated'; from: Address; id: number; outcomes: ReplicaOutcome[] }
  | { type: 'block.fetch'; from: Address; id: number; hash: BlockHash }
  | { type: 'block.fetched'; from: Address; id: number; data: Uint8Array | null }
  /** Does the receiver hold a verified copy and count itself an owner at ring `epoch`? Asked before a surplus copy is dropped. */
  | { type: 'block.confirm'; from: Address; id: number; hash: BlockHash; epoch: number }
  | { type: 'block.confirmed'; from: Address; id: number; ok: boolean };

/** Sent by a node's block actor to its own metadata actor whenever its counts change. Local only, never on the wire. */
export interface BlockStatsMessage {
  type: 'blocks.stats';
  blocks: number;
  bytes: number;
}

/** Sent by the host to the metadata actor when a client session closes, so its watches end. Local only. */
export interface SessionClosedMessage {
  type: 'session.closed';
  address: Address;
}

/**
 * Delivered by the host's storage instead of a completion message when a write or sync
 * failed; the bytes it covered are not durable. `code` is `disk_full` when the disk has no room.
 */
export interface StorageFailedMessage {
  type: 'storage.failed';
  done: unknown;
  code: 'disk_full' | 'internal';
  message: string;
}

/**
 * Sent by every node's metadata actor to the leader's every heartbeat interval. A node the
 * leader has not heard from for the down timeout is declared down through the Raft log.
 */
export interface NodeHeartbeatMessage {
  type: 'node.heartbeat';
  node: NodeId;
}

export type PeerMessage = RaftMessage | RequestMessage | ResponseMessage | PushMessage | BlockPeerMessage | NodeHeartbeatMessage;

/** One frame between nodes: a message for the actor at address `to`. */
export interface PeerEnvelope {
  to: Address;
  message: PeerMessage;
}
