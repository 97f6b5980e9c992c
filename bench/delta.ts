// `npm run bench -- delta`: how much an edit to a large synced file costs on the wire.
// A 256 MiB random file is synced to a 3-node cluster, then edited three ways, each
// synced again: (a) 1 byte inserted in the middle, (b) 1 MiB appended, (c) 1 byte
// overwritten. Each row shows the bytes the sync uploaded beside what fixed 4 MiB blocks
// would have sent for the same edit (every fixed block whose bytes changed). Goal: ≤ 3 MiB
// for (a) and (c), ≤ 2 MiB for (b). The figures are exact byte counts, not timings, so
// one run is the median of any number of runs.

import { createHash, randomFillSync } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LocalCluster, waitForLeader } from '../node/host/local-cluster.ts';
import { connect } from '../node/sdk.ts';
import { SyncedFolder } from '../node/sync/folder-sync.ts';
import { printTable } from './table.ts';
import { concatBytes } from '../protocol/bytes.ts';

const mebibyte = 1024 * 1024;
const fixedBlockBytes = 4 * mebibyte;

export interface DeltaCase {
  edit: 'insert-middle' | 'append-1MiB' | 'overwrite-byte';
  uploadedBytes: number;
  uploadedBlocks: number;
  fixedBlocksBytes: number;
  goalBytesMax: number;
  met: boolean;
}

export interface DeltaBenchmark {
  benchmark: 'delta';
  fileBytes: number;
  initialUploadBytes: number;
  cases: DeltaCase[];
  met: boolean;
}

/** Bytes a fixed-size-block sync would send to go from `before` to `after`: every block of `after` not among `before`'s. */
export function fixedBlockUpload(before: Uint8Array, after: Uint8Array, blockBytes = fixedBlockBytes): number {
  const hashes = (data: Uint8Array): string[] => {
    const out: string[] = [];
    for (let start = 0; start < data.length; start += blockBytes) out.push(createHash('sha256').update(data.subarray(start, start + blockBytes)).digest('hex'));
    return out;
  };
  const known = new Set(hashes(before));
  let bytes = 0;
  hashes(after).forEach((hash, index) => {
    if (!known.has(hash)) bytes += Math.min(blockBytes, after.length - index * blockBytes);
  });
  return bytes;
}

export async function benchDelta(options: { fileBytes: number }): Promise<DeltaBenchmark> {
  const cluster = await LocalCluster.start({ nodes: 3 });
  const dir = mkdtempSync(join(tmpdir(), 'raftbox-delta-'));
  let folder: SyncedFolder | null = null;
  try {
    const probe = await connect({ servers: cluster.urls });
    await waitForLeader(probe);
    await probe.close();
    const path = join(dir, 'large.bin');
    const original = new Uint8Array(options.fileBytes);
    for (let offset = 0; offset < original.length; offset += 1 << 16) randomFillSync(original, offset, Math.min(1 << 16, original.length - offset));
    writeFileSync(path, original);
    folder = await SyncedFolder.open({ dir, servers: cluster.urls });
    const initial = await folder.sync();
    const middle = Math.floor(original.length / 2);
    const edits: { edit: DeltaCase['edit']; goalBytesMax: number; apply: (data: Uint8Array) => Uint8Array }[] = [
      { edit: 'insert-middle', goalBytesMax: 3 * mebibyte, apply: (data) => concatBytes([data.subarray(0, middle), Uint8Array.of(42), data.subarray(middle)]) },
      { edit: 'append-1MiB', goalBytesMax: 2 * mebibyte, apply: (data) => concatBytes([data, randomFillSync(new Uint8Array(mebibyte))]) },
      { edit: 'overwrite-byte', goalBytesMax: 3 * mebibyte, apply: (data) => overwrite(data, middle + 12345) },
    ];
    const cases: DeltaCase[] = [];
    let current: Uint8Array = original;
    for (const { edit, goalBytesMax, apply } of edits) {
      const next = apply(current);
      writeFileSync(path, next);
      const summary = await folder.sync();
      if (summary.filesUp !== 1) throw new Error(`the ${edit} edit synced ${summary.filesUp} files, expected 1`);
      cases.push({ edit, uploadedBytes: summary.uploadedBytes, uploadedBlocks: summary.uploadedBlocks, fixedBlocksBytes: fixedBlockUpload(current, next), goalBytesMax, met: summary.uploadedBytes <= goalBytesMax });
      current = next;
    }
    // The cluster must hold exactly the final bytes.
    const reader = await connect({ servers: cluster.urls });
    const stored = await reader.readFile('large.bin');
    await reader.close();
    if (stored === null || Buffer.compare(Buffer.from(stored.data), Buffer.from(readFileSync(path))) !== 0) throw new Error('the cluster copy differs from the edited file');
    return { benchmark: 'delta', fileBytes: options.fileBytes, initialUploadBytes: initial.uploadedBytes, cases, met: cases.every((item) => item.met) };
  } finally {
    await folder?.close();
    await cluster.destroy();
    rmSync(dir, { recursive: true, force: true });
  }
}


function overwrite(data: Uint8Array, at: number): Uint8Array {
  const out = data.slice();
  out[at] = out[at]! ^ 0xff;
  return out;
}

export function printDelta(result: DeltaBenchmark): void {
  const mib = (bytes: number): string => (bytes / mebibyte).toFixed(2);
  console.log(`delta: a ${mib(result.fileBytes)} MiB random file (first sync uploaded ${mib(result.initialUploadBytes)} MiB), then one edit per row`);
  printTable(
    ['edit', 'uploaded MiB', 'blocks', 'fixed 4 MiB blocks MiB', 'goal ≤ MiB', 'met'],
    result.cases.map((item) => [item.edit, mib(item.uploadedBytes), item.uploadedBlocks, mib(item.fixedBlocksBytes), mib(item.goalBytesMax), item.met ? 'yes' : 'NO']),
  );
}
