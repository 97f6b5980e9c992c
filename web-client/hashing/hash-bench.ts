// The page side of `npm run bench -- hash` in Chromium: hashes the file picked in #file
// with a pool of the given size and reports the time. bench/hash-browser.ts builds this
// page, serves it and drives it.

import { HashPool, defaultPoolSize } from './hash-pool.ts';

interface BenchRun {
  workers: number;
  milliseconds: number;
  bytes: number;
  /** The hashes in order, so runs can be checked against each other. */
  digest: string;
}

async function benchHash(workers: number): Promise<BenchRun> {
  const file = (document.querySelector('#file') as HTMLInputElement).files?.[0];
  if (file === undefined) throw new Error('pick a file first');
  const pool = new HashPool(workers);
  try {
    // Warm up: start the workers and compile hash-wasm before the clock runs.
    await pool.hashFile(new Blob([new Uint8Array(1024 * 1024)]));
    const started = performance.now();
    const blocks = await pool.hashFile(file);
    const milliseconds = performance.now() - started;
    return { workers, milliseconds, bytes: file.size, digest: blocks.map((block) => `${block.hash}:${block.size}`).join(',') };
  } finally {
    pool.close();
  }
}

Object.assign(window, { benchHash, defaultPoolSize });
document.body.dataset.ready = 'true';

