// `npm run bench -- upload`: a 1 GiB file up and down (into memory with readFile, and
// streamed to a file on the data disk as `raftbox get` does) through a 3-node cluster with R=3,
// next to the raw sequential write+sync rate of the same disk, measured in the same run
// two ways (bench/disk.ts): through the page cache at its best (into pages just freed),
// and with O_DIRECT for R files kept on disk (the volume the replicas write, the way they
// write their packs). Goal: upload ≥ 70% of (disk rate ÷ R), against the faster of the
// two, and download ≥ 300 MB/s.
// MB is 10^6 bytes.
// Before those, a first `raftbox sync` of a folder of 10,000 files of 1–64 KiB into a
// fresh cluster: files per second, goal ≥ 2,000.

import { randomBytes, randomFillSync, randomInt } from 'node:crypto';
import { mkdirSync, mkdtempSync, openSync, closeSync, readSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { LocalCluster, waitForLeader } from '../node/host/local-cluster.ts';
import { downloadToFile } from '../node/download.ts';
import { connect, type Client } from '../node/sdk.ts';
import { SyncedFolder } from '../node/sync/folder-sync.ts';
import { bestDiskRate, measureDiskWriteSync } from './disk.ts';
import { median, printTable, round } from './table.ts';

export interface UploadRun {
  uploadSeconds: number;
  uploadMegabytesPerSecond: number;
  downloadSeconds: number;
  downloadMegabytesPerSecond: number;
  /** The same file streamed block by block to a file on the data disk, as `raftbox get` does. */
  toDiskSeconds: number;
  toDiskMegabytesPerSecond: number;
}

export interface FilesRun {
  files: number;
  bytes: number;
  seconds: number;
  filesPerSecond: number;
}

export interface UploadBenchmark {
  benchmark: 'upload';
  files: { runs: FilesRun[]; medianFilesPerSecond: number; goal: { target: number; met: boolean } };
  bytes: number;
  replication: number;
  /** Through the page cache, at its best: 1 GiB written into pages a previous pass just freed. */
  diskMegabytesPerSecond: number;
  /** R × the file's size written with O_DIRECT and kept, as the replicas write their packs (see bench/disk.ts); null where refused. */
  directDiskMegabytesPerSecond: number | null;
  runs: UploadRun[];
  median: { uploadMegabytesPerSecond: number; downloadMegabytesPerSecond: number; toDiskMegabytesPerSecond: number };
  goals: {
    /** Against the faster disk rate. */
    uploadMegabytesPerSecond: { target: number; met: boolean };
    downloadMegabytesPerSecond: { target: number; met: boolean };
    toDiskMegabytesPerSecond: { target: number; met: boolean };
  };
}

/** Files per second a first folder sync must reach. */
const filesPerSecondTarget = 2000;
/** MB/s a download must reach. */
const downloadTarget = 300;

/**
 * One first sync of `count` random files of 1–64 KiB (in 100 folders) into a fresh
 * 3-node cluster, timed from the start of the sync (scan and hashing included) to its end.
 */
export async function benchFilesSync(count: number): Promise<FilesRun> {
  const cluster = await LocalCluster.start({ nodes: 3 });
  const dir = mkdtempSync(join(tmpdir(), 'raftbox-files-'));
  try {
    const probe = await connect({ servers: cluster.urls });
    await waitForLeader(probe);
    await probe.close();
    let bytes = 0;
    for (let i = 0; i < count; i++) {
      const folder = join(dir, `folder-${i % 100}`);
      if (i < 100) mkdirSync(folder);
      const data = randomBytes(1024 + randomInt(63 * 1024 + 1));
      bytes += data.length;
      writeFileSync(join(folder, `file-${i}.bin`), data);
    }
    const synced = await SyncedFolder.open({ dir, servers: cluster.urls });
    try {
      const started = performance.now();
      const summary = await synced.sync();
      const seconds = (performance.now() - started) / 1000;
      if (summary.filesUp !== count + 100) throw new Error(`the sync uploaded ${summary.filesUp} entries, expected ${count} files and 100 folders`);
      return { files: count, bytes, seconds: round(seconds), filesPerSecond: round(count / seconds, 0) };
    } finally {
      await synced.close();
    }
  } finally {
    await cluster.destroy();
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Seconds to read `path` into memory; throws unless it reads back as `expected`. */
async function timeReadFile(client: Client, path: string, expected: Uint8Array): Promise<number> {
  const started = performance.now();
  const file = await client.readFile(path);
  const seconds = (performance.now() - started) / 1000;
  if (!file || Buffer.compare(file.data, expected) !== 0) throw new Error(`the downloaded copy of ${path} differs from what was uploaded`);
  return seconds;
}

/**
 * Seconds to stream `path` to the file `copy` as `raftbox get` does; throws unless the
 * file holds `expected`. The copy is compared a piece at a time and then removed, so the
 * check itself takes no gigabyte of memory that the next run would have to find again.
 */
async function timeDownloadToFile(client: Client, path: string, copy: string, expected: Uint8Array): Promise<number> {
  const started = performance.now();
  await downloadToFile(client, path, copy);
  const seconds = (performance.now() - started) / 1000;
  const piece = Buffer.alloc(8 << 20);
  const fd = openSync(copy, 'r');
  try {
    let offset = 0;
    for (;;) {
      const read = readSync(fd, piece, 0, piece.length, offset);
      if (read === 0) break;
      if (Buffer.compare(piece.subarray(0, read), expected.subarray(offset, offset + read)) !== 0) throw new Error(`the copy of ${path} streamed to disk differs from what was uploaded`);
      offset += read;
    }
    if (offset !== expected.length) throw new Error(`the copy of ${path} streamed to disk has ${offset} bytes, not ${expected.length}`);
  } finally {
    closeSync(fd);
    rmSync(copy);
  }
  return seconds;
}

/**
 * Frees the gigabyte a download left behind before the next step is timed, when the
 * bench runs with --expose-gc (npm run bench does). Left to V8, it may still be held when
 * the next step needs as much again, and on this VM memory the guest has not touched
 * lately is several times slower to fill than memory just given back.
 */
function collectGarbage(): void {
  (globalThis as { gc?: () => void }).gc?.();
}

export async function benchUpload(options: { runs: number; bytes: number; files: number }): Promise<UploadBenchmark> {
  // The folder syncs go first, while this process and the machine are as fresh as the
  // clusters they start. The 1 GiB runs move several GiB through this process's and the
  // nodes' buffers and the page cache the downloads read through, and on this VM filling
  // memory the guest has not touched lately is several times slower. Run after them, the
  // syncs gave 1,515-1,881 files/s where the same sync in a fresh process gave 1,900-2,200.
  const filesRuns: FilesRun[] = [];
  for (let run = 0; run < options.runs; run++) filesRuns.push(await benchFilesSync(options.files));
  const replication = 3;
  const cluster = await LocalCluster.start({ nodes: 3, replication });
  const runs: UploadRun[] = [];
  let diskRate = 0;
  let directRate: number | null = null;
  let bestRate = 0;
  try {
    const disk = await measureDiskWriteSync(cluster.root, { bytes: Math.min(options.bytes, 1 << 30), copies: replication });
    diskRate = disk.sequential.megabytesPerSecond;
    directRate = disk.direct?.megabytesPerSecond ?? null;
    bestRate = bestDiskRate(disk);
    const client = await connect({ servers: cluster.urls, device: 'bench-upload' });
    try {
      const data = new Uint8Array(options.bytes);
      for (let run = 0; run < options.runs; run++) {
        // Fresh random bytes each run, so nothing dedupes against an earlier run.
        for (let offset = 0; offset < data.length; offset += 1 << 16) randomFillSync(data, offset, Math.min(1 << 16, data.length - offset));
        const path = `bench/upload-${run}.bin`;
        const up = performance.now();
        await client.writeFile(path, data);
        const uploadSeconds = (performance.now() - up) / 1000;
        const downloadSeconds = await timeReadFile(client, path, data);
        collectGarbage();
        const toDiskSeconds = await timeDownloadToFile(client, path, join(cluster.root, 'download.bin'), data);
        collectGarbage();
        const rate = (seconds: number) => round(options.bytes / 1e6 / seconds, 1);
        runs.push({
          uploadSeconds: round(uploadSeconds),
          uploadMegabytesPerSecond: rate(uploadSeconds),
          downloadSeconds: round(downloadSeconds),
          downloadMegabytesPerSecond: rate(downloadSeconds),
          toDiskSeconds: round(toDiskSeconds),
          toDiskMegabytesPerSecond: rate(toDiskSeconds),
        });
      }
    } finally {
      await client.close();
    }
  } finally {
    await cluster.destroy();
  }
  const up = median(runs.map((r) => r.uploadMegabytesPerSecond));
  const down = median(runs.map((r) => r.downloadMegabytesPerSecond));
  const toDisk = median(runs.map((r) => r.toDiskMegabytesPerSecond));
  // 70% of what the disk allows when each byte is written R times.
  const uploadTarget = round((0.7 * bestRate) / replication, 1);
  const filesRate = median(filesRuns.map((r) => r.filesPerSecond));
  return {
    benchmark: 'upload',
    files: { runs: filesRuns, medianFilesPerSecond: filesRate, goal: { target: filesPerSecondTarget, met: filesRate >= filesPerSecondTarget } },
    bytes: options.bytes,
    replication,
    diskMegabytesPerSecond: round(diskRate, 1),
    directDiskMegabytesPerSecond: directRate === null ? null : round(directRate, 1),
    runs,
    median: { uploadMegabytesPerSecond: up, downloadMegabytesPerSecond: down, toDiskMegabytesPerSecond: toDisk },
    goals: {
      uploadMegabytesPerSecond: { target: uploadTarget, met: up >= uploadTarget },
      downloadMegabytesPerSecond: { target: downloadTarget, met: down >= downloadTarget },
      toDiskMegabytesPerSecond: { target: downloadTarget, met: toDisk >= downloadTarget },
    },
  };
}

export function printUpload(result: UploadBenchmark): void {
  printTable(
    ['run', 'upload s', 'upload MB/s', 'readFile s', 'readFile MB/s', 'to disk s', 'to disk MB/s'],
    result.runs.map((r, i) => [i + 1, r.uploadSeconds, r.uploadMegabytesPerSecond, r.downloadSeconds, r.downloadMegabytesPerSecond, r.toDiskSeconds, r.toDiskMegabytesPerSecond]),
  );
  const g = result.goals;
  const direct = result.directDiskMegabytesPerSecond === null ? 'refused by the file system' : `${result.directDiskMegabytesPerSecond} MB/s`;
  console.log(`${result.bytes / 2 ** 20} MiB at R=${result.replication}; raw disk write+sync: page cache ${result.diskMegabytesPerSecond} MB/s (into just-freed pages), O_DIRECT ${direct} (${result.replication}× the file, kept)`);
  printTable(['run', 'files', 'MB', 'first sync s', 'files/s'], result.files.runs.map((r, i) => [i + 1, r.files, round(r.bytes / 1e6, 1), r.seconds, r.filesPerSecond]));
  console.log(`median first sync of many small files: ${result.files.medianFilesPerSecond} files/s (goal ≥ ${result.files.goal.target}: ${result.files.goal.met ? 'met' : 'missed'})`);
  const verdict = (goal: { met: boolean }) => (goal.met ? 'met' : 'missed');
  console.log(`median upload ${result.median.uploadMegabytesPerSecond} MB/s (goal ≥ ${g.uploadMegabytesPerSecond.target}, 70% of the faster disk rate ÷ R: ${verdict(g.uploadMegabytesPerSecond)})`);
  console.log(`median download into memory (readFile) ${result.median.downloadMegabytesPerSecond} MB/s, streamed to disk (raftbox get) ${result.median.toDiskMegabytesPerSecond} MB/s (goal ≥ ${g.downloadMegabytesPerSecond.target}: ${verdict(g.downloadMegabytesPerSecond)} / ${verdict(g.toDiskMegabytesPerSecond)})`);
}
