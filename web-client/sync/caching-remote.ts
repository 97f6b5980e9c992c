// The cluster as the sync engine sees it, with the block cache in front of reads: a
// block fetched once (for a download, a preview or a restore) is served from IndexedDB
// the next time, and so is available offline.

import type { SyncRemote } from '../../protocol/sync-engine.ts';
import type { BlockHash, BlockRef, BlockUpload, FileChange, FileInfo } from '../../protocol/wire.ts';
import type { BlockCache } from '../store/block-cache.ts';

/** Blocks larger than this are not cached, so one huge download does not flush the cache. */
export const cachedBlockBytesMax = 4 * 1024 * 1024;

export class CachingRemote implements SyncRemote {
  constructor(
    private readonly remote: SyncRemote,
    private readonly cache: BlockCache,
    private readonly sha256: (bytes: Uint8Array) => Promise<string>,
  ) {}

  list(prefix: string, options: { includeDeleted: boolean }): Promise<FileInfo[]> {
    return this.remote.list(prefix, options);
  }

  missingBlocks(hashes: BlockHash[]): Promise<Set<BlockHash>> {
    return this.remote.missingBlocks(hashes);
  }

  putBlocks(blocks: BlockUpload[]): Promise<void> {
    return this.remote.putBlocks(blocks);
  }

  /** A block from the cache when it holds it with the right hash, else from the cluster (then cached). */
  async getBlock(ref: BlockRef): Promise<Uint8Array> {
    const cached = await this.cache.get(ref.hash);
    if (cached !== null && cached.length === ref.size && (await this.sha256(cached)) === ref.hash) return cached;
    const data = await this.remote.getBlock(ref);
    if (data.length <= cachedBlockBytesMax && data.length <= this.cache.bytesMax / 4) await this.cache.put(ref.hash, data);
    return data;
  }

  commit(changes: FileChange[]): Promise<FileInfo[]> {
    return this.remote.commit(changes);
  }
}
