// FastCDC: pinned cut points (any change to the gear table, masks or loop fails here), the
// size bounds, edit locality, a byte-loop reference implementation to check the word-wise
// fast path against, and streaming == whole-buffer for arbitrary slicings.

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import fc from 'fast-check';
import { ChunkBoundaries, Chunker, chunkBytesAvg, chunkBytesMax, chunkBytesMin, cutPoints, type ChunkerOptions } from './fastcdc.ts';

const mebibyte = 2 ** 20;
const small: ChunkerOptions = { minBytes: 1024, avgBytes: 4096, maxBytes: 16384 };

/** Deterministic incompressible bytes from xorshift32, laid out little-endian on any platform. */
function xorshiftBytes(length: number, seed: number): Uint8Array {
  const bytes = new Uint8Array(length);
  let x = seed | 0;
  for (let i = 0; i < length; i += 4) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    bytes[i] = x;
    if (i + 1 < length) bytes[i + 1] = x >>> 8;
    if (i + 2 < length) bytes[i + 2] = x >>> 16;
    if (i + 3 < length) bytes[i + 3] = x >>> 24;
  }
  return bytes;
}

/**
 * The algorithm as the paper writes it, one byte at a time, with the gear table and masks
 * rebuilt here from their definitions; the module's word-at-a-time loop must agree with it.
 */
function referenceCutPoints(data: Uint8Array, min: number, avg: number, max: number): number[] {
  const gear: number[] = [];
  let state = 0x52414654;
  for (let i = 0; i < 256; i++) {
    state = (state + 0x9e3779b9) | 0;
    let z = state;
    z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
    z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
    gear.push((z ^ (z >>> 16)) >>> 0);
  }
  const spread = (ones: number): number => {
    let mask = 0;
    for (let i = 0; i < ones; i++) mask += 2 ** (31 - Math.floor((i * 32) / ones));
    return mask;
  };
  const bits = Math.log2(avg);
  const strict = spread(bits + 2);
  const loose = spread(bits - 2);
  const cuts: number[] = [];
  let start = 0;
  while (start < data.length) {
    const remaining = data.length - start;
    let length = remaining;
    if (remaining > min) {
      const last = Math.min(remaining, max);
      length = last;
      let h = 0;
      for (let i = min; i < last; i++) {
        h = (h * 2 + gear[data[start + i]!]!) % 2 ** 32;
        const mask = i < avg ? strict : loose;
        if ((h & mask) === 0) {
          length = i + 1;
          break;
        }
      }
    }
    start += length;
    cuts.push(start);
  }
  return cuts;
}

function chunkLengths(cuts: number[]): number[] {
  return cuts.map((cut, i) => cut - (i === 0 ? 0 : cuts[i - 1]!));
}

// Streams through a Chunker and, in step, a ChunkBoundaries, which must find the same ends.
function streamCuts(data: Uint8Array, sliceSizes: number[], options?: ChunkerOptions): { cuts: number[]; joined: Uint8Array } {
  const chunker = new Chunker(options);
  const boundaries = new ChunkBoundaries(options);
  const chunks: Uint8Array[] = [];
  const ends: number[] = [];
  let offset = 0;
  let which = 0;
  while (offset < data.length) {
    const size = Math.max(1, sliceSizes[which++ % sliceSizes.length]!);
    const slice = data.subarray(offset, offset + size);
    chunks.push(...chunker.push(slice));
    ends.push(...boundaries.push(slice).map((end) => offset + end));
    offset += slice.length;
  }
  chunks.push(...chunker.finish());
  if (boundaries.finish()) ends.push(data.length);
  const cuts: number[] = [];
  const joined = new Uint8Array(data.length);
  let at = 0;
  for (const chunk of chunks) {
    assert.ok(chunk.length > 0, 'no empty chunks');
    joined.set(chunk, at);
    at += chunk.length;
    cuts.push(at);
  }
  assert.is(at, data.length, 'the chunks cover the input exactly');
  assert.equal(ends, cuts, 'ChunkBoundaries ends the chunks where Chunker does');
  return { cuts, joined };
}

test('the default sizes are 256 KiB / 1 MiB / 4 MiB', () => {
  assert.is(chunkBytesMin, 256 * 1024);
  assert.is(chunkBytesAvg, mebibyte);
  assert.is(chunkBytesMax, 4 * mebibyte);
});

test('pinned cut points: 16 MiB of xorshift32(1) with the default sizes', () => {
  assert.equal(cutPoints(xorshiftBytes(16 * mebibyte, 1)), [
    1228740, 2726406, 3958804, 5190705, 6451753, 7197327, 8372960, 9571686, 10755091, 11544951, 11837084, 13106012,
    14406150, 15598899, 16777216,
  ]);
});

test('pinned cut points: 64 KiB of xorshift32(2) with 1 KiB / 4 KiB / 16 KiB', () => {
  assert.equal(cutPoints(xorshiftBytes(65536, 2), small), [
    4224, 8388, 12643, 17063, 22953, 30987, 35382, 37328, 44343, 49046, 53494, 58223, 59321, 62119, 65536,
  ]);
});

test('empty and tiny inputs', () => {
  assert.equal(cutPoints(new Uint8Array(0)), []);
  assert.equal(cutPoints(new Uint8Array(1)), [1]);
  assert.equal(cutPoints(new Uint8Array(chunkBytesMin)), [chunkBytesMin]);
  assert.equal(cutPoints(new Uint8Array(chunkBytesMin + 1)), [chunkBytesMin + 1]);
  const chunker = new Chunker();
  assert.equal(chunker.push(new Uint8Array(0)), []);
  assert.equal(chunker.finish(), []);
});

test('the word-wise scan agrees with a byte-at-a-time reference, at every alignment', () => {
  const data = xorshiftBytes(200_000, 3);
  for (let shift = 0; shift < 8; shift++) {
    const view = data.subarray(shift);
    assert.equal(cutPoints(view, small), referenceCutPoints(view, 1024, 4096, 16384), `offset ${shift}`);
  }
  const big = xorshiftBytes(24 * mebibyte + 3, 4).subarray(1);
  assert.equal(cutPoints(big), referenceCutPoints(big, chunkBytesMin, chunkBytesAvg, chunkBytesMax));
  // Low-entropy input: a short repeating pattern with occasional changes.
  const text = new TextEncoder().encode('the quick brown fox jumps over the lazy dog; '.repeat(5000));
  for (let i = 0; i < text.length; i += 997) text[i] = 65 + (i % 26);
  assert.equal(cutPoints(text, small), referenceCutPoints(text, 1024, 4096, 16384));
});

test('every chunk but the last is within [min, max] on random input', () => {
  const lengths = chunkLengths(cutPoints(xorshiftBytes(64 * mebibyte, 5)));
  assert.ok(lengths.length > 30, `${lengths.length} chunks`);
  for (const length of lengths.slice(0, -1)) assert.ok(length >= chunkBytesMin && length <= chunkBytesMax, `chunk of ${length} bytes`);
  const average = (64 * mebibyte) / lengths.length;
  assert.ok(average > 0.75 * mebibyte && average < 1.5 * mebibyte, `average chunk ${average} bytes`);
});

test('max is enforced on incompressible input when no hash matches in time', () => {
  // A max just above the average makes the cap bind often on random bytes.
  const tight: ChunkerOptions = { minBytes: 1024, avgBytes: 4096, maxBytes: 5000 };
  const lengths = chunkLengths(cutPoints(xorshiftBytes(2 * mebibyte, 6), tight));
  for (const length of lengths.slice(0, -1)) assert.ok(length >= 1024 && length <= 5000, `chunk of ${length} bytes`);
  const capped = lengths.filter((length) => length === 5000).length;
  assert.ok(capped > 10, `${capped} chunks cut at max`);
});

test('max is enforced on constant input (all zeros), streaming too', () => {
  const zeros = new Uint8Array(3 * chunkBytesMax + 5);
  assert.equal(cutPoints(zeros), [chunkBytesMax, 2 * chunkBytesMax, 3 * chunkBytesMax, 3 * chunkBytesMax + 5]);
  assert.equal(streamCuts(zeros, [65536]).cuts, cutPoints(zeros));
  const ones = new Uint8Array(50_000).fill(0xff);
  for (const length of chunkLengths(cutPoints(ones, small)).slice(0, -1)) assert.ok(length >= 1024 && length <= 16384);
});

test('inserting one byte in the middle of 64 MiB changes at most 2 chunks', () => {
  const before = xorshiftBytes(64 * mebibyte, 7);
  const middle = before.length >>> 1;
  const after = new Uint8Array(before.length + 1);
  after.set(before.subarray(0, middle));
  after[middle] = 0x5a;
  after.set(before.subarray(middle), middle + 1);
  const oldChunks = new Set(spans(cutPoints(before)));
  // A chunk of the new file is unchanged when it lies wholly before the insertion, or
  // wholly after it at an offset shifted by one.
  const changed = spans(cutPoints(after)).filter((span) => {
    const [start, end] = span.split('-').map(Number) as [number, number];
    if (end <= middle) return !oldChunks.has(span);
    if (start > middle) return !oldChunks.has(`${start - 1}-${end - 1}`);
    return true;
  });
  assert.ok(changed.length >= 1 && changed.length <= 2, `${changed.length} chunks changed`);
});

test('appending bytes changes only the tail', () => {
  const data = xorshiftBytes(20 * mebibyte, 8);
  const original = cutPoints(data.subarray(0, 16 * mebibyte));
  const extended = cutPoints(data);
  assert.equal(extended.slice(0, original.length - 1), original.slice(0, -1));
  const smallOriginal = cutPoints(data.subarray(0, 100_000), small);
  const smallExtended = cutPoints(data.subarray(0, 100_001), small);
  assert.equal(smallExtended.slice(0, smallOriginal.length - 1), smallOriginal.slice(0, -1));
});

test('streaming with 1-byte slices equals the whole buffer (small sizes)', () => {
  const data = xorshiftBytes(120_000, 9);
  const { cuts, joined } = streamCuts(data, [1], small);
  assert.equal(cuts, cutPoints(data, small));
  assert.ok(joined.every((byte, i) => byte === data[i]));
});

test('streaming with random slice sizes equals the whole buffer (default sizes)', () => {
  const data = xorshiftBytes(20 * mebibyte + 17, 10);
  const whole = cutPoints(data);
  for (const sizes of [[65536], [1, 7, 4093, 300_000], [5 * mebibyte], [chunkBytesMax, 3], [1_000_003, 12_345]]) {
    const { cuts, joined } = streamCuts(data, sizes);
    assert.equal(cuts, whole, `slices ${sizes.join(',')}`);
    assert.ok(joined.every((byte, i) => byte === data[i]));
  }
});

test('chunks that span slices are copies, safe after the caller reuses its buffer', () => {
  const data = xorshiftBytes(100_000, 11);
  const chunker = new Chunker(small);
  const readBuffer = new Uint8Array(700);
  const chunks: Uint8Array[] = [];
  for (let offset = 0; offset < data.length; offset += readBuffer.length) {
    const slice = data.subarray(offset, offset + readBuffer.length);
    readBuffer.set(slice);
    // Chunks wholly inside the read buffer are views of it, so keep copies of those.
    for (const chunk of chunker.push(readBuffer.subarray(0, slice.length))) chunks.push(chunk.buffer === readBuffer.buffer ? chunk.slice() : chunk);
    readBuffer.fill(0xee);
  }
  chunks.push(...chunker.finish());
  const joined = new Uint8Array(data.length);
  let at = 0;
  for (const chunk of chunks) {
    joined.set(chunk, at);
    at += chunk.length;
  }
  assert.is(at, data.length);
  assert.ok(joined.every((byte, i) => byte === data[i]));
});

test('property: streaming equals cutPoints for any data and slicing', () => {
  fc.assert(
    fc.property(
      fc.integer({ min: 0, max: 60_000 }),
      fc.integer(),
      fc.array(fc.integer({ min: 1, max: 20_000 }), { minLength: 1, maxLength: 20 }),
      fc.boolean(),
      (length, seed, sizes, lowEntropy) => {
        const data = xorshiftBytes(length, seed === 0 ? 1 : seed);
        if (lowEntropy) for (let i = 0; i < data.length; i++) data[i] = data[i]! & 3;
        const whole = cutPoints(data, small);
        assert.equal(streamCuts(data, sizes, small).cuts, whole);
        assert.equal(whole, referenceCutPoints(data, 1024, 4096, 16384));
      },
    ),
    { numRuns: 200, seed: 42 },
  );
});

test('bad options are refused with a sentence', () => {
  assert.throws(() => cutPoints(new Uint8Array(10), { avgBytes: 3000 }), /power of two/);
  assert.throws(() => cutPoints(new Uint8Array(10), { minBytes: 8192, avgBytes: 4096, maxBytes: 16384 }), /minBytes ≤ avgBytes ≤ maxBytes/);
  assert.throws(() => new Chunker({ minBytes: 0 }), /positive integer/);
});

function spans(cuts: number[]): string[] {
  return cuts.map((cut, i) => `${i === 0 ? 0 : cuts[i - 1]}-${cut}`);
}

test.run();
