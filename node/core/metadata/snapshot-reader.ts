// Reading a large msgpack value a piece at a time, the counterpart of snapshot-writer.ts.
// A snapshot of hundreds of thousands of file versions takes seconds to decode at once,
// which would stall a follower installing it from its leader. The reader walks the
// outer structure itself (map and array headers) and decodes one element at a time, so
// the caller can stop after a bounded share of them and go on in a later turn. Finding
// where an element ends needs only its headers and lengths, not a decode (valueEnd).

import { Decoder } from '@msgpack/msgpack';

const decoder = new Decoder();

/** Thrown for bytes that are not the msgpack value the reader was told to expect. */
export class SnapshotFormatError extends Error {}

/** A cursor over one msgpack value, read header by header and element by element. */
export class PieceReader {
  private offset = 0;

  constructor(private readonly bytes: Uint8Array) {}

  /** True once every byte has been read. */
  get done(): boolean {
    return this.offset === this.bytes.byteLength;
  }

  /** Reads a map header; returns the number of entries that follow (each a key, then a value). */
  mapHeader(): number {
    return this.header(0x80, 0xde, 0xdf, 'a map');
  }

  /** Reads an array header; returns the number of elements that follow. */
  arrayHeader(): number {
    return this.header(0x90, 0xdc, 0xdd, 'an array');
  }

  /** Decodes the next whole value. */
  value(): unknown {
    const end = valueEnd(this.bytes, this.offset);
    const value = decoder.decode(this.bytes.subarray(this.offset, end));
    this.offset = end;
    return value;
  }

  /** Decodes the next value, which must be a string (a map key). */
  key(): string {
    const at = this.offset;
    const key = this.value();
    if (typeof key !== 'string') throw new SnapshotFormatError(`expected a map key at byte ${at}, found ${typeof key}`);
    return key;
  }

  private header(fix: number, with16: number, with32: number, what: string): number {
    const bytes = this.bytes;
    const at = this.offset;
    const first = bytes[at];
    if (first !== undefined && (first & 0xf0) === fix) {
      this.offset = at + 1;
      return first & 0x0f;
    }
    if (first === with16 && at + 3 <= bytes.byteLength) {
      this.offset = at + 3;
      return (bytes[at + 1]! << 8) | bytes[at + 2]!;
    }
    if (first === with32 && at + 5 <= bytes.byteLength) {
      this.offset = at + 5;
      return uint32(bytes, at + 1);
    }
    throw new SnapshotFormatError(`expected ${what} at byte ${at} of ${bytes.byteLength}`);
  }
}

/**
 * The offset just past the msgpack value that starts at `offset`. Walks headers only:
 * strings, binaries and extensions are skipped by their length, containers by counting
 * the values they still hold. Throws SnapshotFormatError on a reserved byte or a value
 * that runs past the end.
 */
export function valueEnd(bytes: Uint8Array, offset: number): number {
  const runsPast = () => new SnapshotFormatError(`the value at byte ${offset} runs past the end (${bytes.byteLength} bytes)`);
  let pending = 1;
  let at = offset;
  while (pending > 0) {
    pending--;
    const first = bytes[at];
    if (first === undefined) throw runsPast();
    if (first <= 0x7f || first >= 0xe0) at += 1; // positive and negative fixint
    else if (first <= 0x8f) {
      pending += 2 * (first & 0x0f); // fixmap
      at += 1;
    } else if (first <= 0x9f) {
      pending += first & 0x0f; // fixarray
      at += 1;
    } else if (first <= 0xbf) at += 1 + (first & 0x1f); // fixstr
    else {
      const size = FIXED_SIZES[first - 0xc0]!;
      if (size > 0) at += size;
      else if (size === LENGTH_8 || size === LENGTH_16 || size === LENGTH_32) at = skipSized(bytes, at, first, size);
      else if (size === COUNT_16 || size === COUNT_32) {
        const wide = size === COUNT_32;
        if (at + (wide ? 5 : 3) > bytes.byteLength) throw runsPast();
        const count = wide ? uint32(bytes, at + 1) : (bytes[at + 1]! << 8) | bytes[at + 2]!;
        pending += first === 0xde || first === 0xdf ? 2 * count : count;
        at += wide ? 5 : 3;
      } else throw new SnapshotFormatError(`byte ${at} holds 0xc1, which msgpack never uses`);
    }
  }
  if (at > bytes.byteLength) throw runsPast();
  return at;
}

// For each first byte from 0xc0: the value's whole size when fixed, or how its length is given.
const LENGTH_8 = -1;
const LENGTH_16 = -2;
const LENGTH_32 = -3;
const COUNT_16 = -4;
const COUNT_32 = -5;
const NEVER = -6;
const FIXED_SIZES: readonly number[] = [
  1, NEVER, 1, 1, // nil, (never used), false, true
  LENGTH_8, LENGTH_16, LENGTH_32, // bin 8/16/32
  LENGTH_8, LENGTH_16, LENGTH_32, // ext 8/16/32 (one type byte more, see skipSized)
  5, 9, // float 32/64
  2, 3, 5, 9, // uint 8/16/32/64
  2, 3, 5, 9, // int 8/16/32/64
  3, 4, 6, 10, 18, // fixext 1/2/4/8/16
  LENGTH_8, LENGTH_16, LENGTH_32, // str 8/16/32
  COUNT_16, COUNT_32, // array 16/32
  COUNT_16, COUNT_32, // map 16/32
];

function skipSized(bytes: Uint8Array, at: number, first: number, lengthOf: number): number {
  const lengthBytes = lengthOf === LENGTH_8 ? 1 : lengthOf === LENGTH_16 ? 2 : 4;
  if (at + 1 + lengthBytes > bytes.byteLength) return bytes.byteLength + 1;
  const length = lengthBytes === 1 ? bytes[at + 1]! : lengthBytes === 2 ? (bytes[at + 1]! << 8) | bytes[at + 2]! : uint32(bytes, at + 1);
  const isExt = first >= 0xc7 && first <= 0xc9;
  return at + 1 + lengthBytes + (isExt ? 1 : 0) + length;
}

function uint32(bytes: Uint8Array, at: number): number {
  return ((bytes[at]! << 24) >>> 0) + ((bytes[at + 1]! << 16) | (bytes[at + 2]! << 8) | bytes[at + 3]!);
}
