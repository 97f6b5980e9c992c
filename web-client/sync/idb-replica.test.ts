// The IndexedDB replica under the shared sync engine, against the in-memory cluster of
// the sync tests: files round-trip between two browser replicas, edits made offline
// reach the cluster when it is back, a renamed folder moves whole, concurrent edits keep
// both versions, and a replica refuses a change when the local entry is no longer what
// the plan expected.

import 'fake-indexeddb/auto';
import { createHash } from 'node:crypto';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { cutPoints } from '../../protocol/fastcdc.ts';
import { syncOnce } from '../../protocol/sync-engine.ts';
import { MemoryCluster, MemoryRemote } from '../../sim/sync/memory-remote.ts';
import type { BlockRef } from '../../protocol/wire.ts';
import { BlockCache } from '../store/block-cache.ts';
import { putFile, removePath, renamePath } from '../store/local-edits.ts';
import { openStore, type RaftboxDb } from '../store/schema.ts';
import { CachingRemote } from './caching-remote.ts';
import { originalOfCopy } from './conflict-stamp.ts';
import { IdbReplica } from './idb-replica.ts';
import { seededBytes } from '../test-support/seeded-bytes.ts';

const sha = (bytes: Uint8Array): string => createHash('sha256').update(bytes).digest('hex');
let databases = 0;

interface Device {
  name: string;
  db: RaftboxDb;
  replica: IdbReplica;
  remote: MemoryRemote;
  cache: BlockCache;
}

async function device(cluster: MemoryCluster, name: string): Promise<Device> {
  const db = await openStore(`replica-test-${++databases}`);
  return { name, db, replica: new IdbReplica(db), remote: new MemoryRemote(cluster, name), cache: new BlockCache(db, 64 * 1024 * 1024) };
}

function blocksOf(bytes: Uint8Array): BlockRef[] {
  let start = 0;
  return cutPoints(bytes).map((end) => {
    const block = { hash: sha(bytes.subarray(start, end)), size: end - start };
    start = end;
    return block;
  });
}

async function write(d: Device, path: string, text: string | Uint8Array): Promise<void> {
  const bytes = typeof text === 'string' ? new TextEncoder().encode(text) : text;
  await putFile({ db: d.db, device: d.name, now: () => 1 }, path, new Blob([bytes as Uint8Array<ArrayBuffer>]), blocksOf(bytes));
}

async function sync(d: Device) {
  return syncOnce(d.replica, new CachingRemote(d.remote, d.cache, async (bytes) => sha(bytes)), {
    device: d.name,
    conflictStamp: '2026-11-21 120000',
    sha256: async (bytes) => sha(bytes),
    now: () => 0,
    sleep: async () => undefined,
  });
}

async function read(d: Device, path: string): Promise<string | null> {
  const record = await d.db.get('files', path);
  return record?.blob === undefined ? null : record.blob.text();
}

test('files and folders travel between two browser replicas byte for byte', async () => {
  const cluster = new MemoryCluster(sha);
  const [a, b] = [await device(cluster, 'web-a'), await device(cluster, 'web-b')];
  const big = seededBytes(3 * 1024 * 1024 + 17, 7);
  await write(a, 'docs/hello.txt', 'hello');
  await write(a, 'docs/big.bin', big);
  const up = await sync(a);
  assert.is(up.filesUp, 3, 'two files and their folder are committed');
  const down = await sync(b);
  assert.is(down.filesDown, 3);
  assert.is(await read(b, 'docs/hello.txt'), 'hello');
  const record = await b.db.get('files', 'docs/big.bin');
  assert.equal(new Uint8Array(await record!.blob!.arrayBuffer()), big);
  assert.ok((await b.cache.bytes()) > 0, 'downloaded blocks land in the block cache');
  assert.is((await sync(b)).filesDown, 0, 'a second sync has nothing to do');
});

test('edits, renames and deletes made offline reach the cluster when it is back', async () => {
  const cluster = new MemoryCluster(sha);
  const [a, b] = [await device(cluster, 'web-a'), await device(cluster, 'web-b')];
  await write(a, 'a.txt', 'one');
  await write(a, 'gone.txt', 'bye');
  await sync(a);
  await sync(b);
  a.remote.online = false;
  await write(a, 'a.txt', 'two');
  await renamePath({ db: a.db, device: a.name, now: () => 2 }, 'a.txt', 'moved.txt');
  await removePath({ db: a.db, device: a.name, now: () => 2 }, 'gone.txt');
  await write(a, 'new.txt', 'fresh');
  try {
    await sync(a);
    assert.unreachable('an offline sync fails');
  } catch (error) {
    assert.match(String(error), /offline/);
  }
  a.remote.online = true;
  await sync(a);
  await sync(b);
  assert.equal((await b.db.getAllKeys('files')).sort(), ['moved.txt', 'new.txt']);
  assert.is(await read(b, 'moved.txt'), 'two');
  assert.is(await read(b, 'new.txt'), 'fresh');
});

test('a folder renamed on one replica is renamed whole on the other, and nothing beside it moves', async () => {
  const cluster = new MemoryCluster(sha);
  const [a, b] = [await device(cluster, 'web-a'), await device(cluster, 'web-b')];
  await write(a, 'photos/2025/one.jpg', 'one');
  await write(a, 'photos/two.jpg', 'two');
  await write(a, 'photos0/three.jpg', 'three');
  await sync(a);
  await sync(b);
  await renamePath({ db: a.db, device: a.name, now: () => 2 }, 'photos', 'pictures');
  await sync(a);
  const down = await sync(b);
  assert.is(down.moves, 4, 'two files and two folders move');
  assert.is(down.filesDown + down.deleted, 0, 'nothing is downloaded or deleted');
  assert.equal((await b.db.getAllKeys('files')).sort(), ['photos0', 'photos0/three.jpg', 'pictures', 'pictures/2025', 'pictures/2025/one.jpg', 'pictures/two.jpg']);
  assert.is(await read(b, 'pictures/2025/one.jpg'), 'one');
  assert.is(await read(b, 'photos0/three.jpg'), 'three', 'a sibling whose name starts the same stays');
  assert.is((await sync(b)).moves, 0, 'a second sync has nothing to do');
});

test('the same file edited on two replicas keeps both versions as a conflict copy', async () => {
  const cluster = new MemoryCluster(sha);
  const [a, b] = [await device(cluster, 'web-a'), await device(cluster, 'web-b')];
  await write(a, 'note.txt', 'base');
  await sync(a);
  await sync(b);
  await write(a, 'note.txt', 'from a');
  await write(b, 'note.txt', 'from b');
  await sync(b);
  const summary = await sync(a);
  assert.is(summary.conflicts.length, 1);
  const copy = summary.conflicts[0]!;
  assert.is(originalOfCopy(copy), 'note.txt');
  assert.is(await read(a, 'note.txt'), 'from b', 'the committed version keeps the name');
  assert.is(await read(a, copy), 'from a', 'the local edit is kept as the copy');
  await sync(b);
  assert.is(await read(b, copy), 'from a');
});

test('the replica refuses a change when the local entry is not what the plan expected', async () => {
  const cluster = new MemoryCluster(sha);
  const a = await device(cluster, 'web-a');
  await write(a, 'x.txt', 'mine');
  const local = (await a.replica.scan()).get('x.txt')!;
  const stale = { ...local, blocks: [{ hash: 'f'.repeat(64), size: 4 }] };
  assert.is(await a.replica.remove('x.txt', stale), false);
  assert.is(await a.replica.rename('x.txt', 'y.txt', stale), false);
  assert.is(await a.replica.rename('x.txt', 'y.txt', local), true);
  assert.is(await a.replica.readBlock('y.txt', 0, 4).then((bytes) => new TextDecoder().decode(bytes!)), 'mine');
  assert.is(await a.replica.readBlock('y.txt', 2, 4), null, 'a range past the end is null');
});

test.run();
