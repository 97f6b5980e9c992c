// The raw disk baseline of the `upload` benchmark: how fast this machine's data disk takes
// sequential writes that are made durable, so upload throughput can be read as a fraction
// of what the hardware allows. MB here is 1e6 bytes (as disk makers and `dd` count).
//
//   node --import tsx bench/disk.ts [DIR]    measures DIR (default: the current directory)

import { randomFillSync } from 'node:crypto';
import { open, rm } from 'node:fs/promises';
import { constants, realpathSync } from 'node:fs';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { pathToFileURL } from 'node:url';
import { directAlignment } from '../node/host/fs-storage.ts';
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
   * `copies` files of `bytes` each, written with O_DIRECT from one page-aligned buffer and
   * kept until the last is synced: the volume R replicas write, the way a node writes its
   * block packs. Null where the file system refuses O_DIRECT, or when `bytes` or
   * `chunkBytes` is not a multiple of directAlignment (O_DIRECT writes whole pages).
   */
  direct: DiskRate | null;
}

const syncEveryBytes = 4 * 1024 * 1024;
const megabyte = 1e6;

/**
 * Measures the raw sequential write+sync rate of the disk holding `dir`: writes `bytes`
 * (default 1 GiB) to a fresh file in `dir` in chunks of `chunkBytes` (default 1 MiB, one
 * random-filled buffer reused so compression or deduplication below cannot flatter the
 * number), timed from open to the end of the final fsync.
 *
 * Through the page cache, the rate on this VM depends on the memory the cache fills:
 * pages the guest freed moments ago take writes at about 2.8 GB/s, pages it has not
 * touched for a while at 0.3-0.4 GB/s (the host backs them on first touch). O_DIRECT
 * skips that memory. So the passes are, in order:
 * - `direct`: `copies` files with O_DIRECT, kept until the last is synced (what R
 *   replicas write, as they write it);
 * - an untimed warm-up pass, then `sequential` (one fsync at the end) and
 *   `syncEvery4MiB` through the page cache, each deleting its file, so each writes into
 *   the pages the one before it freed: the page cache's best case.
 * Every file is deleted after its pass, also on failure.
 */
export async function measureDiskWriteSync(dir: string, options: { bytes?: number; chunkBytes?: number; copies?: number } = {}): Promise<DiskRates> {
  const bytes = options.bytes ?? 1024 * 1024 * 1024;
  const chunkBytes = options.chunkBytes ?? 1024 * 1024;
  const copies = options.copies ?? 1;
  if (!(Number.isInteger(bytes) && bytes > 0)) throw new RangeError(`bytes must be a positive integer, got ${bytes}`);
  if (!(Number.isInteger(chunkBytes) && chunkBytes > 0)) throw new RangeError(`chunkBytes must be a positive integer, got ${chunkBytes}`);
  if (!(Number.isInteger(copies) && copies > 0)) throw new RangeError(`copies must be a positive integer, got ${copies}`);
  // A WebAssembly memory starts on a page boundary, as O_DIRECT needs of the buffer.
  const pages = Math.ceil(chunkBytes / 65536);
  const chunk = randomFillSync(Buffer.from(new WebAssembly.Memory({ initial: pages, maximum: pages }).buffer, 0, chunkBytes));
  const path = join(dir, `.raftbox-disk-bench-${process.pid}`);
  // O_DIRECT takes whole pages only; EINVAL on open is a file system without it.
  const aligned = bytes % directAlignment === 0 && chunkBytes % directAlignment === 0;
  const copyPaths = Array.from({ length: copies }, (_, i) => `${path}-${i}`);
  const direct = !aligned
    ? null
    : await timedWrite(copyPaths, bytes, chunk, Infinity, 'direct').catch((error: NodeJS.ErrnoException) => {
        if (error.code === 'EINVAL') return null;
        throw error;
      });
  await timedWrite([path], bytes, chunk, Infinity);
  const sequential = await timedWrite([path], bytes, chunk, Infinity);
  const syncEvery4MiB = await timedWrite([path], bytes, chunk, syncEveryBytes);
  return { sequential, syncEvery4MiB, direct };
}

/**
 * Writes `bytes` to each of `paths` in turn, all kept until the last is synced, then
 * deletes them; the rate counts every file. With `direct`, `bytes` and the chunk's length
 * must be multiples of directAlignment.
 */
async function timedWrite(paths: string[], bytes: number, chunk: Buffer, syncEvery: number, mode: 'cached' | 'direct' = 'cached'): Promise<DiskRate> {
  const started = performance.now();
  try {
    for (const path of paths) await writeSynced(path, bytes, chunk, syncEvery, mode);
    const seconds = (performance.now() - started) / 1000;
    const total = bytes * paths.length;
    return { bytes: total, seconds, megabytesPerSecond: total / megabyte / seconds };
  } finally {
    await Promise.all(paths.map((path) => rm(path, { force: true })));
  }
}

async function writeSynced(path: string, bytes: number, chunk: Buffer, syncEvery: number, mode: 'cached' | 'direct'): Promise<void> {
  const file = await open(path, mode === 'direct' ? constants.O_WRONLY | constants.O_CREAT | constants.O_TRUNC | constants.O_DIRECT : 'w');
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

/** The rate an upload is judged against: the fastest way the disk took the data. */
export function bestDiskRate(rates: DiskRates): number {
  return Math.max(rates.sequential.megabytesPerSecond, rates.syncEvery4MiB.megabytesPerSecond, rates.direct?.megabytesPerSecond ?? 0);
}

// On this VM one round can be half as fast as the next (the host caches the disk and is
// shared), so the command-line run repeats the measurement and prints the median too.
const cliRounds = 3;
// As many copies as the replicas of the upload benchmark write.
const cliCopies = 3;

async function main(dir: string): Promise<void> {
  process.stdout.write(`disk: 1 GiB sequential writes in 1 MiB chunks to ${dir}, ${cliRounds} rounds (MB = 1e6 bytes)\n\n`);
  const rounds: DiskRates[] = [];
  for (let i = 0; i < cliRounds; i++) rounds.push(await measureDiskWriteSync(dir, { copies: cliCopies }));
  const ratesOf = (pick: (rates: DiskRates) => DiskRate | null): (number | null)[] => rounds.map((measured) => pick(measured)?.megabytesPerSecond ?? null);
  const row = (name: string, pick: (rates: DiskRates) => DiskRate | null): (string | number)[] => {
    const rates = ratesOf(pick);
    const measured = rates.filter((rate): rate is number => rate !== null);
    return [name, ...rates.map((rate) => (rate === null ? 'refused' : round(rate, 1))), measured.length > 0 ? round(median(measured), 1) : 'refused'];
  };
  const roundTitles = rounds.map((_, i) => `MB/s #${i + 1}`);
  printTable(['pass', ...roundTitles, 'median MB/s'], [
    row(`O_DIRECT, ${cliCopies} GiB kept`, (measured) => measured.direct),
    row('fsync at end', (measured) => measured.sequential),
    row('fdatasync every 4 MiB', (measured) => measured.syncEvery4MiB),
  ]);
}

const invokedDirectly = process.argv[1] !== undefined && import.meta.url === pathToFileURL(realpathSync(process.argv[1])).href;
if (invokedDirectly) await main(process.argv[2] ?? process.cwd());
