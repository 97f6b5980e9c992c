// Encoding a large value as msgpack a slice at a time. A snapshot of the metadata of
// hundreds of thousands of file versions takes seconds to encode at once, which would
// stall the node's event loop past the election timeout. msgpack is a concatenation of
// headers and values, so the same bytes can be produced piece by piece: the caller lists
// the pieces with a generator (headers, then elements) and the writer encodes a bounded
// share of them per step. The result is byte for byte what one `encode` of the whole
// value gives.

import { Encoder } from '@msgpack/msgpack';

// One encoder for every piece (its buffer is reused; each piece is a copy of it).
const encoder = new Encoder();

/** One run of bytes of the encoding, with the work it stood for (records encoded). */
export interface Piece {
  bytes: Uint8Array;
  weight: number;
}

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
  return { bytes: encoder.encode(value), weight };
}

/** An array encoded element by element; `weight` tells what each element costs. */
export function* arrayPieces<T>(items: readonly T[], weight: (item: T) => number = () => 1): Generator<Piece> {
  yield { bytes: arrayHeader(items.length), weight: 0 };
  for (const item of items) yield whole(item, weight(item));
}

/**
 * Runs a generator of pieces a step at a time. `step` encodes pieces until their weight
 * reaches `weightPerStep` and returns null, or returns the whole encoding once the last
 * piece is done.
 */
export class SlicedEncoder {
  private readonly chunks: Uint8Array[] = [];
  private bytes = 0;

  constructor(private readonly pieces: Iterator<Piece>, private readonly weightPerStep: number) {}

  step(): Uint8Array | null {
    let weight = 0;
    while (weight < this.weightPerStep) {
      const next = this.pieces.next();
      if (next.done) return this.join();
      this.chunks.push(next.value.bytes);
      this.bytes += next.value.bytes.byteLength;
      weight += next.value.weight;
    }
    return null;
  }

  private join(): Uint8Array {
    const out = new Uint8Array(this.bytes);
    let offset = 0;
    for (const chunk of this.chunks) {
      out.set(chunk, offset);
      offset += chunk.byteLength;
    }
    this.chunks.length = 0;
    return out;
  }
}
