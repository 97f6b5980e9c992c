// One hashing worker of the pool: FastCDC and hash-wasm SHA-256 in a single pass over a
// range of a File, read as a stream, so a file of any size passes through a few
// MiB at a time. The pool (hash-pool.ts) drives it through comlink.

import { expose } from 'comlink';
import { createSHA256, type IHasher } from 'hash-wasm';
import { ChunkBoundaries } from '../../protocol/fastcdc.ts';
import { readPieces } from './blob-pieces.ts';

// A hasher holds one hash in progress, and a range is hashed across awaits (each piece as
// it is read) while the pool may run another task in this worker: each task takes its own
// hasher from these and gives it back.
const idleHashers: IHasher[] = [];

async function withHasher<T>(use: (sha: IHasher) => Promise<T> | T): Promise<T> {
  const sha = idleHashers.pop() ?? (await createSHA256());
  try {
    return await use(sha);
  } finally {
    idleHashers.push(sha);
  }
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
  chunkRange(file: Blob, start: number, end: number, final: boolean, stops: number[] = []): Promise<RangeChunks> {
    return withHasher((sha) => chunkRangeWith(sha, file, start, end, final, stops));
  },

  /** Lowercase hex SHA-256 of `bytes`. */
  sha256(bytes: Uint8Array): Promise<string> {
    return withHasher((sha) => {
      sha.init();
      sha.update(bytes);
      return sha.digest('hex');
    });
  },
};

/** `chunkRange` with a hasher of its own. */
async function chunkRangeWith(sha: IHasher, file: Blob, start: number, end: number, final: boolean, stops: number[]): Promise<RangeChunks> {
  const stopSet = new Set(stops);
  const boundaries = new ChunkBoundaries();
  const result: RangeChunks = { ends: [], hashes: [], merged: false };
  // Each piece is hashed as it comes, up to each boundary in it, so no byte is copied.
  const endChunk = (at: number): boolean => {
    result.ends.push(at);
    result.hashes.push(sha.digest('hex'));
    sha.init();
    result.merged = stopSet.has(at);
    return result.merged;
  };
  sha.init();
  let pieceStart = start;
  for await (const piece of readPieces(file, start, end)) {
    let from = 0;
    for (const cut of boundaries.push(piece)) {
      sha.update(piece.subarray(from, cut));
      from = cut;
      if (endChunk(pieceStart + cut)) return result;
    }
    if (from < piece.length) sha.update(piece.subarray(from));
    pieceStart += piece.length;
  }
  if (pieceStart !== end) throw new Error(`read ${pieceStart - start} bytes of a ${end - start}-byte range; the file changed while it was hashed`);
  if (boundaries.finish() && final) endChunk(end);
  return result;
}

export type HashWorkerApi = typeof hashWorkerApi;

expose(hashWorkerApi);
