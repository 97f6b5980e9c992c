// A cache of blocks fetched from the cluster, in IndexedDB, so a file downloaded once
// previews, downloads and restores again without the network. It has a size cap and
// evicts the least recently used blocks past it. The total is kept in `meta` so adding a
// block never needs a scan of the store.

import type { RaftboxDb } from './schema.ts';

/** The cache's default size cap. */
export const blockCacheBytesMaxDefault = 256 * 1024 * 1024;
/** Blocks evicted per transaction while shrinking, so one eviction pass stays short. */
const evictionBatchMax = 64;
const totalKey = 'blockCacheBytes';

export class BlockCache {
  /** `now` is a clock in ms; LRU order is by it. */
  constructor(
    private readonly db: RaftboxDb,
    readonly bytesMax: number = blockCacheBytesMaxDefault,
    private readonly now: () => number = Date.now,
  ) {
    if (!(bytesMax > 0)) throw new RangeError(`the block cache needs a positive size cap, not ${bytesMax}`);
  }

  /** The cached bytes of `hash`, marking it as just used; null when not cached. */
  async get(hash: string): Promise<Uint8Array | null> {
    const tx = this.db.transaction('blocks', 'readwrite');
    const block = await tx.store.get(hash);
    if (block !== undefined) await tx.store.put({ ...block, usedAtMs: this.now() });
    await tx.done;
    return block?.data ?? null;
  }

  /** Caches a block (its name is trusted: callers check hashes first), then evicts past the cap. */
  async put(hash: string, data: Uint8Array): Promise<void> {
    if (data.length > this.bytesMax) return;
    const tx = this.db.transaction(['blocks', 'meta'], 'readwrite');
    const blocks = tx.objectStore('blocks');
    const meta = tx.objectStore('meta');
    const existing = await blocks.get(hash);
    const total = Number((await meta.get(totalKey)) ?? 0);
    await blocks.put({ hash, data, usedAtMs: this.now() });
    if (existing === undefined) await meta.put(total + data.length, totalKey);
    await tx.done;
    await this.evict();
  }

  /** Bytes held now. */
  async bytes(): Promise<number> {
    return Number((await this.db.get('meta', totalKey)) ?? 0);
  }

  /** Removes least recently used blocks until the total is under the cap. */
  async evict(): Promise<void> {
    for (;;) {
      const tx = this.db.transaction(['blocks', 'meta'], 'readwrite');
      const meta = tx.objectStore('meta');
      let total = Number((await meta.get(totalKey)) ?? 0);
      if (total <= this.bytesMax) return tx.done;
      let cursor = await tx.objectStore('blocks').index('usedAtMs').openCursor();
      for (let removed = 0; cursor !== null && total > this.bytesMax && removed < evictionBatchMax; removed++) {
        total -= cursor.value.data.length;
        await cursor.delete();
        cursor = await cursor.continue();
      }
      await meta.put(Math.max(0, total), totalKey);
      await tx.done;
      if (cursor === null) return;
    }
  }
}
