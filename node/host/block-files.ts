// Reading block copies straight off nodes' disks (their pack files), for process-level
// tests and benchmarks that must check copies where they physically are, not where the
// registry says. The changing helpers (corrupt, plant, lose) act as a failing disk or a
// stray copy would; plant and lose must run while the node is stopped, because a running
// node appends to its packs and keeps their layout in memory.

import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import { join } from 'node:path';
import { encodeRecordHeader, packedBlocks, packedCopy, packFile, packListPrefix, packSeqs } from '../core/blocks/pack-format.ts';
import { FsStorage } from './fs-storage.ts';

/** Data folder `dataDir` as storage, for reading only (reads take no lock and open nothing that stays open). */
function folderReader(dataDir: string): FsStorage {
  return new FsStorage(dataDir, () => undefined);
}

/** The bytes data folder `dataDir` holds for block `hash` (unverified), or null. */
export function copyOf(dataDir: string, hash: string): Uint8Array | null {
  return packedCopy(folderReader(dataDir), hash);
}

/** The data folders among `dataDirs` holding a copy of `hash` whose bytes hash to its name. */
export function goodCopies(dataDirs: string[], hash: string): string[] {
  return dataDirs.filter((dir) => {
    const copy = copyOf(dir, hash);
    return copy !== null && createHash('sha256').update(copy).digest('hex') === hash;
  });
}

/** Flips one bit of the copy of `hash` in `dataDir`, as a failing disk would. */
export function corruptCopy(dataDir: string, hash: string, offset = 0): void {
  const location = packedBlocks(folderReader(dataDir)).get(hash);
  if (location === undefined) throw new Error(`${dataDir} holds no copy of block ${hash}`);
  const fd = fs.openSync(join(dataDir, ...packFile(location.pack).split('/')), 'r+');
  try {
    const position = location.offset + (offset % location.length);
    const byte = Buffer.alloc(1);
    fs.readSync(fd, byte, 0, 1, position);
    byte[0]! ^= 0x01;
    fs.writeSync(fd, byte, 0, 1, position);
  } finally {
    fs.closeSync(fd);
  }
}

/** Adds a pack holding `data` as block `hash` (right or wrong) to a stopped node's folder, as a stray copy. */
export function plantCopy(dataDir: string, hash: string, data: Uint8Array): void {
  fs.writeFileSync(newPackPath(dataDir), Buffer.concat([encodeRecordHeader('block', hash, data.byteLength), data]));
}

/** Records in a stopped node's folder that its copy of `hash` is gone, as a lost file would leave it. */
export function loseCopy(dataDir: string, hash: string): void {
  fs.writeFileSync(newPackPath(dataDir), encodeRecordHeader('tombstone', hash, 0));
}

function newPackPath(dataDir: string): string {
  const last = packSeqs(folderReader(dataDir).list(packListPrefix)).at(-1) ?? 0;
  fs.mkdirSync(join(dataDir, packListPrefix), { recursive: true });
  return join(dataDir, ...packFile(last + 1).split('/'));
}
