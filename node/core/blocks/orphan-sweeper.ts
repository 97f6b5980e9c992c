// Orphans: block copies on this node's disk that the registry does not list this node as
// an owner of. They arise when a copy lands just after a GC pass forgot its block (the
// drop spares recent writes), or when a node crashed between releasing a surplus copy
// and deleting it. A periodic sweep notes when it first saw each one unowned, and deletes
// it once it has stayed unowned for the grace period: an upload that has not registered
// yet is never that old.

import type { NodeId } from '../../../protocol/raft-messages.ts';
import type { BlockHash } from '../../../protocol/wire.ts';
import type { BlockDirectory } from './block-directory.ts';
import type { BlockStore } from './block-store.ts';

export interface OrphanSweeperOptions {
  node: NodeId;
  /** How long a file must stay unowned before it is deleted. */
  orphanGraceMs: number;
  /** Unowned files remembered at once; beyond it, the rest wait for a later sweep. */
  orphansTrackedMax: number;
}

/** See the file comment. `sweep` runs one pass and returns how many files it deleted. */
export class OrphanSweeper {
  private firstSeenMs = new Map<BlockHash, number>();
  /** Files deleted since start, for metrics. */
  deleted = 0;

  constructor(
    private readonly options: OrphanSweeperOptions,
    private readonly directory: BlockDirectory,
    private readonly store: BlockStore,
    /** True while the block is being written, copied or released here. */
    private readonly busy: (hash: BlockHash) => boolean,
  ) {}

  sweep(nowMs: number): number {
    // A directory that has not applied this node's membership yet (a node still catching up) decides nothing.
    if (!this.directory.ringMembers().includes(this.options.node)) return 0;
    const seen = new Map<BlockHash, number>();
    let deleted = 0;
    for (const hash of this.store.list()) {
      if (this.directory.block(hash)?.owners.includes(this.options.node) || this.busy(hash)) continue;
      const since = this.firstSeenMs.get(hash) ?? nowMs;
      if (nowMs - since >= this.options.orphanGraceMs) {
        if (this.store.remove(hash)) deleted++;
        continue;
      }
      if (seen.size < this.options.orphansTrackedMax) seen.set(hash, since);
    }
    this.firstSeenMs = seen;
    this.deleted += deleted;
    return deleted;
  }
}
