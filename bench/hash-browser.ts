// The browser half of `npm run bench -- hash`: a 512 MiB file (128 MiB with --quick) is
// cut by FastCDC and hashed with hash-wasm SHA-256 in real Chromium, by the web client's
// worker pool (one worker per core) and by one worker, reading the file as the web client
// does (a File picked in an <input>, read as a stream). Goal: the pool at least 1.7× one
// worker on 2 cores, and one worker at least 200 MB/s. Baselines in the same run: hash-wasm
// SHA-256 alone over the file (no FastCDC) in one worker and in as many as the pool has at
// once, the most the pool could reach here, and reading the file alone.

import { closeSync, mkdtempSync, openSync, rmSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { median } from './table.ts';
import { launchChromium, serveApp } from '../web-client/test-support/browser-harness.ts';
import { buildHashPage } from '../web-client/test-support/hash-page.ts';

const mebibyte = 1024 * 1024;
/** Runs of each set-up, alternating; the median counts. */
const benchRounds = 5;

export interface HashBrowserResult {
  poolMbPerSecond: number;
  oneWorkerMbPerSecond: number;
  speedup: number;
  workers: number;
  /** hash-wasm SHA-256 without FastCDC, one worker, and `workers` workers at once (MB/s over all of them). */
  sha256OneWorkerMbPerSecond: number;
  sha256WorkersMbPerSecond: number;
  sha256Speedup: number;
  /** Reading the file alone in one worker. */
  readMbPerSecond: number;
}

// Random-looking bytes (so FastCDC cuts at content, not at a run of zeros), written in pieces.
function writeRandomFile(path: string, bytes: number): void {
  const piece = new Uint8Array(8 * mebibyte);
  let x = 0x2545f491;
  const fd = openSync(path, 'w');
  try {
    for (let written = 0; written < bytes; written += piece.length) {
      for (let i = 0; i < piece.length; i += 4) {
        x ^= x << 13;
        x ^= x >>> 17;
        x ^= x << 5;
        piece[i] = x;
        piece[i + 1] = x >>> 8;
        piece[i + 2] = x >>> 16;
        piece[i + 3] = x >>> 24;
      }
      writeSync(fd, piece, 0, Math.min(piece.length, bytes - written));
    }
  } finally {
    closeSync(fd);
  }
}

/** Runs the browser hashing benchmark and returns MB/s (10^6 bytes per second) of both set-ups. */
export async function benchHashBrowser(options: { quick?: boolean }): Promise<HashBrowserResult> {
  const work = mkdtempSync(join(tmpdir(), 'raftbox-hash-bench-'));
  const cleanups: (() => Promise<unknown> | void)[] = [() => rmSync(work, { recursive: true, force: true })];
  try {
    const file = join(work, 'input.bin');
    writeRandomFile(file, (options.quick ? 128 : 512) * mebibyte);
    const outDir = join(work, 'web');
    await buildHashPage(outDir);
    const { url, server } = await serveApp(outDir, []);
    cleanups.push(() => new Promise((done) => server.close(done)));
    const browser = await launchChromium();
    cleanups.push(() => browser.close());
    const page = await browser.newPage();
    await page.goto(`${url}hashing/hash-bench.html`);
    await page.waitForSelector('body[data-ready="true"]');
    await page.setInputFiles('#file', file);
    const workers = await page.evaluate(() => (window as unknown as { defaultPoolSize(): number }).defaultPoolSize());
    type Run = { milliseconds: number; bytes: number };
    const hash = (size: number) => page.evaluate((size) => (window as unknown as { benchHash(size: number): Promise<Run & { digest: string }> }).benchHash(size), size);
    const baseline = (kind: 'read' | 'sha256', size: number) =>
      page.evaluate(([kind, size]) => (window as unknown as { benchBaseline(kind: string, size: number): Promise<Run> }).benchBaseline(kind, size), [kind, size] as const);
    // Alternating set-ups, so a noisy neighbour hurts them all alike.
    const one: (Run & { digest: string })[] = [];
    const pool: (Run & { digest: string })[] = [];
    const shaOne: Run[] = [];
    const shaAll: Run[] = [];
    const read: Run[] = [];
    for (let round = 0; round < benchRounds; round++) {
      one.push(await hash(1));
      pool.push(await hash(workers));
      shaOne.push(await baseline('sha256', 1));
      shaAll.push(await baseline('sha256', workers));
      read.push(await baseline('read', 1));
    }
    if (new Set([...one, ...pool].map((result) => result.digest)).size !== 1) throw new Error('the pool and one worker cut or hashed the file differently');
    const rate = (results: Run[]): number => Math.round(median(results.map((result) => result.bytes / 1e6 / (result.milliseconds / 1000))));
    const ratio = (a: number, b: number): number => Math.round((a / b) * 100) / 100;
    const oneWorkerMbPerSecond = rate(one);
    const poolMbPerSecond = rate(pool);
    const sha256OneWorkerMbPerSecond = rate(shaOne);
    const sha256WorkersMbPerSecond = rate(shaAll);
    return {
      poolMbPerSecond,
      oneWorkerMbPerSecond,
      speedup: ratio(poolMbPerSecond, oneWorkerMbPerSecond),
      workers,
      sha256OneWorkerMbPerSecond,
      sha256WorkersMbPerSecond,
      sha256Speedup: ratio(sha256WorkersMbPerSecond, sha256OneWorkerMbPerSecond),
      readMbPerSecond: rate(read),
    };
  } finally {
    for (const cleanup of cleanups.reverse()) await cleanup();
  }
}

// `node --import tsx bench/hash-browser.ts [--quick]` runs it alone.
if (process.argv[1] !== undefined && fileURLToPath(import.meta.url) === process.argv[1]) {
  const result = await benchHashBrowser({ quick: process.argv.includes('--quick') });
  console.log(JSON.stringify(result));
}
