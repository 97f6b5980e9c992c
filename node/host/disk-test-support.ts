// Test support for full-disk cases on a real file system: a small tmpfs mounted for the
// test (which needs root; elsewhere the test says it was skipped), and a way to fill it.

import { spawnSync } from 'node:child_process';
import { appendFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/**
 * Runs `body` with a fresh folder on a tmpfs of `size` (such as '256k'), then unmounts and
 * removes it. When mounting is not permitted, says so on the console and skips `body`.
 */
export async function withSmallDisk(size: string, body: (folder: string) => Promise<void>): Promise<void> {
  const folder = mkdtempSync(join(tmpdir(), 'raftbox-small-disk-'));
  try {
    if (spawnSync('mount', ['-t', 'tmpfs', '-o', `size=${size}`, 'tmpfs', folder], { stdio: 'ignore' }).status !== 0) {
      console.log(`full disk (a real ${size} tmpfs): mounting is not permitted here, skipped`);
      return;
    }
    try {
      await body(folder);
    } finally {
      // Lazy, so a failed assertion that left a descriptor open cannot make the unmount fail.
      spawnSync('umount', ['-l', folder]);
    }
  } finally {
    rmSync(folder, { recursive: true, force: true });
  }
}

/** Fills the file system holding `folder` with one file, a page at a time, until it reports ENOSPC. */
export function fillDisk(folder: string): void {
  for (;;) {
    try {
      appendFileSync(join(folder, 'filler'), Buffer.alloc(4096, 1));
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOSPC') return;
      throw error;
    }
  }
}
