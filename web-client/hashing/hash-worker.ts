// One hashing worker of the pool: FastCDC and hash-wasm SHA-256 in a single pass over a
// range of a File, read in bounded slices, so a file of any size passes through a few
// MiB at a time. The pool (hash-pool.ts) drives it through comlink.

import { expose } from 'comlink';
import { createSHA256, type IHasher } from 'hash-wasm';
import { Chunker } from '../../protocol/fastcdc.ts';

/** Bytes read from a file at once. */
export const readSliceBytes = 4 * 1024 * 1024;

let hasherPromise: Promise<IHasher> | null = null;

function hasher(): Promise<IHasher> {
  hasherPromise ??= createSHA256();
  return hasherPromise;
}

/** Chunks found in a range: each one's end offset in the file and its SHA-256. */
export interface RangeChunks {
  ends: number[];
  hashes: string[];
  /** Whether the run stopped at one of the `stops` offsets. */
  merged: boolean;
}

/** What the worker offers; every method is called through comlink. */
export const hashWorkerApi = {
  /**
   * Cuts `file` from `start` (which must be a chunk boundary, or where a guess of one is
   * wanted) up to `end`, hashing each chunk as it is cut. With `final` (`end` is the
   * file's end) the last chunk is included; otherwise a chunk still open at `end` is left
   * out. Stops early, after the chunk that ends at any offset in `stops`, since from a
   * shared boundary on, two runs cut the same chunks.
   */
  async chunkRange(file: Blob, start: number, end: number, final: boolean, stops: number[] = []): Promise<RangeChunks> {
    const sha = await hasher();
    const stopSet = new Set(stops);
    const chunker = new Chunker();
    const result: RangeChunks = { ends: [], hashes: [], merged: false };
    let chunkStart = start;
    const take = (chunk: Uint8Array): boolean => {
      sha.init();
      sha.update(chunk);
      chunkStart += chunk.length;
      result.ends.push(chunkStart);
      result.hashes.push(sha.digest('hex'));
      result.merged = stopSet.has(chunkStart);
      return result.merged;
    };
    for (let offset = start; offset < end; offset += readSliceBytes) {
      const slice = new Uint8Array(await file.slice(offset, Math.min(end, offset + readSliceBytes)).arrayBuffer());
      for (const chunk of chunker.push(slice)) if (take(chunk)) return result;
    }
    if (final) for (const chunk of chunker.finish()) take(chunk);
    return result;
  },

  /** Lowercase hex SHA-256 of `bytes`. */
  async sha256(bytes: Uint8Array): Promise<string> {
    const sha = await hasher();
    sha.init();
    sha.update(bytes);
    return sha.digest('hex');
  },
};

export type HashWorkerApi = typeof hashWorkerApi;

expose(hashWorkerApi);
