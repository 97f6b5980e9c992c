// The leader's view of which nodes are alive, from the heartbeats every node sends it.
// It only proposes: a node is down or up once the Raft log says so, so a leader that
// loses its post never leaves two opinions about the ring behind.

import type { NodeId } from '../../../protocol/raft-messages.ts';

export interface NodeChange {
  node: NodeId;
  change: 'down' | 'up';
}

/**
 * Last-heard times of the ring members, kept only while this node leads. A new leader
 * gives every node a full timeout from the moment it took over, so a fresh leader never
 * declares a healthy node down for heartbeats that were sent to its predecessor.
 */
export class FailureDetector {
  private readonly lastSeenMs = new Map<NodeId, number>();
  private leaderSinceMs: number | null = null;

  constructor(private readonly downAfterMs: number) {}

  /** Call on every tick with whether this node leads now. */
  leading(isLeader: boolean, nowMs: number): void {
    if (!isLeader) {
      this.leaderSinceMs = null;
      this.lastSeenMs.clear();
      return;
    }
    if (this.leaderSinceMs === null) this.leaderSinceMs = nowMs;
  }

  /** A heartbeat from `node`; ignored unless this node leads and `node` is a member (which bounds the map). */
  heard(node: NodeId, nowMs: number, isMember: boolean): void {
    if (this.leaderSinceMs === null || !isMember) return;
    this.lastSeenMs.set(node, nowMs);
  }

  /** The downs and ups the log should record now, given the members and which of them it already holds down. */
  due(nowMs: number, members: readonly NodeId[], isDown: (node: NodeId) => boolean): NodeChange[] {
    if (this.leaderSinceMs === null) return [];
    const changes: NodeChange[] = [];
    for (const node of members) {
      const seenMs = this.lastSeenMs.get(node);
      const silentMs = nowMs - (seenMs ?? this.leaderSinceMs);
      if (!isDown(node) && silentMs > this.downAfterMs) changes.push({ node, change: 'down' });
      // Up only on a heartbeat heard while leading, never on the leader's own grace period.
      if (isDown(node) && seenMs !== undefined && silentMs <= this.downAfterMs) changes.push({ node, change: 'up' });
    }
    return changes;
  }
}
