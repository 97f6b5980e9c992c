// FastCDC content-defined chunking (Xia et al., USENIX ATC 2016; IEEE TPDS 2020): a Gear
// rolling hash over the bytes after a minimum chunk size, a stricter mask before the average
// size and a looser one after it ("normalized chunking", level 2), and a hard maximum.
// Boundaries depend only on nearby content, so an edit moves at most the chunks around it
// and the rest of a file keeps its block hashes. Pure and isomorphic: Uint8Array only, so
// it runs the same in Node, browsers and Web Workers.

/** Smallest chunk (except a file's last): the first this many bytes of a chunk are not hashed. */
export const chunkBytesMin = 256 * 1024;
/** Target average chunk size; a power of two. */
export const chunkBytesAvg = 1024 * 1024;
/** Largest chunk, and so the largest block (ARCHITECTURE.md: a block is at most 4 MiB). */
export const chunkBytesMax = 4 * 1024 * 1024;

/** Other sizes, for tests with small inputs. `avgBytes` must be a power of two. */
export interface ChunkerOptions {
  minBytes?: number;
  avgBytes?: number;
  maxBytes?: number;
}

/** The validated sizes and the two masks one chunking run uses. */
interface Params {
  min: number;
  avg: number;
  max: number;
  /** Used from min to avg: 2 more one-bits than log2(avg), so cuts there are 4× rarer. */
  maskStrict: number;
  /** Used from avg to max: 2 fewer one-bits, so cuts there are 4× likelier. */
  maskLoose: number;
}

/** Level 2 of normalized chunking: the masks have log2(avg) ± 2 one-bits. */
const normalizationLevel = 2;
/** Fixed forever: changing it (or the generator) changes every chunk boundary. */
const gearSeed = 0x52_41_46_54; // "RAFT"

/** 256 pseudo-random 32-bit values, one per byte value, from splitmix32 over a fixed seed. */
const gear: Int32Array = makeGear(gearSeed);

function makeGear(seed: number): Int32Array {
  const table = new Int32Array(256);
  let state = seed | 0;
  for (let i = 0; i < 256; i++) {
    state = (state + 0x9e3779b9) | 0;
    let z = state;
    z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
    z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
    table[i] = z ^ (z >>> 16);
  }
  return table;
}

/**
 * A mask with `ones` one-bits spread evenly over the 32-bit word, highest bit always set.
 * With the hash shifted left each byte, bit k depends on the last k+1 bytes, so spreading
 * the bits (rather than packing them low) lets a cut depend on a wider window of content.
 */
function spreadMask(ones: number): number {
  let mask = 0;
  for (let i = 0; i < ones; i++) mask |= 1 << (31 - Math.floor((i * 32) / ones));
  return mask | 0;
}

const paramsCache = new Map<string, Params>();

let defaultParams: Params | null = null;

function resolveParams(options: ChunkerOptions | undefined): Params {
  // Every block the SDK writes cuts with the defaults: no key string to build for those.
  if (options === undefined) return (defaultParams ??= resolveParams({}));
  const min = options.minBytes ?? chunkBytesMin;
  const avg = options.avgBytes ?? chunkBytesAvg;
  const max = options.maxBytes ?? chunkBytesMax;
  const key = `${min}/${avg}/${max}`;
  const cached = paramsCache.get(key);
  if (cached !== undefined) return cached;
  for (const [name, value] of [['minBytes', min], ['avgBytes', avg], ['maxBytes', max]] as const) {
    if (!Number.isSafeInteger(value) || value < 1) throw new RangeError(`FastCDC ${name} must be a positive integer, not ${value}.`);
  }
  const bits = Math.log2(avg);
  if (!Number.isInteger(bits) || bits - normalizationLevel < 1 || bits + normalizationLevel > 31) {
    throw new RangeError(`FastCDC avgBytes must be a power of two from 8 to 2^29, not ${avg}.`);
  }
  if (!(min <= avg && avg <= max)) throw new RangeError(`FastCDC sizes must satisfy minBytes ≤ avgBytes ≤ maxBytes, not ${min} ≤ ${avg} ≤ ${max}.`);
  const params = { min, avg, max, maskStrict: spreadMask(bits + normalizationLevel), maskLoose: spreadMask(bits - normalizationLevel) };
  // A handful of configurations exist in practice (the default and a few test ones).
  if (paramsCache.size < 16) paramsCache.set(key, params);
  return params;
}

/**
 * The hash where the last {@link scanRange} stopped without a cut. Module-level so the hot
 * loop returns a plain number and allocates nothing.
 */
let resumeHash = 0;

/** Whether an Int32Array reads bytes little-endian (everywhere JavaScript runs in practice). */
const littleEndian = new Uint8Array(new Int32Array([1]).buffer)[0] === 1;

/** Below this many bytes a range is hashed byte by byte (a word view is not worth making). */
const wordScanBytesMin = 64;

/**
 * Rolls the Gear hash `hash` over data[from, end) and returns the offset just after the
 * first byte whose hash has no bit of `mask` set, or -1 (hash left in `resumeHash`).
 * The bulk is read as aligned 32-bit words, 8 bytes per step with one combined test: about
 * twice as fast in V8 as a byte loop, and it gives exactly the byte loop's answers.
 */
function scanRange(data: Uint8Array, from: number, end: number, hash: number, mask: number): number {
  if (!littleEndian || end - from < wordScanBytesMin) return scanBytes(data, from, end, hash, mask);
  const aligned = Math.min(end, from + ((4 - ((data.byteOffset + from) & 3)) & 3));
  const cut = scanBytes(data, from, aligned, hash, mask);
  if (cut !== -1) return cut;
  const words = new Int32Array(data.buffer, data.byteOffset + aligned, (end - aligned) >>> 2);
  const table = gear;
  let h = resumeHash;
  const pairs = words.length - 1;
  // `i` advances inside the loop (not computed after it) so V8 has type feedback for it
  // when an optimized loop exits; otherwise every exit deoptimizes.
  let i = aligned;
  for (let k = 0; k < pairs; k += 2, i += 8) {
    const a = words[k]!;
    const b = words[k + 1]!;
    const h1 = ((h << 1) + table[a & 255]!) | 0;
    const h2 = ((h1 << 1) + table[(a >>> 8) & 255]!) | 0;
    const h3 = ((h2 << 1) + table[(a >>> 16) & 255]!) | 0;
    const h4 = ((h3 << 1) + table[a >>> 24]!) | 0;
    const h5 = ((h4 << 1) + table[b & 255]!) | 0;
    const h6 = ((h5 << 1) + table[(b >>> 8) & 255]!) | 0;
    const h7 = ((h6 << 1) + table[(b >>> 16) & 255]!) | 0;
    const h8 = ((h7 << 1) + table[b >>> 24]!) | 0;
    // Cuts are rare (one in 2^18 bytes or fewer), so one test per 8 bytes; on a hit the
    // byte loop redoes those 8 bytes from `h` to find the exact one.
    if ((h1 & mask) === 0 || (h2 & mask) === 0 || (h3 & mask) === 0 || (h4 & mask) === 0 ||
      (h5 & mask) === 0 || (h6 & mask) === 0 || (h7 & mask) === 0 || (h8 & mask) === 0) break;
    h = h8;
  }
  return scanBytes(data, i, end, h, mask);
}

/** {@link scanRange} one byte at a time: for short ranges, edges, and finding the exact cut. */
function scanBytes(data: Uint8Array, from: number, end: number, hash: number, mask: number): number {
  const table = gear;
  let h = hash;
  for (let i = from; i < end; i++) {
    h = ((h << 1) + table[data[i]!]!) | 0;
    if ((h & mask) === 0) return i + 1;
  }
  resumeHash = h;
  return -1;
}

/**
 * Runs both exits of the word loop once at load time. V8 optimizes the loop while the first
 * large scan is still inside it, before the code after the loop has ever run; without type
 * feedback for that code, every later exit would deoptimize (seen as a 2× slowdown).
 */
function primeTypeFeedback(): void {
  const sample = new Uint8Array(wordScanBytesMin * 2);
  for (let i = 0; i < sample.length; i++) sample[i] = (i * 37) & 255;
  scanRange(sample, 1, sample.length, 0, 0);
  scanRange(sample, 1, sample.length, 0, -1);
  resumeHash = 0;
}
primeTypeFeedback();

/**
 * Scans one chunk that starts at `start`, from absolute offset `from` (≥ start + min) with
 * the rolling hash `hash`, over data[from, end). Returns the chunk's end (exclusive) when a
 * hash matches its mask or the chunk reaches `max`; otherwise -1 with the hash left in
 * `resumeHash`, so a streaming caller can resume at `end` once more bytes arrive.
 */
function scanChunk(data: Uint8Array, start: number, from: number, hash: number, end: number, p: Params): number {
  const limit = Math.min(end, start + p.max);
  const center = Math.min(limit, start + p.avg);
  let h = hash;
  if (from < center) {
    const cut = scanRange(data, from, center, h, p.maskStrict);
    if (cut !== -1) return cut;
    h = resumeHash;
    from = center;
  }
  if (from < limit) {
    const cut = scanRange(data, from, limit, h, p.maskLoose);
    if (cut !== -1) return cut;
    h = resumeHash;
  }
  if (limit === start + p.max) return limit;
  resumeHash = h;
  return -1;
}

/**
 * Offsets where each chunk of `data` ends (exclusive), in order. The last is always
 * `data.length`; an empty input has no chunks. Every chunk but the last is between the
 * minimum and maximum size; the result equals what {@link Chunker} emits for any slicing.
 */
export function cutPoints(data: Uint8Array, options?: ChunkerOptions): number[] {
  return [...eachCutPoint(data, options)];
}

/** The offsets of {@link cutPoints}, each scanned for only when the one before it is taken. */
export function* eachCutPoint(data: Uint8Array, options?: ChunkerOptions): Generator<number> {
  const p = resolveParams(options);
  const length = data.length;
  let start = 0;
  while (start < length) {
    // The first `min` bytes of a chunk cannot end it, so they are skipped, not hashed.
    const from = start + p.min;
    const cut = from >= length ? -1 : scanChunk(data, start, from, 0, length, p);
    start = cut === -1 ? length : cut;
    yield start;
  }
}

/**
 * Streaming FastCDC without the bytes: feed a stream's slices of any size with
 * {@link push}, which returns where in each slice a chunk ends; {@link finish} tells
 * whether a last chunk is left open. It keeps only the scan position and rolling hash of
 * the open chunk, so a caller that hashes each slice's pieces as they go (the browser's
 * hashing workers) never copies a byte. The boundaries are those of {@link cutPoints} on
 * the concatenation.
 */
export class ChunkBoundaries {
  readonly #p: Params;
  /** The largest chunk, in bytes: no chunk stays open longer. */
  readonly maxBytes: number;
  /** Bytes of the open chunk pushed so far, and how many of them are scanned, with the hash there. */
  #openBytes = 0;
  #scannedBytes = 0;
  #hash = 0;

  /** Uses the default sizes, or `options` (see {@link ChunkerOptions}). */
  constructor(options?: ChunkerOptions) {
    this.#p = resolveParams(options);
    this.maxBytes = this.#p.max;
  }

  /** Bytes of the chunk still open: pushed, not yet ended by a boundary. */
  get openBytes(): number {
    return this.#openBytes;
  }

  /** Adds the next slice; returns the offsets in it (exclusive ends, ascending) where chunks end. */
  push(slice: Uint8Array): number[] {
    const ends: number[] = [];
    let offset = 0;
    while (offset < slice.length) {
      // The open chunk's earlier bytes are already scanned, so the scan goes on in the slice
      // itself, as if the chunk began `openBytes` before `offset`.
      const cut = this.#scan(slice, offset - this.#openBytes, slice.length);
      if (cut === -1) {
        this.#openBytes += slice.length - offset;
        break;
      }
      ends.push(cut);
      this.#reset();
      offset = cut;
    }
    return ends;
  }

  /** Ends the stream: true when bytes were left in an open chunk (the last one). Resets for reuse. */
  finish(): boolean {
    const open = this.#openBytes > 0;
    this.#reset();
    return open;
  }

  /**
   * Scans data[.., end) as the chunk beginning at `start` (negative when the chunk began
   * before `data`), resuming where the last scan stopped.
   */
  #scan(data: Uint8Array, start: number, end: number): number {
    const p = this.#p;
    const from = start + Math.max(p.min, this.#scannedBytes);
    if (from >= end) return -1;
    const cut = scanChunk(data, start, from, this.#hash, end, p);
    if (cut === -1) {
      this.#scannedBytes = end - start;
      this.#hash = resumeHash;
    }
    return cut;
  }

  #reset(): void {
    this.#openBytes = 0;
    this.#scannedBytes = 0;
    this.#hash = 0;
  }
}

/**
 * Streaming FastCDC with the bytes: feed a file's bytes as slices of any size with
 * {@link push} and call {@link finish} at the end; the chunks are byte-for-byte those of
 * {@link cutPoints} on the concatenation. It holds at most one unfinished chunk (fewer than
 * `maxBytes`, in a buffer it owns) besides the slice being pushed; each byte is hashed
 * once however small the slices are.
 */
export class Chunker {
  readonly #boundaries: ChunkBoundaries;
  /** The unfinished chunk's bytes are #buffer[0, #pendingBytes); allocated on first need. */
  #buffer: Uint8Array | null = null;
  #pendingBytes = 0;

  /** Makes a chunker with the default sizes, or `options` (see {@link ChunkerOptions}). */
  constructor(options?: ChunkerOptions) {
    this.#boundaries = new ChunkBoundaries(options);
  }

  /**
   * Adds the next bytes of the stream and returns the chunks they complete (possibly none).
   * A chunk that lies wholly inside `slice` is returned as a subarray of it, without a copy
   * (so a caller that reuses its read buffer must copy or hash it before the next read); a
   * chunk that spans slices is a fresh array the caller owns.
   */
  push(slice: Uint8Array): Uint8Array[] {
    const chunks: Uint8Array[] = [];
    let offset = 0;
    for (const end of this.#boundaries.push(slice)) {
      chunks.push(this.#pendingBytes === 0 ? slice.subarray(offset, end) : this.#completePending(slice.subarray(offset, end)));
      this.#pendingBytes = 0;
      offset = end;
    }
    // No boundary after `offset` means the open chunk is still under `max`, so it fits in the buffer.
    if (offset < slice.length) this.#append(slice.subarray(offset));
    return chunks;
  }

  /** Ends the stream: returns the last chunk if any bytes are left, and resets for reuse. */
  finish(): Uint8Array[] {
    this.#boundaries.finish();
    if (this.#pendingBytes === 0 || this.#buffer === null) return [];
    const last = this.#buffer.slice(0, this.#pendingBytes);
    this.#pendingBytes = 0;
    return [last];
  }

  /** A new array holding the pending bytes followed by `tail`. */
  #completePending(tail: Uint8Array): Uint8Array {
    const chunk = new Uint8Array(this.#pendingBytes + tail.length);
    chunk.set(this.#buffer!.subarray(0, this.#pendingBytes));
    chunk.set(tail, this.#pendingBytes);
    return chunk;
  }

  /** Copies `bytes` after the pending ones; the boundaries guarantee they fit under `max`. */
  #append(bytes: Uint8Array): void {
    const buffer = (this.#buffer ??= new Uint8Array(this.#boundaries.maxBytes));
    if (this.#pendingBytes + bytes.length >= buffer.length) throw new Error('FastCDC chunker overflow: a pending chunk reached maxBytes without being cut.');
    buffer.set(bytes, this.#pendingBytes);
    this.#pendingBytes += bytes.length;
  }
}
