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
  /** Files one step looks at: a pass over millions goes a slice at a time, so the node's other work goes on in between. */
  sliceBlocks: number;
}

/** A sweep under way: the files it has yet to look at, and the unowned ones it saw so far. */
interface Pass {
  hashes: Iterator<BlockHash>;
  seen: Map<BlockHash, number>;
}

/**
 * See the file comment. `begin` starts a pass over every file the store holds; each `step`
 * looks at the next `sliceBlocks` of them, deleting the ones unowned for the grace period.
 */
export class OrphanSweeper {
  /** When each unowned file was first seen, as of the last finished pass. */
  private firstSeenMs = new Map<BlockHash, number>();
  private pass: Pass | null = null;
  /** Files deleted since start, for metrics. */
  deleted = 0;

  constructor(
    private readonly options: OrphanSweeperOptions,
    private readonly directory: BlockDirectory,
    private readonly store: BlockStore,
    /** True while the block is being written, copied or released here. */
    private readonly busy: (hash: BlockHash) => boolean,
  ) {}

  get sweeping(): boolean {
    return this.pass !== null;
  }

  /** Starts a pass, unless one is under way. Files written after this are left to the next pass. */
  begin(): void {
    this.pass ??= { hashes: this.store.list()[Symbol.iterator](), seen: new Map() };
  }

  /** Looks at the next slice of the pass; returns how many files it deleted. */
  step(nowMs: number): number {
    const pass = this.pass;
    if (pass === null) return 0;
    // A directory that has not applied this node's membership yet (a node still catching up) decides nothing.
    if (!this.directory.ringMembers().includes(this.options.node)) {
      this.pass = null;
      return 0;
    }
    let deleted = 0;
    for (let looked = 0; looked < this.options.sliceBlocks; looked++) {
      const next = pass.hashes.next();
      if (next.done === true) {
        this.firstSeenMs = pass.seen;
        this.pass = null;
        break;
      }
      const hash = next.value;
      // The file may have gone since the pass began (GC, surplus, compaction): nothing to do then.
      if (!this.store.has(hash) || this.directory.block(hash)?.owners.includes(this.options.node) || this.busy(hash)) continue;
      const since = this.firstSeenMs.get(hash) ?? nowMs;
      if (nowMs - since >= this.options.orphanGraceMs) {
        if (this.store.remove(hash)) deleted++;
        continue;
      }
      if (pass.seen.size < this.options.orphansTrackedMax) pass.seen.set(hash, since);
    }
    this.deleted += deleted;
    return deleted;
  }
}
