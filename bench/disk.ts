// The raw disk baseline of the `upload` benchmark: how fast this machine's data disk takes
// sequential writes that are made durable, so upload throughput can be read as a fraction
// of what the hardware allows. MB here is 1e6 bytes (as disk makers and `dd` count).
//
//   node --import tsx bench/disk.ts [DIR]    measures DIR (default: the current directory)

import { randomFillSync } from 'node:crypto';
import { open, rm } from 'node:fs/promises';
import { realpathSync } from 'node:fs';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { pathToFileURL } from 'node:url';
import { median, printTable, round } from './table.ts';

/** One measured write pass. megabytesPerSecond uses MB = 1e6 bytes. */
export interface DiskRate {
  bytes: number;
  seconds: number;
  megabytesPerSecond: number;
}

/** Both passes of {@link measureDiskWriteSync}. */
export interface DiskRates {
  /** Everything written, then one fsync at the end. */
  sequential: DiskRate;
  /** An fdatasync after every 4 MiB written, closer to how a block store commits. */
  syncEvery4MiB: DiskRate;
}

const syncEveryBytes = 4 * 1024 * 1024;
const megabyte = 1e6;

/**
 * Measures the raw sequential write+sync rate of the disk holding `dir`: writes `bytes`
 * (default 1 GiB) to a fresh file in `dir` in chunks of `chunkBytes` (default 1 MiB, one
 * random-filled Buffer reused so compression or deduplication below cannot flatter the
 * number), timed from open to the end of the final fsync. After one untimed warm-up pass
 * it measures two: one with a single fsync at the end, one with an fdatasync every 4 MiB.
 * The file is deleted after each pass, also on failure.
 */
export async function measureDiskWriteSync(dir: string, options: { bytes?: number; chunkBytes?: number } = {}): Promise<DiskRates> {
  const bytes = options.bytes ?? 1024 * 1024 * 1024;
  const chunkBytes = options.chunkBytes ?? 1024 * 1024;
  if (!(Number.isInteger(bytes) && bytes > 0)) throw new RangeError(`bytes must be a positive integer, got ${bytes}`);
  if (!(Number.isInteger(chunkBytes) && chunkBytes > 0)) throw new RangeError(`chunkBytes must be a positive integer, got ${chunkBytes}`);
  const chunk = randomFillSync(Buffer.alloc(chunkBytes));
  const path = join(dir, `.raftbox-disk-bench-${process.pid}`);
  // The first gigabyte a process writes on this VM runs at a fifth of the later rate (the
  // guest's page cache touching fresh memory, not the disk), so one untimed pass goes first.
  await timedWrite(path, bytes, chunk, Infinity);
  const sequential = await timedWrite(path, bytes, chunk, Infinity);
  const syncEvery4MiB = await timedWrite(path, bytes, chunk, syncEveryBytes);
  return { sequential, syncEvery4MiB };
}

async function timedWrite(path: string, bytes: number, chunk: Buffer, syncEvery: number): Promise<DiskRate> {
  const started = performance.now();
  const file = await open(path, 'w');
  try {
    let written = 0;
    let unsynced = 0;
    while (written < bytes) {
      const length = Math.min(chunk.length, bytes - written);
      const { bytesWritten } = await file.write(chunk, 0, length);
      written += bytesWritten;
      unsynced += bytesWritten;
      if (unsynced >= syncEvery) {
        await file.datasync();
        unsynced = 0;
      }
    }
    await file.sync();
    const seconds = (performance.now() - started) / 1000;
    return { bytes, seconds, megabytesPerSecond: bytes / megabyte / seconds };
  } finally {
    await file.close();
    await rm(path, { force: true });
  }
}

// On this VM one round can be half as fast as the next (the host caches the disk and is
// shared), so the direct run repeats the measurement and prints the median too.
const directRounds = 3;

async function main(dir: string): Promise<void> {
  process.stdout.write(`disk: 1 GiB sequential writes in 1 MiB chunks to ${dir}, ${directRounds} rounds (MB = 1e6 bytes)\n\n`);
  const rounds: DiskRates[] = [];
  for (let i = 0; i < directRounds; i++) rounds.push(await measureDiskWriteSync(dir));
  const ratesOf = (pick: (rates: DiskRates) => DiskRate): number[] => rounds.map((measured) => pick(measured).megabytesPerSecond);
  const row = (name: string, pick: (rates: DiskRates) => DiskRate): (string | number)[] => [
    name,
    ...ratesOf(pick).map((rate) => round(rate, 1)),
    round(median(ratesOf(pick)), 1),
  ];
  const roundTitles = rounds.map((_, i) => `MB/s #${i + 1}`);
  printTable(['pass', ...roundTitles, 'median MB/s'], [
    row('fsync at end', (measured) => measured.sequential),
    row('fdatasync every 4 MiB', (measured) => measured.syncEvery4MiB),
  ]);
}

const invokedDirectly = process.argv[1] !== undefined && import.meta.url === pathToFileURL(realpathSync(process.argv[1])).href;
if (invokedDirectly) await main(process.argv[2] ?? process.cwd());
