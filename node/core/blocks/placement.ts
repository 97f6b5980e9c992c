// Where a block's copies belong right now: the placement ring over the live nodes, as
// the log declares them, rebuilt whenever the ring epoch moves. Down nodes stay at the
// end of every preference list, so they are tried only when no live node will do. A
// member being drained (leaving) is placed on no more, but still serves its copies.

import type { NodeId } from '../../../protocol/raft-messages.ts';
import { PlacementRing } from '../../../protocol/ring.ts';
import type { BlockHash } from '../../../protocol/wire.ts';
import type { BlockDirectory } from './block-directory.ts';

/**
 * The live ring, cached per epoch. Without a directory (a block actor tested alone)
 * every configured node counts as live.
 */
export class Placement {
  private epoch = -1;
  private ring: PlacementRing;
  private down: NodeId[] = [];
  /** Members that are up, leaving ones included: the nodes a copy may be read from. */
  private up: Set<NodeId>;

  constructor(
    private readonly nodes: readonly NodeId[],
    private readonly virtualNodes: number,
    private readonly replication: number,
    private readonly directory: BlockDirectory | null,
  ) {
    this.ring = new PlacementRing([...nodes], virtualNodes);
    this.up = new Set(nodes);
  }

  /** The ring epoch the placement was computed at; -1 before the directory applied any. */
  get ringEpoch(): number {
    this.current();
    return this.directory === null ? 0 : this.epoch;
  }

  /** Copies a block should have now: the replication factor, capped at the live nodes. */
  get wanted(): number {
    return Math.max(1, Math.min(this.replication, this.current().nodes.length));
  }

  /** Live nodes in ring order from the block's point, then down ones. */
  preference(hash: BlockHash): NodeId[] {
    const ring = this.current();
    return [...ring.preference(hash), ...this.down];
  }

  /** The `wanted` live nodes a block's copies belong on. */
  targets(hash: BlockHash): NodeId[] {
    return this.current().owners(hash, this.wanted);
  }

  /** True for a member that is not down: its copies may be read, leaving members included. */
  isLive(node: NodeId): boolean {
    this.current();
    return this.up.has(node);
  }

  private current(): PlacementRing {
    if (this.directory === null || this.directory.ringEpoch === this.epoch) return this.ring;
    this.epoch = this.directory.ringEpoch;
    const live = this.directory.liveNodes();
    // A directory that has not applied its first entries yet knows no members: keep the configured ring.
    const members = live.length > 0 ? live : [...this.nodes];
    this.ring = new PlacementRing(members, this.virtualNodes);
    this.down = this.directory.ringMembers().filter((node) => this.directory!.isDown(node));
    const all = this.directory.ringMembers();
    this.up = new Set(all.length > 0 ? all.filter((node) => !this.directory!.isDown(node)) : this.nodes);
    return this.ring;
  }
}
