// The IndexedDB store against fake-indexeddb: the block cache's cap and LRU order, the
// outbox's bound, device ids, and local edits advancing vector clocks.

import 'fake-indexeddb/auto';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { BlockCache } from './block-cache.ts';
import { makeFolder, putFile, removePath, renamePath } from './local-edits.ts';
import { deviceId, dismissConflict, dismissedConflicts, loadCursor, saveCursor } from './meta.ts';
import { clearEditsThrough, lastEditSeq, outboxLengthMax, pendingEdits, recordEdit } from './outbox.ts';
import { openStore } from './schema.ts';

let databases = 0;
const freshDb = () => openStore(`store-test-${++databases}`);
const bytes = (length: number, fill: number) => new Uint8Array(length).fill(fill);

test('the block cache evicts the least recently used blocks past its cap', async () => {
  const db = await freshDb();
  let clock = 0;
  const cache = new BlockCache(db, 300, () => ++clock);
  await cache.put('a', bytes(100, 1));
  await cache.put('b', bytes(100, 2));
  await cache.put('c', bytes(100, 3));
  assert.equal(await cache.get('a'), bytes(100, 1), 'a is read, so b is now the oldest');
  await cache.put('d', bytes(100, 4));
  assert.is(await cache.get('b'), null);
  assert.ok(await cache.get('a'));
  assert.ok(await cache.get('c'));
  assert.ok(await cache.get('d'));
  assert.is(await cache.bytes(), 300);
  await cache.put('d', bytes(100, 4));
  assert.is(await cache.bytes(), 300, 'a block stored twice counts once');
  await cache.put('huge', bytes(301, 5));
  assert.is(await cache.get('huge'), null, 'a block above the cap is not cached');
});

test('the outbox keeps edits in order, bounded, and clears through a sequence number', async () => {
  const db = await freshDb();
  await recordEdit(db, 'add', 'a.txt', 1);
  await recordEdit(db, 'rename', 'a.txt', 2, 'b.txt');
  const edits = await pendingEdits(db);
  assert.equal(edits.map((edit) => [edit.operation, edit.path, edit.to]), [['add', 'a.txt', undefined], ['rename', 'a.txt', 'b.txt']]);
  const seq = await lastEditSeq(db);
  await recordEdit(db, 'delete', 'b.txt', 3);
  await clearEditsThrough(db, seq);
  assert.equal((await pendingEdits(db)).map((edit) => edit.operation), ['delete']);
  assert.ok(outboxLengthMax >= 1000);
});

test('the device id is made once and kept; the cursor only moves forward', async () => {
  const db = await freshDb();
  const id = await deviceId(db, () => 0.5);
  assert.match(id, /^web-[0-9a-f]{8}$/);
  assert.is(await deviceId(db, () => 0.25), id);
  await saveCursor(db, 10);
  await saveCursor(db, 4);
  assert.is(await loadCursor(db), 10);
  await dismissConflict(db, 'x (conflicted copy from d 2026-01-01 000000).txt');
  assert.ok((await dismissedConflicts(db)).has('x (conflicted copy from d 2026-01-01 000000).txt'));
});

test('local edits advance the clock, make parent folders, rename and delete whole folders', async () => {
  const db = await freshDb();
  const context = { db, device: 'web-1', now: () => 1000 };
  const blob = new Blob([bytes(5, 7)]);
  const entry = await putFile(context, 'docs/notes/a.txt', blob, [{ hash: 'h1', size: 5 }]);
  assert.equal(entry.clock, { 'web-1': 1 });
  const again = await putFile(context, 'docs/notes/a.txt', blob, [{ hash: 'h1', size: 5 }]);
  assert.equal(again.clock, { 'web-1': 2 }, 'a second edit advances the same clock');
  assert.is((await db.get('files', 'docs'))?.entry.kind, 'dir');
  assert.is((await db.get('files', 'docs/notes'))?.entry.kind, 'dir');
  await makeFolder(context, 'empty');
  assert.is((await db.get('files', 'empty'))?.entry.kind, 'dir');
  await renamePath(context, 'docs', 'papers');
  assert.is(await db.get('files', 'docs/notes/a.txt'), undefined);
  const moved = await db.get('files', 'papers/notes/a.txt');
  assert.is(moved?.entry.size, 5);
  assert.is(await moved!.blob!.text(), '\x07'.repeat(5));
  await removePath(context, 'papers');
  assert.equal((await db.getAllKeys('files')).sort(), ['empty']);
  try {
    await putFile(context, 'x.txt', blob, [{ hash: 'h1', size: 4 }]);
    assert.unreachable('blocks that do not add up to the file are refused');
  } catch (error) {
    assert.match(String(error), /add up to 4 bytes/);
  }
  const operations = (await pendingEdits(db)).map((edit) => edit.operation);
  assert.equal(operations, ['add', 'edit', 'folder', 'rename', 'delete']);
});

test.run();
