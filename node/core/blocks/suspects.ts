import type { NodeId } from '../../../protocol/raft-messages.ts';

/**
 * Nodes that recently failed to answer a block actor in time. While suspected, a node is
 * passed over when choosing where copies go (sloppy placement), so one silent node costs
 * one timeout, not one per put. Suspicion expires on its own, or ends as soon as the node
 * answers anything. Only cluster nodes are ever suspected, so the map is bounded by them.
 */
export class Suspects {
  private readonly untilMs = new Map<NodeId, number>();

  constructor(private readonly suspectMs: number) {}

  suspect(node: NodeId, nowMs: number): void {
    this.untilMs.set(node, nowMs + this.suspectMs);
  }

  clear(node: NodeId): void {
    this.untilMs.delete(node);
  }

  isSuspected(node: NodeId, nowMs: number): boolean {
    const until = this.untilMs.get(node);
    if (until === undefined) return false;
    if (nowMs < until) return true;
    this.untilMs.delete(node);
    return false;
  }
}
