// Which nodes hold blocks and which of them are down, as the Raft log says. The failure
// detector proposes `down` and `up`; an operator's join and remove-node propose `join`,
// `leave` and `forget`. Every replica applies them in log order, so every node derives
// the same live set, the same placement ring and the same epoch from it.

import type { NodeId } from '../../../protocol/raft-messages.ts';

/** A node that joined through the log: where peers and clients reach it, and whether it wants a vote. */
export interface JoinedNode {
  url: string;
  voter: boolean;
}

type RingRow = { members: NodeId[]; down: NodeId[]; epoch: number; leaving?: NodeId[]; joined?: [NodeId, JoinedNode][]; drained?: [NodeId, number][] };

/** How many removed nodes' drain counts are remembered, so a repeated remove-node can still be answered. */
const removedRemembered = 16;

/**
 * The ring members, the down set, the members leaving (drained: no longer placed on, still
 * a source of copies), the addresses of joined nodes, and the epoch, bumped by every
 * change of the nodes blocks are placed on.
 */
export class RingState {
  private members: NodeId[];
  private down = new Set<NodeId>();
  private leaving = new Set<NodeId>();
  private joined = new Map<NodeId, JoinedNode>();
  // Blocks each leaving node held when its leave applied, kept a while after it is forgotten:
  // the operator's report, the same whichever leader finishes the removal.
  private drained = new Map<NodeId, number>();
  epoch = 0;

  constructor(members: readonly NodeId[]) {
    this.members = [...new Set(members)].sort();
  }

  /** Every member, down and leaving ones included. */
  get all(): readonly NodeId[] {
    return this.members;
  }

  /** Members blocks are placed on: neither down nor leaving, sorted. */
  live(): NodeId[] {
    return this.members.filter((node) => !this.down.has(node) && !this.leaving.has(node));
  }

  isDown(node: NodeId): boolean {
    return this.down.has(node);
  }

  isLeaving(node: NodeId): boolean {
    return this.leaving.has(node);
  }

  isMember(node: NodeId): boolean {
    return this.members.includes(node);
  }

  /** The blocks `node` held when it began to leave; null if it is not leaving and was not removed lately. */
  drainedBlocks(node: NodeId): number | null {
    return this.drained.get(node) ?? null;
  }

  /** Where a node that joined through the log listens; null for the initial members. */
  joinedNode(node: NodeId): JoinedNode | null {
    return this.joined.get(node) ?? null;
  }

  /** Applies a down or up; returns whether the live set changed (and so the epoch moved). */
  apply(node: NodeId, change: 'down' | 'up'): boolean {
    if (!this.isMember(node)) return false;
    if (change === 'down' === this.down.has(node)) return false;
    if (change === 'down') this.down.add(node);
    else this.down.delete(node);
    this.epoch++;
    return true;
  }

  /** Adds a node (or updates its address); a leaving node that joins again stays. Returns whether the live set changed. */
  join(node: NodeId, address: JoinedNode): boolean {
    this.joined.set(node, { ...address });
    const wasLive = this.live().includes(node);
    if (!this.isMember(node)) this.members = [...this.members, node].sort();
    this.leaving.delete(node);
    this.drained.delete(node);
    return this.bumpIf(!wasLive);
  }

  /** Stops placing blocks on a member, which holds `heldBlocks`; its copies stay readable until it is forgotten. */
  leave(node: NodeId, heldBlocks: number): boolean {
    if (!this.isMember(node) || this.leaving.has(node)) return false;
    const wasLive = this.live().includes(node);
    this.leaving.add(node);
    this.drained.set(node, heldBlocks);
    return this.bumpIf(wasLive);
  }

  /** Removes a member altogether, address included. */
  forget(node: NodeId): boolean {
    if (!this.isMember(node)) return false;
    this.members = this.members.filter((member) => member !== node);
    this.down.delete(node);
    this.leaving.delete(node);
    this.joined.delete(node);
    // Re-inserted, so the map's order is the order of removal and the oldest goes first past the bound.
    const drained = this.drained.get(node) ?? 0;
    this.drained.delete(node);
    this.drained.set(node, drained);
    const forgotten = [...this.drained.keys()].filter((id) => !this.isMember(id));
    for (const id of forgotten.slice(0, Math.max(0, forgotten.length - removedRemembered))) this.drained.delete(id);
    return this.bumpIf(true);
  }

  private bumpIf(changed: boolean): boolean {
    if (changed) this.epoch++;
    return changed;
  }

  toJSON(): RingRow {
    return { members: this.members, down: [...this.down].sort(), epoch: this.epoch, leaving: [...this.leaving].sort(), joined: [...this.joined], drained: [...this.drained] };
  }

  /** Restores from a snapshot; an older snapshot without ring state keeps the configured members. */
  static fromJSON(row: RingRow | undefined, fallbackMembers: readonly NodeId[]): RingState {
    const ring = new RingState(row?.members ?? fallbackMembers);
    for (const node of row?.down ?? []) ring.down.add(node);
    for (const node of row?.leaving ?? []) ring.leaving.add(node);
    for (const [node, address] of row?.joined ?? []) ring.joined.set(node, address);
    for (const [node, count] of row?.drained ?? []) ring.drained.set(node, count);
    ring.epoch = row?.epoch ?? 0;
    return ring;
  }
}
