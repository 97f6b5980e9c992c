// The pool of hashing workers. FastCDC is sequential by nature (where a chunk ends
// depends on where it began), so a large file is split into segments that the workers
// cut and hash in parallel, each guessing that a chunk begins at its segment's start.
// The guesses are then stitched in order: from the last true boundary before a segment,
// the true chunks are cut again until one ends where the segment's own run cut too;
// from that shared boundary on, both runs are the same, so the rest of the segment's
// chunks are kept. That re-cut is usually a chunk or two. On content where runs never
// meet (long runs of one byte value) it covers whole segments, which is still correct,
// just no faster than one worker. Only offsets and hashes travel between threads; each
// worker reads its own bytes from the File, so memory stays bounded by the work in
// flight, not by the file's size.

import { wrap, type Remote } from 'comlink';
import type { BlockRef } from '../../protocol/wire.ts';
import type { HashWorkerApi, RangeChunks } from './hash-worker.ts';

/** Workers at most, whatever hardwareConcurrency says. */
export const poolWorkersMax = 8;
/** Bytes per segment: the unit of work of one task. */
export const segmentBytes = 64 * 1024 * 1024;
/** Tasks in flight per worker (each holds at most a read slice and an open chunk). */
export const tasksPerWorkerMax = 2;
/** Segments of one file handed out before the stitching catches up. */
export const segmentsAheadMax = 16;

interface Member {
  worker: Worker;
  api: Remote<HashWorkerApi>;
  inFlight: number;
}

export interface HashFileOptions {
  /** Called with the bytes hashed so far. */
  onProgress?(bytesHashed: number): void;
  signal?: AbortSignal;
}

/** Thrown when a hash is cancelled through its AbortSignal. */
export class HashCancelledError extends Error {
  constructor() {
    super('Hashing was cancelled.');
    this.name = 'HashCancelledError';
  }
}

/** The pool size for this machine: one worker per core, between 1 and `poolWorkersMax`. */
export function defaultPoolSize(): number {
  const cores = typeof navigator === 'undefined' ? 1 : navigator.hardwareConcurrency || 1;
  return Math.max(1, Math.min(poolWorkersMax, cores));
}

function startWorker(): Worker {
  return new Worker(new URL('./hash-worker.ts', import.meta.url), { type: 'module', name: 'raftbox-hash' });
}

function checkCancelled(signal: AbortSignal | undefined): void {
  if (signal?.aborted) throw new HashCancelledError();
}

/** The file's chunks found so far, in order, and where the last one ends. */
class ChunkList {
  readonly ends: number[] = [];
  readonly hashes: string[] = [];
  get end(): number {
    return this.ends.at(-1) ?? 0;
  }
  /** Appends the chunks of `run` that end after `after`. */
  append(run: RangeChunks, after = -1): void {
    run.ends.forEach((end, index) => {
      if (end <= after) return;
      this.ends.push(end);
      this.hashes.push(run.hashes[index]!);
    });
  }
  blocks(): BlockRef[] {
    return this.ends.map((end, index) => ({ hash: this.hashes[index]!, size: end - (index === 0 ? 0 : this.ends[index - 1]!) }));
  }
}

/**
 * A bounded pool of hashing workers. `hashFile` cuts a File into content-defined blocks
 * and returns each block's SHA-256 and size, in order; several files may be hashed at
 * once and share the workers.
 */
export class HashPool {
  private readonly members: Member[];
  private readonly waiting: (() => void)[] = [];

  constructor(readonly size: number = defaultPoolSize(), makeWorker: () => Worker = startWorker) {
    if (!Number.isInteger(size) || size < 1 || size > poolWorkersMax) throw new RangeError(`a hash pool has 1 to ${poolWorkersMax} workers, not ${size}`);
    this.members = Array.from({ length: size }, () => {
      const worker = makeWorker();
      return { worker, api: wrap<HashWorkerApi>(worker), inFlight: 0 };
    });
  }

  /** The blocks of `file`, cut by FastCDC and hashed with SHA-256, in order. */
  async hashFile(file: Blob, options: HashFileOptions = {}): Promise<BlockRef[]> {
    const chunks = this.size === 1 || file.size <= segmentBytes ? await this.inOrder(file, options) : await this.inParallel(file, options);
    checkCancelled(options.signal);
    if (chunks.end !== file.size) throw new Error(`the blocks of a ${file.size}-byte file add up to ${chunks.end} bytes`);
    return chunks.blocks();
  }

  /** Lowercase hex SHA-256 of `bytes`, computed in a worker (the bytes are copied there). */
  sha256(bytes: Uint8Array): Promise<string> {
    return this.run((api) => api.sha256(bytes));
  }

  /** Stops every worker; hashes in progress never finish. */
  close(): void {
    for (const member of this.members) member.worker.terminate();
  }

  // One segment after another, each starting at the last boundary of the one before.
  private async inOrder(file: Blob, options: HashFileOptions): Promise<ChunkList> {
    const chunks = new ChunkList();
    while (chunks.end < file.size || file.size === 0) {
      checkCancelled(options.signal);
      const end = Math.min(file.size, chunks.end + segmentBytes);
      const start = chunks.end;
      chunks.append(await this.run((api) => api.chunkRange(file, start, end, end === file.size)));
      options.onProgress?.(chunks.end);
      if (end === file.size) break;
    }
    return chunks;
  }

  private async inParallel(file: Blob, options: HashFileOptions): Promise<ChunkList> {
    const count = Math.ceil(file.size / segmentBytes);
    const segments: Promise<RangeChunks>[] = [];
    const launch = (index: number): void => {
      const start = index * segmentBytes;
      const end = Math.min(file.size, start + segmentBytes);
      const task = this.run((api) => api.chunkRange(file, start, end, end === file.size));
      task.catch(() => undefined);
      segments.push(task);
    };
    for (let index = 0; index < Math.min(count, segmentsAheadMax); index++) launch(index);
    const chunks = new ChunkList();
    chunks.append(await segments[0]!);
    for (let index = 1; index < count; index++) {
      checkCancelled(options.signal);
      if (index + segmentsAheadMax - 1 < count) launch(index + segmentsAheadMax - 1);
      await this.stitch(file, chunks, await segments[index]!, index);
      options.onProgress?.(chunks.end);
    }
    return chunks;
  }

  // Re-cuts from the last true boundary until the true run meets the segment's own.
  private async stitch(file: Blob, chunks: ChunkList, guess: RangeChunks, index: number): Promise<void> {
    const segmentEnd = Math.min(file.size, (index + 1) * segmentBytes);
    const start = chunks.end;
    const final = segmentEnd === file.size;
    const truth = await this.run((api) => api.chunkRange(file, start, segmentEnd, final, guess.ends), true);
    chunks.append(truth);
    if (truth.merged) chunks.append(guess, chunks.end);
  }

  // Runs one task on the least busy worker, waiting while all have `tasksPerWorkerMax`.
  // An urgent task (a stitch, which every later segment waits for) may take one slot more
  // and is woken before the others, so stitching keeps up with the segments.
  private async run<T>(task: (api: Remote<HashWorkerApi>) => Promise<T>, urgent = false): Promise<T> {
    const limit = tasksPerWorkerMax + (urgent ? 1 : 0);
    let member = this.leastBusy();
    while (member.inFlight >= limit) {
      await new Promise<void>((resolve) => (urgent ? this.waiting.unshift(resolve) : this.waiting.push(resolve)));
      member = this.leastBusy();
    }
    member.inFlight++;
    try {
      return await task(member.api);
    } finally {
      member.inFlight--;
      // Every waiter checks again for itself, in order, so waking them all cannot lose a wake-up.
      for (const wake of this.waiting.splice(0)) wake();
    }
  }

  private leastBusy(): Member {
    return this.members.reduce((best, member) => (member.inFlight < best.inFlight ? member : best));
  }
}
