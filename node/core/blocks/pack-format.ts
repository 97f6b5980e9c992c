// Pack files: a node keeps its block copies in append-only files `packs/<seq>`, many
// blocks to a file, so storing a block costs one append and a share of one fdatasync
// instead of a file created, synced, renamed and its folder synced (Haystack and Magic
// Pocket keep blobs the same way). Each record is a header, then the block's bytes:
//
//   0   u32 LE  data length (0 for a tombstone)
//   4   u8      kind: 1 block, 2 tombstone (the block was deleted), 3 padding
//   5   3 bytes zero
//   8   32 B    the block's SHA-256 (zero for padding)
//   40  u32 LE  CRC-32C of bytes 0..39
//
// Every synced batch ends on a multiple of packAlignment, filled out by a padding record
// whose data is zeros, so each batch starts and ends where the host can write it with
// O_DIRECT: the block bytes then go from one reused buffer straight to the disk, without
// being copied into page cache the kernel must first find memory for.
//
// A pack is read from the start; the first header that fails its CRC or whose data runs
// past the end marks where a crash cut the last append, and nothing after it is a record.
// Block data is not checksummed here: every read checks it against its SHA-256 anyway.
// Replaying the packs in sequence order rebuilds which blocks are held, and where.

import { crc32cRange } from '../../../protocol/crc32.ts';
import { bytesToHex, hexToBytes } from '../../../protocol/bytes.ts';
import type { BlockHash } from '../../../protocol/wire.ts';

export const packHeaderBytes = 44;
/** Each synced batch of a pack ends at a multiple of it (a page, and a disk sector's multiple). */
export const packAlignment = 4096;
const kindBlock = 1;
const kindTombstone = 2;
const kindPadding = 3;
/** Every pack file name starts with it. */
export const packListPrefix = 'packs/';
const packNamePattern = /^packs\/(\d{12})$/;

/** Where a block's bytes are: pack `pack`, `length` bytes from byte `offset`. */
export interface PackLocation {
  pack: number;
  offset: number;
  length: number;
}

export type PackRecord =
  | { kind: 'block'; hash: BlockHash; /** Of the data, after the header. */ offset: number; length: number }
  | { kind: 'tombstone'; hash: BlockHash; offset: number; length: 0 }
  | { kind: 'padding'; offset: number; length: number };

/** The storage name of pack `seq`. */
export function packFile(seq: number): string {
  return `${packListPrefix}${String(seq).padStart(12, '0')}`;
}

/** The sequence number of a pack file name, or null for any other name. */
export function packSeq(name: string): number | null {
  const match = packNamePattern.exec(name);
  return match ? Number(match[1]) : null;
}

/** Whether storage name `name` is a pack file. */
export function isPackFile(name: string): boolean {
  return packSeq(name) !== null;
}

/** The packs among storage names, oldest first. */
export function packSeqs(names: readonly string[]): number[] {
  return names.map(packSeq).filter((seq): seq is number => seq !== null).sort((a, b) => a - b);
}

/** The header of a record holding `length` bytes of block `hash`, or of a tombstone for it. */
export function encodeRecordHeader(kind: 'block' | 'tombstone', hash: BlockHash, length: number): Uint8Array {
  const header = new Uint8Array(packHeaderBytes);
  header.set(hexToBytes(hash), 8);
  return sealHeader(header, kind === 'block' ? kindBlock : kindTombstone, kind === 'block' ? length : 0);
}

/**
 * The padding record that takes a pack `packBytes` long to the next multiple of
 * packAlignment (a whole one more when the gap is too short for a header), or null when
 * it ends on one already.
 */
export function encodePadding(packBytes: number): Uint8Array | null {
  let gap = (packAlignment - (packBytes % packAlignment)) % packAlignment;
  if (gap === 0) return null;
  if (gap < packHeaderBytes) gap += packAlignment;
  const record = new Uint8Array(gap);
  sealHeader(record, kindPadding, gap - packHeaderBytes);
  return record;
}

function sealHeader(header: Uint8Array, kind: number, length: number): Uint8Array {
  const view = new DataView(header.buffer, header.byteOffset, packHeaderBytes);
  view.setUint32(0, length, true);
  header[4] = kind;
  view.setUint32(40, crc32cRange(header, 0, 40), true);
  return header;
}

/**
 * The record whose header is `header` (at `headerOffset` of a pack `packBytes` long), or
 * null when the header is not a whole, intact record header.
 */
export function decodeRecordHeader(header: Uint8Array, headerOffset: number, packBytes: number): PackRecord | null {
  if (header.byteLength < packHeaderBytes) return null;
  const view = new DataView(header.buffer, header.byteOffset, packHeaderBytes);
  if (view.getUint32(40, true) !== crc32cRange(header, 0, 40)) return null;
  const length = view.getUint32(0, true);
  const kind = header[4];
  if (header[5] !== 0 || header[6] !== 0 || header[7] !== 0) return null;
  const hash = bytesToHex(header.subarray(8, 40));
  const offset = headerOffset + packHeaderBytes;
  if (kind === kindTombstone && length === 0) return { kind: 'tombstone', hash, offset, length: 0 };
  if ((kind !== kindBlock && kind !== kindPadding) || offset + length > packBytes) return null;
  return kind === kindBlock ? { kind: 'block', hash, offset, length } : { kind: 'padding', offset, length };
}

/**
 * The records of a pack, by reading `readAt(offset, length)` header after header, and the
 * length of its intact prefix. `readAt` may return fewer bytes at the end of the file.
 */
export function readPackRecords(readAt: (offset: number, length: number) => Uint8Array | null, packBytes: number): { records: PackRecord[]; intactBytes: number } {
  const records: PackRecord[] = [];
  let offset = 0;
  while (offset + packHeaderBytes <= packBytes) {
    const header = readAt(offset, packHeaderBytes);
    const record = header === null ? null : decodeRecordHeader(header, offset, packBytes);
    if (record === null) break;
    records.push(record);
    offset = record.offset + record.length;
  }
  return { records, intactBytes: offset };
}

/** The records of a pack held whole in memory. */
export function parsePack(bytes: Uint8Array): { records: PackRecord[]; intactBytes: number } {
  return readPackRecords((offset, length) => bytes.subarray(offset, offset + length), bytes.byteLength);
}

/**
 * Where each held block is, from every pack's records replayed oldest pack first: a block
 * record places the block, a tombstone removes it.
 */
export function replayPacks(packs: Iterable<{ seq: number; records: readonly PackRecord[] }>): Map<BlockHash, PackLocation> {
  const held = new Map<BlockHash, PackLocation>();
  for (const { seq, records } of packs) {
    for (const record of records) {
      if (record.kind === 'block') held.set(record.hash, { pack: seq, offset: record.offset, length: record.length });
      else if (record.kind === 'tombstone') held.delete(record.hash);
    }
  }
  return held;
}

/** What reading packs back needs of a storage. */
export type PackReader = {
  list(prefix: string): string[];
  size(file: string): number | null;
  readRange(file: string, offset: number, length: number): Uint8Array | null;
};

/** Every pack in `storage`, oldest first, with its length and records (headers only are read). */
export function readPacks(storage: PackReader): { seq: number; bytes: number; records: PackRecord[] }[] {
  return packSeqs(storage.list(packListPrefix)).map((seq) => {
    const file = packFile(seq);
    const bytes = storage.size(file) ?? 0;
    return { seq, bytes, records: readPackRecords((offset, length) => storage.readRange(file, offset, length), bytes).records };
  });
}

/** Where each block held in `storage`'s packs is, read from the disk as it is now. */
export function packedBlocks(storage: PackReader): Map<BlockHash, PackLocation> {
  return replayPacks(readPacks(storage));
}

/**
 * The bytes the disk holds for block `hash` (unverified), or null when no pack holds it.
 * A running node may compact the pack holding the copy between the lookup and the read
 * (the copy is durable in a newer pack before the old one goes), so a pack that vanished
 * meanwhile is looked up again.
 */
export function packedCopy(storage: PackReader, hash: BlockHash): Uint8Array | null {
  for (let attempt = 0; attempt < 10; attempt++) {
    const location = packedBlocks(storage).get(hash);
    if (location === undefined) return null;
    const bytes = storage.readRange(packFile(location.pack), location.offset, location.length);
    if (bytes !== null) return bytes;
  }
  return null;
}
