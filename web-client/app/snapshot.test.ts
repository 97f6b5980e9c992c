// The page's view of the replica: each path's state (synced, pending, conflict), folders
// implied by files that arrived without a folder record, and open conflicts.

import 'fake-indexeddb/auto';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { dismissConflict } from '../store/meta.ts';
import { openStore } from '../store/schema.ts';
import { readSnapshot } from './snapshot.ts';

const file = (hash: string) => ({ kind: 'file' as const, blocks: [{ hash, size: 1 }], size: 1, mtime: 5, executable: false });

test('states, implied folders and open conflicts', async () => {
  const db = await openStore('snapshot-test');
  const copy = 'docs/a (conflicted copy from web-1 2026-11-21 120000).txt';
  await db.put('files', { path: 'docs/a.txt', entry: file('h1') });
  await db.put('files', { path: copy, entry: file('h2') });
  await db.put('files', { path: 'synced.txt', entry: file('h3') });
  await db.put('files', { path: 'deep/er/new.txt', entry: file('h4') });
  await db.put('base', { path: 'synced.txt', entry: { ...file('h3'), version: 4, clock: {} } });
  await db.put('base', { path: 'docs/a.txt', entry: { ...file('h1'), version: 2, clock: {} } });
  let snapshot = await readSnapshot(db);
  assert.equal(snapshot.conflicts, [{ original: 'docs/a.txt', copy }]);
  assert.is(snapshot.rows.get('docs/a.txt')?.state, 'conflict');
  assert.is(snapshot.rows.get(copy)?.state, 'conflict');
  assert.is(snapshot.rows.get('synced.txt')?.state, 'synced');
  assert.is(snapshot.rows.get('deep/er/new.txt')?.state, 'pending');
  assert.is(snapshot.rows.get('deep')?.entry.kind, 'dir', 'a folder without a record is implied');
  assert.is(snapshot.rows.get('deep')?.state, 'pending');
  assert.is(snapshot.rows.get('docs')?.state, 'conflict');
  await dismissConflict(db, copy);
  snapshot = await readSnapshot(db);
  assert.equal(snapshot.conflicts, []);
  assert.is(snapshot.rows.get('docs/a.txt')?.state, 'synced');
});

test.run();
