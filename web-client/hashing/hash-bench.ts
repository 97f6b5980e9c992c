// The page side of `npm run bench -- hash` in Chromium: hashes the file picked in #file
// with a pool of the given size and reports the time. bench/hash-browser.ts builds this
// page, serves it and drives it.

import { wrap } from 'comlink';
import type { BaselineWorkerApi } from './baseline-worker.ts';
import { HashPool, defaultPoolSize } from './hash-pool.ts';

interface BenchRun {
  workers: number;
  milliseconds: number;
  bytes: number;
  /** The hashes in order, so runs can be checked against each other. */
  digest: string;
}

function pickedFile(): File {
  const file = (document.querySelector('#file') as HTMLInputElement).files?.[0];
  if (file === undefined) throw new Error('pick a file first');
  return file;
}

/**
 * One baseline run: `workers` fresh workers at once, each reading the whole file alone or
 * hashing it with hash-wasm SHA-256 without FastCDC; `bytes` counts every worker's bytes.
 */
async function benchBaseline(kind: 'read' | 'sha256', workers: number): Promise<{ milliseconds: number; bytes: number }> {
  const file = pickedFile();
  const members = Array.from({ length: workers }, () => new Worker(new URL('./baseline-worker.ts', import.meta.url), { type: 'module', name: 'raftbox-hash-baseline' }));
  try {
    const apis = members.map((worker) => wrap<BaselineWorkerApi>(worker));
    await Promise.all(apis.map((api) => api.sha256(new Blob([new Uint8Array(1024 * 1024)]))));
    const started = performance.now();
    await Promise.all(apis.map((api) => (kind === 'read' ? api.read(file) : api.sha256(file))));
    return { milliseconds: performance.now() - started, bytes: file.size * workers };
  } finally {
    for (const worker of members) worker.terminate();
  }
}

async function benchHash(workers: number): Promise<BenchRun> {
  const file = pickedFile();
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

Object.assign(window, { benchHash, benchBaseline, defaultPoolSize });
document.body.dataset.ready = 'true';

