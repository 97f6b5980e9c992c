// `npm run bench -- hash`: how fast a host turns bytes into blocks, in Node, on a 256 MiB
// random buffer: FastCDC cut points alone, native SHA-256 alone (the baseline), FastCDC +
// SHA-256 of every chunk on one thread (whole buffer, and streamed through a Chunker in
// 1 MiB slices), and the same on a worker_threads pool of os.availableParallelism() workers
// in two ways: one file chunked on this thread while the workers hash its chunks, and
// several files chunked and hashed in parallel, one file per worker at a time. The data sits
// in a SharedArrayBuffer, so workers read it without copies. Each line is the median of 5
// timed runs after one warm-up run. Goal: FastCDC + SHA-256 ≥ 600 MB/s (MB = 10^6 bytes),
// judged on the single-thread line, which every host gets whatever its core count.

import { startTsxWorker } from '../sim/cli/pool.ts';
import { createHash, randomFillSync } from 'node:crypto';
import { availableParallelism, loadavg } from 'node:os';
import { performance } from 'node:perf_hooks';
import { Worker, isMainThread, parentPort, workerData } from 'node:worker_threads';
import { Chunker, cutPoints } from '../protocol/fastcdc.ts';
import { median, printTable, round } from './table.ts';

const bufferBytes = 256 * 2 ** 20;
const timedRuns = 5;
const streamSliceBytes = 2 ** 20;
/** Slices the main thread feeds its Chunker while the pool hashes (larger = fewer copies). */
const pipelineSliceBytes = 16 * 2 ** 20;
/** The buffer is cut into this many equal files for the files-in-parallel line. */
const parallelFiles = 16;
const goalMegabytesPerSecond = 600;

/** The Node figures, each the median MB/s of the timed runs. */
export interface NodeHashFigures {
  /** `cutPoints` over the whole buffer, no hashing. */
  cutPointsMbPerSecond: number;
  /** One `createHash('sha256')` over the whole buffer: the native baseline. */
  sha256MbPerSecond: number;
  /** `cutPoints`, then SHA-256 of each chunk, one thread. */
  fastcdcSha256MbPerSecond: number;
  /** A `Chunker` fed 1 MiB slices, hashing each chunk as it comes, one thread. */
  streamingFastcdcSha256MbPerSecond: number;
  /** One file: chunked on the main thread (Chunker, 16 MiB slices), chunks hashed on the pool. */
  poolHashChunksMbPerSecond: number;
  /** 16 files of 16 MiB: each worker chunks and hashes whole files. */
  poolParallelFilesMbPerSecond: number;
  workers: number;
  chunks: number;
}

/** What `npm run bench -- hash --json` prints as its last line. */
export interface HashBenchmark {
  benchmark: 'hash';
  bytes: number;
  runs: number;
  /** The 1-minute load average before and after: other busy processes make every figure lower. */
  loadAverage: { before: number; after: number };
  node: NodeHashFigures;
  /**
   * BROWSER PART: figures measured in Chromium (FastCDC + hash-wasm SHA-256 on the web
   * client's Web Worker pool), filled in by bench/main.ts from bench/hash-browser.ts.
   */
  browser?: Record<string, number>;
  target: { mbPerSecondMin: number; met: boolean; measuredMbPerSecond: number; measuredBy: 'node.fastcdcSha256MbPerSecond' };
}

/** Worker → parent: the digests of a `hash` job, or the chunk count of a `file` job. */
interface JobReply {
  id: number;
  digests: Uint8Array[];
}

/** Parent → worker: hash data[offset, offset+length) as one chunk, or chunk and hash it as a file. */
interface Job {
  id: number;
  kind: 'hash' | 'file';
  offset: number;
  length: number;
}

const workerRole = 'raftbox-hash-bench-worker';

function sha256(bytes: Uint8Array): Uint8Array {
  return createHash('sha256').update(bytes).digest();
}

/** Megabytes per second of `bytes` over the median of `runs` timings of `work` (after a warm-up). */
async function medianRate(bytes: number, runs: number, work: () => unknown): Promise<number> {
  await work();
  const seconds: number[] = [];
  for (let run = 0; run < runs; run++) {
    const started = performance.now();
    await work();
    seconds.push((performance.now() - started) / 1000);
  }
  return round(bytes / 1e6 / median(seconds), 1);
}

function chunkAndHash(data: Uint8Array): Uint8Array[] {
  const digests: Uint8Array[] = [];
  let start = 0;
  for (const cut of cutPoints(data)) {
    digests.push(sha256(data.subarray(start, cut)));
    start = cut;
  }
  return digests;
}

function streamAndHash(data: Uint8Array, sliceBytes: number): Uint8Array[] {
  const chunker = new Chunker();
  const digests: Uint8Array[] = [];
  for (let offset = 0; offset < data.length; offset += sliceBytes) {
    for (const chunk of chunker.push(data.subarray(offset, offset + sliceBytes))) digests.push(sha256(chunk));
  }
  for (const chunk of chunker.finish()) digests.push(sha256(chunk));
  return digests;
}

/** A fixed set of workers over one shared buffer; each job goes to the least busy worker. */
class HashPool {
  readonly #workers: { worker: Worker; busy: number }[];
  readonly #waiting = new Map<number, (digests: Uint8Array[]) => void>();
  #nextId = 0;

  private constructor(workers: Worker[]) {
    this.#workers = workers.map((worker) => ({ worker, busy: 0 }));
    for (const slot of this.#workers) {
      slot.worker.on('message', (reply: JobReply) => {
        slot.busy--;
        const resolve = this.#waiting.get(reply.id);
        this.#waiting.delete(reply.id);
        resolve?.(reply.digests);
      });
    }
  }

  static async start(count: number, shared: SharedArrayBuffer): Promise<HashPool> {
    const workers = Array.from({ length: count }, () => startWorker(shared));
    // Each worker posts one empty reply once its modules are loaded.
    await Promise.all(workers.map((worker) => new Promise((resolve, reject) => {
      worker.once('message', resolve);
      worker.once('error', reject);
    })));
    return new HashPool(workers);
  }

  get size(): number {
    return this.#workers.length;
  }

  run(kind: Job['kind'], offset: number, length: number): Promise<Uint8Array[]> {
    const slot = this.#workers.reduce((best, next) => (next.busy < best.busy ? next : best));
    const job: Job = { id: this.#nextId++, kind, offset, length };
    slot.busy++;
    return new Promise((resolve) => {
      this.#waiting.set(job.id, resolve);
      slot.worker.postMessage(job);
    });
  }

  async close(): Promise<void> {
    await Promise.all(this.#workers.map((slot) => slot.worker.terminate()));
  }
}

/**
 * Starts a worker running this file. A worker's entry is loaded before any `--import` hook
 * applies, so (as in sim/cli/pool.ts) a JavaScript bootstrap registers tsx first.
 */
function startWorker(shared: SharedArrayBuffer): Worker {
  return startTsxWorker(import.meta.url, { role: workerRole, shared });
}

function serveJobs(shared: SharedArrayBuffer): void {
  const data = new Uint8Array(shared);
  const port = parentPort!;
  port.on('message', (job: Job) => {
    const bytes = data.subarray(job.offset, job.offset + job.length);
    const digests = job.kind === 'hash' ? [sha256(bytes)] : chunkAndHash(bytes);
    port.postMessage({ id: job.id, digests: digests.map((digest) => new Uint8Array(digest)) } satisfies JobReply);
  });
  port.postMessage({ id: -1, digests: [] } satisfies JobReply);
}

/** Chunks `data` on this thread with a Chunker and sends each chunk's range to the pool to hash. */
async function pipelineOnPool(pool: HashPool, data: Uint8Array): Promise<Uint8Array[]> {
  const chunker = new Chunker();
  const pending: Promise<Uint8Array[]>[] = [];
  let chunkStart = 0;
  const dispatch = (chunks: Uint8Array[]): void => {
    // Chunks come out in order, so their offsets are running sums of their lengths; the
    // workers read the same bytes from the shared buffer (a chunk that spanned slices was
    // copied by the Chunker, but its bytes are equal).
    for (const chunk of chunks) {
      pending.push(pool.run('hash', chunkStart, chunk.length));
      chunkStart += chunk.length;
    }
  };
  for (let offset = 0; offset < data.length; offset += pipelineSliceBytes) dispatch(chunker.push(data.subarray(offset, offset + pipelineSliceBytes)));
  dispatch(chunker.finish());
  return (await Promise.all(pending)).flat();
}

async function parallelFilesOnPool(pool: HashPool, data: Uint8Array): Promise<Uint8Array[]> {
  const fileBytes = Math.ceil(data.length / parallelFiles);
  const files: Promise<Uint8Array[]>[] = [];
  for (let offset = 0; offset < data.length; offset += fileBytes) files.push(pool.run('file', offset, Math.min(fileBytes, data.length - offset)));
  return (await Promise.all(files)).flat();
}

function sameDigests(a: Uint8Array[], b: Uint8Array[]): boolean {
  return a.length === b.length && a.every((digest, i) => Buffer.compare(digest, b[i]!) === 0);
}

/** Runs every Node line of the benchmark and judges the goal. */
export async function benchHash(options: { bytes?: number; runs?: number } = {}): Promise<HashBenchmark> {
  const loadBefore = round(loadavg()[0]!, 2);
  const bytes = options.bytes ?? bufferBytes;
  const runs = options.runs ?? timedRuns;
  const shared = new SharedArrayBuffer(bytes);
  const data = new Uint8Array(shared);
  for (let offset = 0; offset < bytes; offset += 1 << 20) randomFillSync(data, offset, Math.min(1 << 20, bytes - offset));

  // The lines must agree before they are timed, or the timing measures the wrong work.
  const expected = chunkAndHash(data);
  if (!sameDigests(streamAndHash(data, streamSliceBytes), expected)) throw new Error('streaming FastCDC produced different chunks than cutPoints');

  const cutPointsRate = await medianRate(bytes, runs, () => cutPoints(data));
  const sha256Rate = await medianRate(bytes, runs, () => sha256(data));
  const singleRate = await medianRate(bytes, runs, () => chunkAndHash(data));
  const streamingRate = await medianRate(bytes, runs, () => streamAndHash(data, streamSliceBytes));

  const pool = await HashPool.start(availableParallelism(), shared);
  let pipelineRate = 0;
  let filesRate = 0;
  try {
    if (!sameDigests(await pipelineOnPool(pool, data), expected)) throw new Error('the worker pool hashed different chunks than one thread');
    pipelineRate = await medianRate(bytes, runs, () => pipelineOnPool(pool, data));
    filesRate = await medianRate(bytes, runs, () => parallelFilesOnPool(pool, data));
  } finally {
    await pool.close();
  }
  return {
    benchmark: 'hash',
    bytes,
    runs,
    loadAverage: { before: loadBefore, after: round(loadavg()[0]!, 2) },
    node: {
      cutPointsMbPerSecond: cutPointsRate,
      sha256MbPerSecond: sha256Rate,
      fastcdcSha256MbPerSecond: singleRate,
      streamingFastcdcSha256MbPerSecond: streamingRate,
      poolHashChunksMbPerSecond: pipelineRate,
      poolParallelFilesMbPerSecond: filesRate,
      workers: pool.size,
      chunks: expected.length,
    },
    // browser: filled in by bench/main.ts (the Chromium worker-pool part).
    target: { mbPerSecondMin: goalMegabytesPerSecond, met: singleRate >= goalMegabytesPerSecond, measuredMbPerSecond: singleRate, measuredBy: 'node.fastcdcSha256MbPerSecond' },
  };
}

export function printHash(report: HashBenchmark): void {
  const n = report.node;
  process.stdout.write(`hash: ${report.bytes / 2 ** 20} MiB of random bytes, ${n.chunks} FastCDC chunks, median of ${report.runs} runs, MB = 10^6 bytes\n`);
  process.stdout.write(`load average ${report.loadAverage.before} before, ${report.loadAverage.after} after, on ${availableParallelism()} CPUs\n\n`);
  printTable(['line', 'threads', 'MB/s'], [
    ['FastCDC cutPoints alone', 1, n.cutPointsMbPerSecond],
    ['SHA-256 alone (node:crypto, baseline)', 1, n.sha256MbPerSecond],
    ['FastCDC + SHA-256 per chunk', 1, n.fastcdcSha256MbPerSecond],
    ['FastCDC streamed in 1 MiB slices + SHA-256', 1, n.streamingFastcdcSha256MbPerSecond],
    [`one file: chunked here, chunks hashed on ${n.workers} workers`, n.workers + 1, n.poolHashChunksMbPerSecond],
    [`${parallelFiles} files in parallel, chunked + hashed on ${n.workers} workers`, n.workers, n.poolParallelFilesMbPerSecond],
  ]);
  // The browser figures mix MB/s, ratios and counts, so the column is just "value".
  if (report.browser) printTable(['browser', 'value'], Object.entries(report.browser).map(([line, value]) => [line, value]));
  const t = report.target;
  process.stdout.write(`\ntarget: FastCDC + SHA-256 ≥ ${t.mbPerSecondMin} MB/s on one thread (${t.measuredMbPerSecond} MB/s): ${t.met ? 'met' : 'not met'}\n`);
}

if (!isMainThread && (workerData as { role?: string } | null)?.role === workerRole) {
  serveJobs((workerData as { shared: SharedArrayBuffer }).shared);
}
