// downloadToFile against fake nodes on loopback: a whole download lands by rename, and one
// stopped by its signal (Ctrl-C in `raftbox get`) while a block is late leaves neither
// the target nor its temporary file behind.

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FakeCluster } from '../protocol/client-test-server.ts';
import { downloadToFile } from './download.ts';
import { connect, type Client } from './sdk.ts';

// Several blocks (FastCDC cuts at 256 KiB to 4 MiB), so a download can be caught between two.
const data = randomBytes(6 << 20);

/** A fake node holding big.bin, a client of it and an empty folder, for `body`; all gone after. */
async function withStoredFile(body: (cluster: FakeCluster, client: Client, dir: string) => Promise<void>): Promise<void> {
  const cluster = await FakeCluster.start(1);
  const dir = mkdtempSync(join(tmpdir(), 'raftbox-download-'));
  let client: Client | null = null;
  try {
    client = await connect({ servers: [cluster.nodes[0]!.url], device: 'download-test' });
    await client.writeFile('big.bin', data);
    await body(cluster, client, dir);
  } finally {
    await client?.close();
    await cluster.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

test('a whole download lands at its target, byte for byte, with no temporary file left', () => withStoredFile(async (_cluster, client, dir) => {
  const info = await downloadToFile(client, 'big.bin', join(dir, 'big.bin'), { signal: new AbortController().signal });
  assert.is(info?.size, data.length);
  assert.ok(readFileSync(join(dir, 'big.bin')).equals(data));
  assert.equal(readdirSync(dir), ['big.bin']);
}));

test('a download stopped by its signal while a block is late leaves nothing behind', () => withStoredFile(async (cluster, client, dir) => {
  const stop = new AbortController();
  let gets = 0;
  // The first block comes; the second never does, and the signal aborts while it is awaited.
  cluster.fault = (_node, request) => {
    if (request.op !== 'blocks.get' || ++gets === 1) return undefined;
    if (gets === 2) setTimeout(() => stop.abort(new Error('Ctrl-C')), 100);
    return 'drop';
  };
  const started = Date.now();
  const outcome = await downloadToFile(client, 'big.bin', join(dir, 'big.bin'), { signal: stop.signal }).then(
    () => 'finished',
    (error: Error) => error.message,
  );
  assert.is(outcome, 'Ctrl-C');
  assert.ok(Date.now() - started < 5000, 'the abort is seen without waiting for the late block');
  assert.equal(readdirSync(dir), [], 'neither the file nor its temporary file is there');
}));

test.run();
