// The hashing pool in Chromium cuts and hashes exactly as FastCDC and SHA-256 do in one
// pass in Node, whatever the pool size: on random bytes (where segments meet after a
// chunk or two), on long runs of zeros (where they never meet and stitching re-cuts
// whole segments), and on empty and tiny files.

import { closeSync, mkdtempSync, openSync, readFileSync, rmSync, writeSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { cutPoints } from '../protocol/fastcdc.ts';
import { segmentBytes } from './hashing/hash-pool.ts';
import { launchChromium, serveApp } from './test-support/browser-harness.ts';
import { buildHashPage } from './test-support/hash-page.ts';

const mebibyte = 1024 * 1024;
let work: string;
let browser: Browser;
let page: Page;
let closeServer: () => Promise<void>;

function writeFile(name: string, bytes: number, pattern: (offset: number, piece: Uint8Array) => void): string {
  const path = join(work, name);
  const fd = openSync(path, 'w');
  const piece = new Uint8Array(4 * mebibyte);
  for (let offset = 0; offset < bytes; offset += piece.length) {
    pattern(offset, piece);
    writeSync(fd, piece, 0, Math.min(piece.length, bytes - offset));
  }
  closeSync(fd);
  return path;
}

function expected(path: string): string {
  const data = readFileSync(path);
  let start = 0;
  return cutPoints(data).map((end) => {
    const hash = createHash('sha256').update(data.subarray(start, end)).digest('hex');
    const size = end - start;
    start = end;
    return `${hash}:${size}`;
  }).join(',');
}

async function hashInPage(path: string, workers: number): Promise<string> {
  await page.setInputFiles('#file', path);
  const result = await page.evaluate((size) => (window as unknown as { benchHash(size: number): Promise<{ digest: string }> }).benchHash(size), workers);
  return result.digest;
}

test.before(async () => {
  work = mkdtempSync(join(tmpdir(), 'raftbox-pool-'));
  await buildHashPage(join(work, 'web'));
  const { url, server } = await serveApp(join(work, 'web'), []);
  closeServer = () => new Promise((done) => server.close(() => done()));
  browser = await launchChromium();
  page = await browser.newPage();
  await page.goto(`${url}hashing/hash-bench.html`);
  await page.waitForSelector('body[data-ready="true"]');
});

test.after(async () => {
  await browser?.close();
  await closeServer?.();
  if (work) rmSync(work, { recursive: true, force: true });
});

test('random bytes: the pool of 1, 2 and 3 workers gives the blocks of one sequential pass', async () => {
  let x = 0x12345678;
  const path = writeFile('random.bin', Math.round(1.6 * segmentBytes) + 12345, (_, piece) => {
    for (let i = 0; i < piece.length; i++) {
      x ^= x << 13;
      x ^= x >>> 17;
      x ^= x << 5;
      piece[i] = x;
    }
  });
  const want = expected(path);
  for (const workers of [1, 2, 3]) assert.is(await hashInPage(path, workers), want, `${workers} workers`);
});

test('long runs of zeros, where segment guesses never meet the true boundaries', async () => {
  let x = 7;
  // Zeros from 12 MiB before the segment boundary to 12 MiB after it, so the second segment's guess starts in them.
  const path = writeFile('sparse.bin', segmentBytes + 24 * mebibyte, (offset, piece) => {
    const zero = offset >= segmentBytes - 12 * mebibyte && offset < segmentBytes + 12 * mebibyte;
    for (let i = 0; i < piece.length; i++) {
      x = (Math.imul(x, 1103515245) + 12345) | 0;
      piece[i] = zero ? 0 : x >>> 24;
    }
  });
  assert.is(await hashInPage(path, 2), expected(path));
});

test('empty and tiny files', async () => {
  const empty = writeFile('empty.bin', 0, () => undefined);
  assert.is(await hashInPage(empty, 2), '');
  const tiny = writeFile('tiny.bin', 3, (_, piece) => piece.fill(65));
  assert.is(await hashInPage(tiny, 2), expected(tiny));
});

test.run();
