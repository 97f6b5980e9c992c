// Encoding a large value as msgpack a slice at a time. A snapshot of the metadata of
// hundreds of thousands of file versions takes seconds to encode at once, which would
// stall the node's event loop past the election timeout. msgpack is a concatenation of
// headers and values, so the same bytes can be produced piece by piece: the caller lists
// the pieces with a generator (headers, then elements) and the writer encodes a bounded
// share of them per step. The result is byte for byte what one `encode` of the whole
// value gives.
//
// Every step stays short, the last one included: pieces are copied straight from the
// encoder's buffer into large chunks (one small allocation per piece would fill the young
// generation and promote all of it, since an encoding lasts many steps), and the chunks
// are joined into the result a bounded number of bytes per step.

import { Encoder } from '@msgpack/msgpack';

// One encoder for every piece: its buffer is reused, and each piece is copied out of it
// before the next is encoded.
const encoder = new Encoder();

/** The first chunk of encoded pieces; each next one is twice as large, up to `chunkBytesMax`. Small snapshots stay small. */
const chunkBytesFirst = 16 * 1024;
const chunkBytesMax = 1024 * 1024;
/** Most bytes the join copies into the result in one step. */
export const joinBytesPerStep = 4 * 1024 * 1024;

/**
 * One run of bytes of the encoding, given as bytes or as a value to encode, with the work
 * it stands for (records encoded).
 */
export type Piece = { bytes: Uint8Array; weight: number } | { value: unknown; weight: number };

/** msgpack header of an array of `length` elements. */
export function arrayHeader(length: number): Uint8Array {
  return header(length, 0x90, 0xdc, 0xdd);
}

/** msgpack header of a map of `size` entries. */
export function mapHeader(size: number): Uint8Array {
  return header(size, 0x80, 0xde, 0xdf);
}

function header(length: number, fix: number, with16: number, with32: number): Uint8Array {
  if (length < 16) return Uint8Array.of(fix | length);
  if (length < 0x10000) return Uint8Array.of(with16, length >> 8, length & 0xff);
  return Uint8Array.of(with32, (length >>> 24) & 0xff, (length >>> 16) & 0xff, (length >>> 8) & 0xff, length & 0xff);
}

/** A value encoded whole, as one piece. */
export function whole(value: unknown, weight = 1): Piece {
  return { value, weight };
}

/** An array encoded element by element; `weight` tells what each element costs. */
export function* arrayPieces<T>(items: readonly T[], weight: (item: T) => number = () => 1): Generator<Piece> {
  yield { bytes: arrayHeader(items.length), weight: 0 };
  for (const item of items) yield whole(item, weight(item));
}

/**
 * Runs a generator of pieces a step at a time. `step` encodes pieces until their weight
 * reaches `weightPerStep` and returns null; once the pieces are done, it joins them into
 * one array, at most `joinBytesPerStep` bytes per step, and the step that finishes the
 * join returns the whole encoding.
 */
export class SlicedEncoder {
  /** Filled chunks, in order; `current` is being filled. */
  private readonly chunks: Uint8Array[] = [];
  private current = new Uint8Array(0);
  private used = 0;
  private bytes = 0;
  private join: { out: Uint8Array; chunk: number; offset: number } | null = null;

  constructor(private readonly pieces: Iterator<Piece>, private readonly weightPerStep: number) {}

  step(): Uint8Array | null {
    if (this.join === null) {
      let weight = 0;
      for (;;) {
        if (weight >= this.weightPerStep) return null;
        const next = this.pieces.next();
        if (next.done) break;
        const piece = next.value;
        this.write('bytes' in piece ? piece.bytes : encoder.encodeSharedRef(piece.value));
        weight += piece.weight;
      }
      if (this.used > 0) this.chunks.push(this.current.subarray(0, this.used));
      this.current = new Uint8Array(0);
      this.used = 0;
      this.join = { out: new Uint8Array(this.bytes), chunk: 0, offset: 0 };
    }
    return this.joinStep();
  }

  // Copies `bytes` (which may be the encoder's own buffer, reused by the next encode) into the chunks.
  private write(bytes: Uint8Array): void {
    if (this.used + bytes.byteLength > this.current.byteLength) {
      if (this.used > 0) this.chunks.push(this.current.subarray(0, this.used));
      const next = Math.min(chunkBytesMax, Math.max(chunkBytesFirst, this.current.byteLength * 2));
      this.current = new Uint8Array(Math.max(next, bytes.byteLength));
      this.used = 0;
    }
    this.current.set(bytes, this.used);
    this.used += bytes.byteLength;
    this.bytes += bytes.byteLength;
  }

  private joinStep(): Uint8Array | null {
    const join = this.join!;
    let copied = 0;
    while (join.chunk < this.chunks.length) {
      if (copied >= joinBytesPerStep) return null;
      const chunk = this.chunks[join.chunk]!;
      join.out.set(chunk, join.offset);
      join.offset += chunk.byteLength;
      copied += chunk.byteLength;
      // Dropped as soon as it is copied, so the chunks and the result are not both held to the end.
      this.chunks[join.chunk++] = new Uint8Array(0);
    }
    return join.out;
  }
}
