// Which blocks the cluster stores, how big each is and which nodes hold it. A commit may
// name only registered blocks, so a file version never points at bytes nobody has.

import type { BlockHash } from '../../../protocol/wire.ts';
import type { NodeId } from '../../../protocol/raft-messages.ts';
import type { RegisteredBlock } from './commands.ts';

export interface BlockRecord {
  size: number;
  owners: NodeId[];
  /** When the block was last registered (the proposing leader's clock); GC spares it for a grace period from here. */
  touchedMs: number;
}

export type RegistryRow = [hash: BlockHash, size: number, owners: NodeId[], touchedMs?: number];

/** The replicated block registry: hash → size, owners and last registration time. */
export class BlockRegistry {
  private blocks = new Map<BlockHash, BlockRecord>();

  get size(): number {
    return this.blocks.size;
  }

  get(hash: BlockHash): BlockRecord | undefined {
    return this.blocks.get(hash);
  }

  /** Add blocks, or add owners to blocks already known (a union, first owners first); either way the block is touched at `atMs`. */
  register(blocks: readonly RegisteredBlock[], atMs = 0): void {
    for (const block of blocks) {
      const known = this.blocks.get(block.hash);
      if (!known) {
        this.blocks.set(block.hash, { size: block.size, owners: [...block.owners], touchedMs: atMs });
        continue;
      }
      known.touchedMs = Math.max(known.touchedMs, atMs);
      for (const owner of block.owners) if (!known.owners.includes(owner)) known.owners.push(owner);
    }
  }

  /** Removes `owner` from a block's owners unless it is the last one; returns whether it was removed. */
  release(hash: BlockHash, owner: NodeId): boolean {
    const known = this.blocks.get(hash);
    if (!known || known.owners.length <= 1 || !known.owners.includes(owner)) return false;
    known.owners = known.owners.filter((node) => node !== owner);
    return true;
  }

  /** Forget a block altogether (garbage collection). */
  delete(hash: BlockHash): BlockRecord | undefined {
    const known = this.blocks.get(hash);
    this.blocks.delete(hash);
    return known;
  }

  /** The hashes of `hashes` not registered, once each, in the order given. */
  missing(hashes: readonly BlockHash[]): BlockHash[] {
    return [...new Set(hashes)].filter((hash) => !this.blocks.has(hash));
  }

  /** How many blocks, and how many have fewer live owners than `wanted`. */
  counts(wanted: number, isLive: (node: NodeId) => boolean): { blocks: number; underReplicated: number } {
    let underReplicated = 0;
    for (const block of this.blocks.values()) if (liveCount(block.owners, isLive) < wanted) underReplicated++;
    return { blocks: this.blocks.size, underReplicated };
  }

  entries(): IterableIterator<[BlockHash, BlockRecord]> {
    return this.blocks.entries();
  }

  toJSON(): RegistryRow[] {
    // Owners are copied: applying adds to a block's list in place, and a snapshot being encoded must not see that.
    return [...this.blocks].map(([hash, block]) => [hash, block.size, [...block.owners], block.touchedMs]);
  }

  /** Adds one row of `toJSON`'s output; a snapshot being restored calls it row by row. */
  restoreRow([hash, size, owners, touchedMs]: RegistryRow): void {
    this.blocks.set(hash, { size, owners, touchedMs: touchedMs ?? 0 });
  }
}

function liveCount(owners: readonly NodeId[], isLive: (node: NodeId) => boolean): number {
  let count = 0;
  for (const owner of owners) if (isLive(owner)) count++;
  return count;
}
