// FolderState's base on a real disk: saves go to the journal, the journal folds into a
// new snapshot once it outgrows it, and opening replays it, cutting off a torn tail.

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { appendFileSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { encodeRecord } from '../../protocol/record.ts';
import type { BaseEntry } from '../../protocol/sync-tree.ts';
import { fillDisk, withSmallDisk } from '../host/disk-test-support.ts';
import { FolderState, journalBytesMin } from './folder-state.ts';

function entry(seed: number): BaseEntry {
  const hash = seed.toString(16).padStart(64, '0');
  return { kind: 'file', size: 10, mtime: 1_700_000_000_000 + seed, executable: false, blocks: [{ hash, size: 10 }], version: seed, clock: { dev: seed } };
}

/** Runs `body` with a fresh temporary folder, then removes it. */
async function withFolder(body: (root: string) => Promise<void>): Promise<void> {
  const root = mkdtempSync(join(tmpdir(), 'raftbox-state-'));
  try {
    await body(root);
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
}

async function opened(root: string): Promise<FolderState> {
  const state = new FolderState(root);
  await state.open('test-device');
  return state;
}

const snapshotOf = (root: string): { journal: number; base: [string, BaseEntry][] } => JSON.parse(readFileSync(join(root, '.raftbox', 'state.json'), 'utf8'));
const journals = (root: string): string[] => readdirSync(join(root, '.raftbox')).filter((name) => name.startsWith('journal-'));

test('a save appends to the journal, leaving the snapshot alone, and a reopened state has every update', () =>
  withFolder(async (root) => {
    const state = await opened(root);
    const snapshot = readFileSync(join(root, '.raftbox', 'state.json'), 'utf8');
    await state.saveBase(new Map([['a.txt', entry(1)], ['b.txt', entry(2)]]));
    await state.saveBase(new Map<string, BaseEntry | null>([['a.txt', null], ['c/d.txt', entry(3)], ['b.txt', entry(4)]]));
    assert.is(readFileSync(join(root, '.raftbox', 'state.json'), 'utf8'), snapshot);
    assert.equal(journals(root), ['journal-0.log']);
    await state.close();

    const again = await opened(root);
    assert.equal([...again.base].sort(), [['b.txt', entry(4)], ['c/d.txt', entry(3)]]);
    assert.is(again.device, 'test-device');
    await again.close();
  }));

test('a journal grown past the snapshot becomes a new snapshot; the state on disk stays within about twice the base', () =>
  withFolder(async (root) => {
    const state = await opened(root);
    const saves = 200;
    for (let save = 0; save < saves; save++) {
      await state.saveBase(new Map(Array.from({ length: 100 }, (_, i) => [`dir${save}/file${i}.bin`, entry(save * 100 + i)] as const)));
    }
    const { journal, base } = snapshotOf(root);
    // Each new snapshot at least doubles the last: a few of them, not one per save.
    assert.ok(journal >= 2 && journal <= 10, `snapshot generation ${journal} after ${saves} saves`);
    assert.equal(journals(root), [`journal-${journal}.log`]);
    const snapshotBytes = statSync(join(root, '.raftbox', 'state.json')).size;
    const journalBytes = statSync(join(root, '.raftbox', `journal-${journal}.log`)).size;
    assert.ok(journalBytes <= Math.max(snapshotBytes, journalBytesMin), `journal of ${journalBytes} bytes beside a snapshot of ${snapshotBytes}`);
    assert.ok(base.length < saves * 100, 'the last saves are in the journal, not the snapshot');
    await state.close();

    const again = await opened(root);
    assert.is(again.base.size, saves * 100);
    assert.equal(again.base.get('dir199/file99.bin'), entry(19_999));
    assert.equal(again.base.get('dir0/file0.bin'), entry(0));
    await again.close();
  }));

test('a torn record at the end of the journal is cut off; the saves before it and after it survive', () =>
  withFolder(async (root) => {
    const state = await opened(root);
    await state.saveBase(new Map([['kept.txt', entry(1)]]));
    await state.close();
    const path = join(root, '.raftbox', 'journal-0.log');
    const good = statSync(path).size;
    // A crash mid-append: a header claiming 500 bytes, then only a few of them.
    appendFileSync(path, Buffer.from([0xf4, 0x01, 0, 0, 1, 2, 3, 4, 0x5b, 0x5b]));

    const again = await opened(root);
    assert.equal([...again.base], [['kept.txt', entry(1)]]);
    assert.is(statSync(path).size, good);
    await again.saveBase(new Map([['later.txt', entry(2)]]));
    await again.close();

    const third = await opened(root);
    assert.equal([...third.base].sort(), [['kept.txt', entry(1)], ['later.txt', entry(2)]]);
    await third.close();
  }));

test('a journal of an older generation (left by a crash while switching snapshots) is removed, not replayed over the newer snapshot', () =>
  withFolder(async (root) => {
    const state = await opened(root);
    await state.saveBase(new Map([['a.txt', entry(1)]]));
    // One save larger than the journal may grow makes snapshot 1, which holds a.txt as entry 2.
    const many = new Map<string, BaseEntry | null>(Array.from({ length: 6000 }, (_, i) => [`bulk/${i}.bin`, entry(1000 + i)] as const));
    many.set('a.txt', entry(2));
    await state.saveBase(many);
    await state.close();
    assert.is(snapshotOf(root).journal, 1);
    assert.equal(journals(root), []);
    // The crash came after snapshot 1 landed and before journal 0, which still says entry 1, was removed.
    const stale = encodeRecord(new TextEncoder().encode(JSON.stringify([['a.txt', entry(1)]])));
    writeFileSync(join(root, '.raftbox', 'journal-0.log'), stale);

    const again = await opened(root);
    assert.equal(again.base.get('a.txt'), entry(2));
    assert.is(again.base.size, 6001);
    assert.equal(journals(root), []);
    await again.close();
  }));

test('deleting state.json starts afresh: the journal beside it is not replayed', () =>
  withFolder(async (root) => {
    const state = await opened(root);
    await state.saveBase(new Map([['a.txt', entry(1)]]));
    await state.close();
    rmSync(join(root, '.raftbox', 'state.json'));

    const again = await opened(root);
    assert.equal([...again.base], []);
    assert.is(existsSync(join(root, '.raftbox', 'journal-0.log')), false);
    await again.close();
    const third = await opened(root);
    assert.equal([...third.base], []);
    await third.close();
  }));

test('a journal write that fails (a full disk) is reported, and the next save starts a new snapshot instead of appending after it', () =>
  withSmallDisk('256k', async (root) => {
    const states: FolderState[] = [];
    try {
      const state = await opened(root);
      states.push(state);
      await state.saveBase(new Map([['before.txt', entry(1)]]));
      // Leave the file system no room for another page of journal.
      fillDisk(root);
      const big = new Map(Array.from({ length: 100 }, (_, i) => [`full/${i}.bin`, entry(100 + i)] as const));
      const failure = await state.saveBase(big).then(() => null, (error: NodeJS.ErrnoException) => error);
      assert.is(failure?.code, 'ENOSPC');

      rmSync(join(root, 'filler'));
      await state.saveBase(new Map([['after.txt', entry(2)]]));
      assert.is(snapshotOf(root).journal, 1, 'the save after the failure wrote snapshot 1');
      assert.equal(journals(root), []);
      await state.close();

      const again = await opened(root);
      states.push(again);
      assert.equal(again.base.get('before.txt'), entry(1));
      assert.equal(again.base.get('after.txt'), entry(2));
      assert.equal(again.base.get('full/99.bin'), entry(199), 'updates whose own save failed are in the next snapshot');
    } finally {
      for (const state of states) await state.close();
    }
  }));

test.run();
