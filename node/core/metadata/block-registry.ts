// Which blocks the cluster stores, how big each is and which nodes hold it. A commit may
// name only registered blocks, so a file version never points at bytes nobody has.

import type { BlockHash } from '../../../protocol/wire.ts';
import type { NodeId } from '../../../protocol/raft-messages.ts';
import type { RegisteredBlock } from './commands.ts';

export interface BlockRecord {
  size: number;
  owners: NodeId[];
}

type RegistryRow = [hash: BlockHash, size: number, owners: NodeId[]];

/** The replicated block registry: hash → size and owners. */
export class BlockRegistry {
  private blocks = new Map<BlockHash, BlockRecord>();

  get size(): number {
    return this.blocks.size;
  }

  get(hash: BlockHash): BlockRecord | undefined {
    return this.blocks.get(hash);
  }

  /** Add blocks, or add owners to blocks already known (a union, first owners first). */
  register(blocks: readonly RegisteredBlock[]): void {
    for (const block of blocks) {
      const known = this.blocks.get(block.hash);
      if (!known) {
        this.blocks.set(block.hash, { size: block.size, owners: [...block.owners] });
        continue;
      }
      for (const owner of block.owners) if (!known.owners.includes(owner)) known.owners.push(owner);
    }
  }

  /** The hashes of `hashes` not registered, once each, in the order given. */
  missing(hashes: readonly BlockHash[]): BlockHash[] {
    return [...new Set(hashes)].filter((hash) => !this.blocks.has(hash));
  }

  /** How many blocks, and how many have fewer owners than `min(replication, clusterSize)`. */
  counts(replication: number, clusterSize: number): { blocks: number; underReplicated: number } {
    const wanted = Math.min(replication, clusterSize);
    let underReplicated = 0;
    for (const block of this.blocks.values()) if (block.owners.length < wanted) underReplicated++;
    return { blocks: this.blocks.size, underReplicated };
  }

  toJSON(): RegistryRow[] {
    return [...this.blocks].map(([hash, block]) => [hash, block.size, block.owners]);
  }

  static fromJSON(rows: RegistryRow[]): BlockRegistry {
    const registry = new BlockRegistry();
    for (const [hash, size, owners] of rows) registry.blocks.set(hash, { size, owners });
    return registry;
  }
}
