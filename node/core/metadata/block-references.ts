// Which registered blocks the retained file versions name, kept as versions are written
// and trimmed, so garbage collection looks only at the blocks nothing names instead of
// walking every version of every file (seconds, on every node at once, for millions).

import type { BlockHash, FileInfo } from '../../../protocol/wire.ts';

/** Reference counts of blocks by retained versions, and the registered blocks with none: GC's candidates. */
export class BlockReferences {
  /** How many times the retained versions name each block; a block none names is absent. */
  private readonly counts = new Map<BlockHash, number>();
  /** Registered blocks no retained version names. */
  private readonly unnamed = new Set<BlockHash>();

  constructor(private readonly isRegistered: (hash: BlockHash) => boolean) {}

  /** A version is retained: each block it names gains a reference. */
  add(file: FileInfo): void {
    for (const { hash } of file.blocks) {
      const count = this.counts.get(hash) ?? 0;
      if (count === 0) this.unnamed.delete(hash);
      this.counts.set(hash, count + 1);
    }
  }

  /** A version was trimmed from history: each block it names loses a reference. */
  remove(file: FileInfo): void {
    for (const { hash } of file.blocks) {
      const count = (this.counts.get(hash) ?? 0) - 1;
      if (count > 0) {
        this.counts.set(hash, count);
        continue;
      }
      this.counts.delete(hash);
      if (this.isRegistered(hash)) this.unnamed.add(hash);
    }
  }

  /** A block joined the registry. */
  registered(hash: BlockHash): void {
    if (!this.counts.has(hash)) this.unnamed.add(hash);
  }

  /** A block left the registry (garbage collection). */
  forgotten(hash: BlockHash): void {
    this.unnamed.delete(hash);
  }

  /** The registered blocks no retained version names. */
  unreferenced(): IterableIterator<BlockHash> {
    return this.unnamed.values();
  }
}
