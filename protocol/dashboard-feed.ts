// Data types of the live cluster dashboard: what each node reports at `/stats`, and what
// the `raftbox cluster` supervisor pushes to the dashboard page as Server-Sent Events.
// Data only, shared by the node, the supervisor and the page.

import type { NodeId } from './raft-messages.ts';

/** Peer-link faults a node applies to its own outgoing traffic, set only when it runs with `--chaos`. */
export interface ChaosSettings {
  /** Peers this node sends nothing to. */
  cut: NodeId[];
  /** Extra one-way delay of everything this node sends to a peer, in ms. */
  delayMs: Record<NodeId, number>;
}

/** One node's figures at one instant, from its `/stats` endpoint. */
export interface NodeStats {
  id: NodeId;
  role: 'leader' | 'follower' | 'candidate' | 'learner';
  term: number;
  leader: NodeId | null;
  commitIndex: number;
  appliedIndex: number;
  lastIndex: number;
  /** Entries held in the log after the snapshot. */
  logEntries: number;
  snapshotIndex: number;
  /** Block copies held on this node's disk, and their bytes. */
  blocks: number;
  bytes: number;
  /** Distinct blocks the metadata knows, and how many have fewer live copies than the replication factor. */
  registeredBlocks: number;
  underReplicated: number;
  /** The fraction (0–1) of the placement ring whose blocks this node holds as first replica. */
  ringShare: number;
  /** Nodes the log holds down. */
  downNodes: NodeId[];
  ringEpoch: number;
  sessions: number;
  /** Milliseconds since this node last heard from a leader (0 on the leader), or null if it never has. */
  leaderContactAgeMs: number | null;
  /** Peer messages since start: sent, received, and dropped by chaos faults. */
  messagesSent: number;
  messagesReceived: number;
  messagesDropped: number;
  repair: { copiedBlocks: number; copiedBytes: number; failedBlocks: number; queuedBlocks: number };
  scrub: { checked: number; corrupt: number; repaired: number };
  /** Null when the node was started without `--chaos`. */
  chaos: ChaosSettings | null;
  uptimeMs: number;
}

/** A node as the dashboard shows it: its process state, its last figures, and rates computed between polls. */
export interface DashboardNode {
  id: NodeId;
  url: string;
  httpUrl: string;
  process: 'running' | 'stopped' | 'starting';
  pid: number | null;
  /** Null while the node does not answer. */
  stats: NodeStats | null;
  /** Milliseconds since the node last answered a poll, or null if it never has. */
  lastSeenAgeMs: number | null;
  sentPerSecond: number;
  receivedPerSecond: number;
}

export type TimelineKind = 'election' | 'leader' | 'down' | 'up' | 'repair' | 'chaos' | 'replication';

/** One line of the event timeline. */
export interface TimelineEvent {
  /** Milliseconds since the epoch, as the supervisor saw it. */
  atMs: number;
  kind: TimelineKind;
  node: NodeId | null;
  text: string;
}

/** The whole dashboard state, pushed on every change. */
export interface DashboardState {
  leader: NodeId | null;
  term: number;
  replication: number;
  underReplicated: number;
  registeredBlocks: number;
  nodes: DashboardNode[];
  /** Newest last. */
  timeline: TimelineEvent[];
  chaosEnabled: boolean;
}

/** What the page may ask the supervisor to do, as a POST to `/api/chaos`. */
export type ChaosCommand =
  | { action: 'crash'; node: NodeId }
  | { action: 'restart'; node: NodeId }
  | { action: 'isolate'; node: NodeId }
  | { action: 'slow'; from: NodeId; to: NodeId; delayMs: number }
  | { action: 'heal' };
