// What a block actor may read of the replicated metadata: the block registry and the
// ring's live nodes. The metadata state machine of the same node provides it (it changes
// only when the log applies, one message at a time, so a read never sees half an entry).
// Reading it directly rather than by message keeps repair scans cheap and current.

import type { NodeId } from '../../../protocol/raft-messages.ts';
import type { BlockHash } from '../../../protocol/wire.ts';

export interface BlockDirectory {
  /** Bumped whenever the registry or the live set changes. */
  readonly blocksVersion: number;
  /** Bumped by every down or up the log applied. */
  readonly ringEpoch: number;
  /** Ring members not declared down, sorted. */
  liveNodes(): NodeId[];
  /** Every ring member, down ones included. */
  ringMembers(): readonly NodeId[];
  isDown(node: NodeId): boolean;
  block(hash: BlockHash): { size: number; owners: NodeId[] } | null;
  /**
   * The blocks whose owners changed after registry version `version` (a past
   * `blocksVersion`), or null when that is not known and every block must be looked at:
   * after a ring change, a snapshot install, or once the record forgot that version.
   */
  ownersChangedSince(version: number): readonly BlockHash[] | null;
  blocks(): Iterable<[BlockHash, { readonly size: number; readonly owners: readonly NodeId[] }]>;
}
