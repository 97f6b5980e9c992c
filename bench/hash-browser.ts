// The browser half of `npm run bench -- hash`: a 512 MiB file (128 MiB with --quick) is
// cut by FastCDC and hashed with hash-wasm SHA-256 in real Chromium, by the web client's
// worker pool (one worker per core) and by one worker, reading the file as the web client
// does (a File picked in an <input>, read in slices). Goal: the pool at least 1.7× one
// worker on 2 cores, and one worker at least 200 MB/s.

import { closeSync, mkdtempSync, openSync, rmSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { launchChromium, serveApp } from '../web-client/test-support/browser-harness.ts';
import { buildHashPage } from '../web-client/test-support/hash-page.ts';

const mebibyte = 1024 * 1024;
/** Runs of each set-up; the best counts. */
const benchRounds = 3;

export interface HashBrowserResult {
  poolMbPerSecond: number;
  oneWorkerMbPerSecond: number;
  speedup: number;
  workers: number;
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
    const run = (size: number) => page.evaluate((size) => (window as unknown as { benchHash(size: number): Promise<{ milliseconds: number; bytes: number; digest: string }> }).benchHash(size), size);
    // Best of three runs each, alternating, so a noisy neighbour hurts both set-ups alike.
    const one: Awaited<ReturnType<typeof run>>[] = [];
    const pool: Awaited<ReturnType<typeof run>>[] = [];
    for (let round = 0; round < benchRounds; round++) {
      one.push(await run(1));
      pool.push(await run(workers));
    }
    if (new Set([...one, ...pool].map((result) => result.digest)).size !== 1) throw new Error('the pool and one worker cut or hashed the file differently');
    const rate = (results: { milliseconds: number; bytes: number }[]): number => Math.max(...results.map((result) => result.bytes / 1e6 / (result.milliseconds / 1000)));
    const oneWorkerMbPerSecond = Math.round(rate(one));
    const poolMbPerSecond = Math.round(rate(pool));
    return { poolMbPerSecond, oneWorkerMbPerSecond, speedup: Math.round((poolMbPerSecond / oneWorkerMbPerSecond) * 100) / 100, workers };
  } finally {
    for (const cleanup of cleanups.reverse()) await cleanup();
  }
}

// `node --import tsx bench/hash-browser.ts [--quick]` runs it alone.
if (process.argv[1] !== undefined && fileURLToPath(import.meta.url) === process.argv[1]) {
  const result = await benchHashBrowser({ quick: process.argv.includes('--quick') });
  console.log(JSON.stringify(result));
}
