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

/** The passes of {@link measureDiskWriteSync}. */
export interface DiskRates {
  /** Everything written, then one fsync at the end. */
  sequential: DiskRate;
  /** An fdatasync after every 4 MiB written, closer to how a block store commits. */
  syncEvery4MiB: DiskRate;
  /**
   * `copies` files of `bytes` each, written one after another and kept until the last is
   * synced: the volume of new data R replicas write, none of it into memory a previous
   * pass just freed. Measured first, before any pass frees pages.
   */
  newData: DiskRate;
}

const syncEveryBytes = 4 * 1024 * 1024;
const megabyte = 1e6;

/**
 * Measures the raw sequential write+sync rate of the disk holding `dir`: writes `bytes`
 * (default 1 GiB) to a fresh file in `dir` in chunks of `chunkBytes` (default 1 MiB, one
 * random-filled Buffer reused so compression or deduplication below cannot flatter the
 * number), timed from open to the end of the final fsync.
 *
 * On this VM the rate depends on the memory the page cache fills: pages the guest freed
 * moments ago take writes at about 2.8 GB/s, pages it has not touched for a while at
 * 0.3-0.4 GB/s (the host backs them on first touch). So the passes are, in order:
 * - `newData`: `copies` files, kept until the last is synced (what R replicas write);
 * - an untimed warm-up pass, then `sequential` (one fsync at the end) and
 *   `syncEvery4MiB`, each deleting its file, so each writes into the pages the one
 *   before it freed: the disk's best case.
 * Every file is deleted after its pass, also on failure.
 */
export async function measureDiskWriteSync(dir: string, options: { bytes?: number; chunkBytes?: number; copies?: number } = {}): Promise<DiskRates> {
  const bytes = options.bytes ?? 1024 * 1024 * 1024;
  const chunkBytes = options.chunkBytes ?? 1024 * 1024;
  const copies = options.copies ?? 1;
  if (!(Number.isInteger(bytes) && bytes > 0)) throw new RangeError(`bytes must be a positive integer, got ${bytes}`);
  if (!(Number.isInteger(chunkBytes) && chunkBytes > 0)) throw new RangeError(`chunkBytes must be a positive integer, got ${chunkBytes}`);
  if (!(Number.isInteger(copies) && copies > 0)) throw new RangeError(`copies must be a positive integer, got ${copies}`);
  const chunk = randomFillSync(Buffer.alloc(chunkBytes));
  const path = join(dir, `.raftbox-disk-bench-${process.pid}`);
  const newData = await timedWrite(Array.from({ length: copies }, (_, i) => `${path}-${i}`), bytes, chunk, Infinity);
  await timedWrite([path], bytes, chunk, Infinity);
  const sequential = await timedWrite([path], bytes, chunk, Infinity);
  const syncEvery4MiB = await timedWrite([path], bytes, chunk, syncEveryBytes);
  return { sequential, syncEvery4MiB, newData };
}

/** Writes `bytes` to each of `paths` in turn, all kept until the last is synced, then deletes them; the rate counts every file. */
async function timedWrite(paths: string[], bytes: number, chunk: Buffer, syncEvery: number): Promise<DiskRate> {
  const started = performance.now();
  try {
    for (const path of paths) await writeSynced(path, bytes, chunk, syncEvery);
    const seconds = (performance.now() - started) / 1000;
    const total = bytes * paths.length;
    return { bytes: total, seconds, megabytesPerSecond: total / megabyte / seconds };
  } finally {
    await Promise.all(paths.map((path) => rm(path, { force: true })));
  }
}

async function writeSynced(path: string, bytes: number, chunk: Buffer, syncEvery: number): Promise<void> {
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
  } finally {
    await file.close();
  }
}

// On this VM one round can be half as fast as the next (the host caches the disk and is
// shared), so the direct run repeats the measurement and prints the median too. A later
// round's new-data pass can reuse pages the rounds before it freed, so its first round is
// the one closest to what an upload into a long-running cluster meets.
const directRounds = 3;
// As many new-data copies as the replicas of the upload benchmark write.
const directCopies = 3;

async function main(dir: string): Promise<void> {
  process.stdout.write(`disk: 1 GiB sequential writes in 1 MiB chunks to ${dir}, ${directRounds} rounds (MB = 1e6 bytes)\n\n`);
  const rounds: DiskRates[] = [];
  for (let i = 0; i < directRounds; i++) rounds.push(await measureDiskWriteSync(dir, { copies: directCopies }));
  const ratesOf = (pick: (rates: DiskRates) => DiskRate): number[] => rounds.map((measured) => pick(measured).megabytesPerSecond);
  const row = (name: string, pick: (rates: DiskRates) => DiskRate): (string | number)[] => [
    name,
    ...ratesOf(pick).map((rate) => round(rate, 1)),
    round(median(ratesOf(pick)), 1),
  ];
  const roundTitles = rounds.map((_, i) => `MB/s #${i + 1}`);
  printTable(['pass', ...roundTitles, 'median MB/s'], [
    row(`${directCopies} GiB of new data, kept`, (measured) => measured.newData),
    row('fsync at end', (measured) => measured.sequential),
    row('fdatasync every 4 MiB', (measured) => measured.syncEvery4MiB),
  ]);
}

const invokedDirectly = process.argv[1] !== undefined && import.meta.url === pathToFileURL(realpathSync(process.argv[1])).href;
if (invokedDirectly) await main(process.argv[2] ?? process.cwd());
