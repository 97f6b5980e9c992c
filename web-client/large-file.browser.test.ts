// Large file: a 1 GiB file added with the "Add files" button goes through hashing,
// IndexedDB and upload without the page's JavaScript heap ever holding more than a small
// part of it, and the cluster ends up with exactly the blocks FastCDC cuts from it.

import { closeSync, createReadStream, mkdtempSync, openSync, rmSync, writeSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { Chunker } from '../protocol/fastcdc.ts';
import { eventually, startHarness, waitUntilSynced, type Harness } from './test-support/browser-harness.ts';

const mebibyte = 1024 * 1024;
const fileBytes = 1024 * mebibyte;
/** The page's JavaScript heap must stay under this while the file goes through. */
const heapBytesMax = 256 * mebibyte;

let harness: Harness;
let work: string;

// Random-looking bytes, written 8 MiB at a time so this process never holds the file either.
function writeLargeFile(path: string): void {
  const piece = new Uint32Array(2 * mebibyte);
  let x = 0x9e3779b9;
  const fd = openSync(path, 'w');
  try {
    for (let written = 0; written < fileBytes; written += piece.byteLength) {
      for (let i = 0; i < piece.length; i++) {
        x ^= x << 13;
        x ^= x >>> 17;
        x ^= x << 5;
        piece[i] = x >>> 0;
      }
      writeSync(fd, new Uint8Array(piece.buffer));
    }
  } finally {
    closeSync(fd);
  }
}

async function expectedBlocks(path: string): Promise<{ hash: string; size: number }[]> {
  const chunker = new Chunker();
  const blocks: { hash: string; size: number }[] = [];
  const add = (chunk: Uint8Array): void => void blocks.push({ hash: createHash('sha256').update(chunk).digest('hex'), size: chunk.length });
  for await (const slice of createReadStream(path, { highWaterMark: 4 * mebibyte })) for (const chunk of chunker.push(slice as Buffer)) add(chunk);
  for (const chunk of chunker.finish()) add(chunk);
  return blocks;
}

test.before(async () => {
  work = mkdtempSync(join(tmpdir(), 'raftbox-large-'));
  harness = await startHarness();
});

test.after(async () => {
  await harness?.stop();
  if (work) rmSync(work, { recursive: true, force: true });
});

test('a 1 GiB file is added and uploaded with a bounded heap', async () => {
  const { page, sdk, context } = harness;
  const path = join(work, 'big.bin');
  writeLargeFile(path);
  const cdp = await context.newCDPSession(page);
  let heapBytesPeak = 0;
  const sample = async (): Promise<void> => {
    const { usedSize } = (await cdp.send('Runtime.getHeapUsage')) as { usedSize: number };
    heapBytesPeak = Math.max(heapBytesPeak, usedSize);
  };
  const sampler = setInterval(() => void sample().catch(() => undefined), 250);
  try {
    const started = Date.now();
    await page.setInputFiles('#add-files', path);
    const stored = await eventually('big.bin in the cluster', async () => (await sdk.stat('big.bin')) ?? undefined, 8 * 60_000);
    console.log(`  1 GiB added and uploaded in ${((Date.now() - started) / 1000).toFixed(1)} s; page heap peak ${(heapBytesPeak / mebibyte).toFixed(0)} MiB`);
    assert.is(stored.size, fileBytes);
    assert.equal(stored.blocks, await expectedBlocks(path), 'the cluster holds the blocks FastCDC cuts from the file');
    await waitUntilSynced(page, 60_000);
    await page.waitForSelector('#files tr[data-path="big.bin"][data-state="synced"]');
  } finally {
    clearInterval(sampler);
  }
  await sample();
  assert.ok(heapBytesPeak > 0, 'the heap was sampled');
  assert.ok(heapBytesPeak < heapBytesMax, `the page heap peaked at ${heapBytesPeak} bytes`);
});

test.run();
