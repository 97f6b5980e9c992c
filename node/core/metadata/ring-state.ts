// Which nodes hold blocks and which of them are down, as the Raft log says. The failure
// detector proposes `down` and `up`; every replica applies them in log order, so every
// node derives the same live set, the same placement ring and the same epoch from it.

import type { NodeId } from '../../../protocol/raft-messages.ts';

type RingRow = { members: NodeId[]; down: NodeId[]; epoch: number };

/** The ring members, the down set and the epoch (bumped by every change of the live set). */
export class RingState {
  private members: NodeId[];
  private down = new Set<NodeId>();
  epoch = 0;

  constructor(members: readonly NodeId[]) {
    this.members = [...new Set(members)].sort();
  }

  get all(): readonly NodeId[] {
    return this.members;
  }

  /** Members not declared down, sorted. */
  live(): NodeId[] {
    return this.members.filter((node) => !this.down.has(node));
  }

  isDown(node: NodeId): boolean {
    return this.down.has(node);
  }

  isMember(node: NodeId): boolean {
    return this.members.includes(node);
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

  toJSON(): RingRow {
    return { members: this.members, down: [...this.down].sort(), epoch: this.epoch };
  }

  /** Restores from a snapshot; an older snapshot without ring state keeps the configured members. */
  static fromJSON(row: RingRow | undefined, fallbackMembers: readonly NodeId[]): RingState {
    const ring = new RingState(row?.members ?? fallbackMembers);
    for (const node of row?.down ?? []) ring.down.add(node);
    ring.epoch = row?.epoch ?? 0;
    return ring;
  }
}
