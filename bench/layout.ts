// How a node stores many small blocks: the block store's pack files (appends, one
// fdatasync per group of writes) next to one file per block, written the way
// ARCHITECTURE.md first described (`blocks/ab/cd/<hash>`: a temporary name, fdatasync,
// rename, fsync of the folder). Both make every block durable before it counts; the
// figure that matters on a node that shares its cores is the CPU each block costs, since
// at R=3 every block is written on three nodes.
//
//   npm run bench -- layout [--json] [--quick]

import { createHash, randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { open, rename } from 'node:fs/promises';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { BlockStore, type WriteOutcome } from '../node/core/blocks/block-store.ts';
import type { PackSyncedMessage } from '../node/core/blocks/block-messages.ts';
import { isPackFile } from '../node/core/blocks/pack-format.ts';
import { FsStorage } from '../node/host/fs-storage.ts';
import { forEachLimited } from '../protocol/client-blocks.ts';
import type { StorageFailedMessage } from '../protocol/wire.ts';
import { median, printTable, round } from './table.ts';

export interface LayoutRun {
  blocksPerSecond: number;
  /** User plus system CPU of this process per block, in milliseconds. */
  cpuMsPerBlock: number;
}

export interface LayoutBenchmark {
  benchmark: 'layout';
  blocks: number;
  blockBytes: number;
  inFlight: number;
  runs: number;
  packs: LayoutRun;
  filePerBlock: LayoutRun;
  /** Blocks per second three replicas could store on this machine's cores if storing were all they did. */
  ceilingAtR3: { packs: number; filePerBlock: number };
}

const blockBytes = 32 * 1024;
const inFlight = 32;

function sha256(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}

async function measure(blocks: { hash: string; data: Uint8Array }[], write: (block: { hash: string; data: Uint8Array }) => Promise<void>): Promise<LayoutRun> {
  const cpu = process.cpuUsage();
  const started = performance.now();
  await forEachLimited(blocks, inFlight, write);
  const seconds = (performance.now() - started) / 1000;
  const used = process.cpuUsage(cpu);
  return { blocksPerSecond: round(blocks.length / seconds, 0), cpuMsPerBlock: round((used.user + used.system) / 1000 / blocks.length, 3) };
}

// The block store on FsStorage, its completions routed back as the block actor would, and
// its packs written with O_DIRECT as a node writes them.
async function packs(dir: string, blocks: { hash: string; data: Uint8Array }[]): Promise<LayoutRun> {
  let store: BlockStore | null = null;
  const storage = new FsStorage(dir, (message) => {
    const typed = message as PackSyncedMessage | StorageFailedMessage;
    if (typed.type === 'blocks.pack-synced') store!.onSynced(typed);
    else store!.onFailed(typed);
  }, { direct: isPackFile });
  store = new BlockStore(storage, { node: 'bench', sha256, writesInFlightMax: inFlight * 2, waitersPerWriteMax: 4 });
  store.scan();
  try {
    return await measure(blocks, (block) =>
      new Promise<void>((resolve, reject) => {
        const done = (outcome: WriteOutcome): void => (outcome.ok ? resolve() : reject(new Error(outcome.error.message)));
        const start = store!.write(block.hash, block.data, done);
        if (start === 'present') resolve();
        else if (start === 'overloaded') reject(new Error('the block store refused a write as overloaded'));
      }),
    );
  } finally {
    await storage.close();
  }
}

// One file per block: temporary name, fdatasync, rename, fsync of the folder.
async function filePerBlock(dir: string, blocks: { hash: string; data: Uint8Array }[]): Promise<LayoutRun> {
  return measure(blocks, async ({ hash, data }) => {
    const folder = join(dir, 'blocks', hash.slice(0, 2), hash.slice(2, 4));
    mkdirSync(folder, { recursive: true });
    const temporary = join(folder, `${hash}.tmp`);
    const file = await open(temporary, 'w');
    try {
      await file.write(data);
      await file.datasync();
    } finally {
      await file.close();
    }
    await rename(temporary, join(folder, hash));
    const folderHandle = await open(folder, 'r');
    try {
      await folderHandle.sync();
    } finally {
      await folderHandle.close();
    }
  });
}

function medianRun(runs: LayoutRun[]): LayoutRun {
  return { blocksPerSecond: median(runs.map((r) => r.blocksPerSecond)), cpuMsPerBlock: median(runs.map((r) => r.cpuMsPerBlock)) };
}

/** Writes `count` random 32 KiB blocks each way, `runs` times, into fresh folders under the system's temporary folder. */
export async function benchLayout(options: { count: number; runs: number }): Promise<LayoutBenchmark> {
  const results = { packs: [] as LayoutRun[], filePerBlock: [] as LayoutRun[] };
  for (let run = 0; run < options.runs; run++) {
    const blocks = Array.from({ length: options.count }, () => {
      const data = randomBytes(blockBytes);
      return { hash: sha256(data), data };
    });
    for (const [name, write] of [['packs', packs], ['filePerBlock', filePerBlock]] as const) {
      const dir = mkdtempSync(join(tmpdir(), `raftbox-layout-${name}-`));
      try {
        results[name].push(await write(dir, blocks));
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    }
  }
  const packsMedian = medianRun(results.packs);
  const filesMedian = medianRun(results.filePerBlock);
  const ceiling = (run: LayoutRun): number => round((availableParallelism() * 1000) / (3 * run.cpuMsPerBlock), 0);
  return {
    benchmark: 'layout',
    blocks: options.count,
    blockBytes,
    inFlight,
    runs: options.runs,
    packs: packsMedian,
    filePerBlock: filesMedian,
    ceilingAtR3: { packs: ceiling(packsMedian), filePerBlock: ceiling(filesMedian) },
  };
}

export function printLayout(result: LayoutBenchmark): void {
  printTable(
    ['layout', 'blocks/s', 'CPU ms/block', 'ceiling at R=3 (blocks/s)'],
    [
      ['pack files, group commit', result.packs.blocksPerSecond, result.packs.cpuMsPerBlock, result.ceilingAtR3.packs],
      ['one file per block', result.filePerBlock.blocksPerSecond, result.filePerBlock.cpuMsPerBlock, result.ceilingAtR3.filePerBlock],
    ],
  );
  console.log(`${result.blocks} blocks of ${result.blockBytes / 1024} KiB, ${result.inFlight} in flight, median of ${result.runs} runs; the ceiling is this machine's ${availableParallelism()} cores divided by 3 copies of the CPU per block`);
}
