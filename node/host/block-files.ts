// Reading block files straight off nodes' disks, for process-level tests and benchmarks
// that must check copies where they physically are, not where the registry says.

import { createHash } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/** Where node data folder `dataDir` keeps block `hash` (blocks/ab/cd/<hash>). */
export function blockPath(dataDir: string, hash: string): string {
  return join(dataDir, 'blocks', hash.slice(0, 2), hash.slice(2, 4), hash);
}

/** The data folders among `dataDirs` holding a copy of `hash` whose bytes hash to its name. */
export function goodCopies(dataDirs: string[], hash: string): string[] {
  return dataDirs.filter((dir) => {
    const path = blockPath(dir, hash);
    return existsSync(path) && createHash('sha256').update(readFileSync(path)).digest('hex') === hash;
  });
}

/** Flips one bit of the copy of `hash` in `dataDir`, as a failing disk would. */
export function corruptCopy(dataDir: string, hash: string, offset = 0): void {
  const path = blockPath(dataDir, hash);
  const bytes = readFileSync(path);
  bytes[offset % bytes.length] ^= 0x01;
  writeFileSync(path, bytes);
}
