// The sync engine and planner end to end, in memory: devices as MemoryReplicas, the
// cluster as the real metadata state machine. Each test is one scenario a user meets.

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { createHash } from 'node:crypto';
import { syncOnce, type FileProgress, type SyncOptions, type SyncSummary } from '../../protocol/sync-engine.ts';
import { MemoryReplica, type MemoryReplicaOptions } from './memory-replica.ts';
import { MemoryCluster, MemoryRemote } from './memory-remote.ts';

const sha256 = (bytes: Uint8Array): string => createHash('sha256').update(bytes).digest('hex');
const blockBytes = 16;
const chunk = (data: Uint8Array): Uint8Array[] => {
  const pieces: Uint8Array[] = [];
  for (let start = 0; start < data.length; start += blockBytes) pieces.push(data.subarray(start, start + blockBytes));
  return pieces;
};
const text = (value: string): Uint8Array => new TextEncoder().encode(value);
const read = (replica: MemoryReplica, path: string): string | undefined => {
  const item = replica.items.get(path);
  return item === undefined ? undefined : item.kind === 'dir' ? '<dir>' : new TextDecoder().decode(item.data);
};

interface Device {
  replica: MemoryReplica;
  remote: MemoryRemote;
  sync(): Promise<SyncSummary>;
}

function setup(names: string[], replicaOptions: Partial<MemoryReplicaOptions> = {}, syncOptions: Partial<SyncOptions> = {}): { cluster: MemoryCluster; devices: Device[] } {
  const cluster = new MemoryCluster(sha256);
  const devices = names.map((name): Device => {
    const replica = new MemoryReplica({ sha256, chunk, ...replicaOptions });
    const remote = new MemoryRemote(cluster, name);
    const options: SyncOptions = {
      device: name,
      conflictStamp: '2026-11-21 101500',
      sha256: async (bytes) => sha256(bytes),
      now: () => 0,
      sleep: async () => undefined,
      ...syncOptions,
    };
    return { replica, remote, sync: () => syncOnce(replica, remote, options) };
  });
  return { cluster, devices };
}

function tree(replica: MemoryReplica): Record<string, string> {
  return Object.fromEntries([...replica.items.keys()].sort().map((path) => [path, read(replica, path)!]));
}

test('creates, edits, deletes and folders propagate both ways', async () => {
  const { devices: [a, b] } = setup(['a', 'b']);
  a!.replica.makeDir('docs');
  a!.replica.makeDir('empty');
  a!.replica.write('docs/note.txt', text('hello from a'));
  a!.replica.write('run.sh', text('#!/bin/sh\necho hi\n'), true);
  a!.replica.write('zero', new Uint8Array(0));
  const up = await a!.sync();
  assert.is(up.filesUp, 5);
  await b!.sync();
  assert.equal(tree(b!.replica), tree(a!.replica));
  assert.ok(b!.replica.items.get('run.sh')!.executable, 'the executable bit travels');

  b!.replica.write('docs/note.txt', text('edited on b'));
  b!.replica.delete('zero');
  await b!.sync();
  const down = await a!.sync();
  assert.is(read(a!.replica, 'docs/note.txt'), 'edited on b');
  assert.is(read(a!.replica, 'zero'), undefined);
  assert.is(down.filesDown, 1);
  assert.is(down.deleted, 1);
  assert.equal(tree(a!.replica), tree(b!.replica));
});

test('each file sent up reports its blocks as they go, then its commit', async () => {
  const events: FileProgress[] = [];
  const { devices: [a] } = setup(['a'], {}, { onFileProgress: (progress) => events.push(progress) });
  a!.replica.write('a.txt', text('a'.repeat(16) + 'b'.repeat(16) + 'c'.repeat(16)));
  a!.replica.write('copy.txt', text('a'.repeat(16) + 'b'.repeat(16) + 'c'.repeat(16)));
  a!.replica.write('small', text('small'));
  a!.replica.makeDir('folder');
  await a!.sync();
  const byPath = new Map<string, FileProgress[]>();
  for (const event of events) byPath.set(event.path, [...(byPath.get(event.path) ?? []), event]);
  assert.equal([...byPath.keys()].sort(), ['a.txt', 'copy.txt', 'folder', 'small']);
  let sent = 0;
  for (const [path, list] of byPath) {
    assert.is(list.at(-1)!.state, 'synced', `${path} ends synced`);
    const uploading = list.filter((event) => event.state === 'uploading');
    assert.ok(uploading.length >= 1 && list.findIndex((event) => event.state === 'synced') === list.length - 1, `${path} uploads before its commit`);
    const last = uploading.at(-1)!;
    assert.is(last.bytesDone, last.bytesTotal, `${path} sent all it had to`);
    assert.ok(uploading.every((event, i) => i === 0 || event.bytesDone > uploading[i - 1]!.bytesDone), `${path} counts up`);
    sent += last.bytesTotal;
  }
  assert.is(sent, 48 + 5, 'a block shared by two files is sent, and counted, once');
  assert.is(byPath.get('small')!.find((event) => event.state === 'uploading')!.bytesTotal, 5);
});

/** Counts the upload phase's reads of local blocks. */
function countReads(replica: MemoryReplica): { reads: number } {
  const counter = { reads: 0 };
  const readBlock = replica.readBlock.bind(replica);
  replica.readBlock = async (path, offset, size) => {
    counter.reads++;
    return readBlock(path, offset, size);
  };
  return counter;
}

test('blocks hashed by the scan go up from the bytes the scan read, not read again', async () => {
  const { cluster, devices: [a, b] } = setup(['a', 'b']);
  const counter = countReads(a!.replica);
  // 200 distinct one-block files (more than one upload group), and one file repeating a block.
  for (let i = 0; i < 200; i++) a!.replica.write(`f${i}.txt`, text(String(i).padStart(16, '.')));
  a!.replica.write('again.txt', text(String(7).padStart(16, '.')));
  let storedWhenScanned = -1;
  const scan = a!.replica.scan.bind(a!.replica);
  a!.replica.scan = async (early) => {
    const local = await scan(early);
    storedWhenScanned = cluster.blocks.size;
    return local;
  };
  const up = await a!.sync();
  assert.is(counter.reads, 0, 'the upload phase read nothing');
  assert.ok(storedWhenScanned >= 96 && storedWhenScanned < 200, `a full group was stored while the scan went on (${storedWhenScanned} when it ended)`);
  assert.equal([up.filesUp, up.uploadedBlocks, up.uploadedBytes], [201, 200, 200 * 16]);
  await b!.sync();
  assert.equal(tree(b!.replica), tree(a!.replica));
});

test('when sending during the scan fails, the upload phase sends the blocks, each counted once', async () => {
  const { devices: [a, b] } = setup(['a', 'b']);
  const counter = countReads(a!.replica);
  a!.replica.write('one.txt', text('1'.repeat(16) + '3'.repeat(16)));
  a!.replica.write('two.txt', text('2'.repeat(20)));
  const putBlocks = a!.remote.putBlocks.bind(a!.remote);
  let refused = 0;
  a!.remote.putBlocks = async (blocks) => {
    if (refused++ === 0) throw new Error('the first upload is lost');
    return putBlocks(blocks);
  };
  const up = await a!.sync();
  assert.ok(counter.reads > 0, 'the upload phase read the blocks the scan could not send');
  assert.equal([up.filesUp, up.uploadedBlocks, up.uploadedBytes, up.passes], [2, 4, 16 + 16 + 16 + 4, 1]);
  await b!.sync();
  assert.equal(tree(b!.replica), tree(a!.replica));
});

test('a second sync with nothing changed does nothing', async () => {
  const { devices: [a] } = setup(['a']);
  a!.replica.write('x', text('x'));
  await a!.sync();
  const again = await a!.sync();
  assert.equal([again.filesUp, again.filesDown, again.uploadedBlocks, again.deleted, again.passes], [0, 0, 0, 0, 1]);
});

test('a rename travels as a move and uploads no content', async () => {
  const { devices: [a, b] } = setup(['a', 'b']);
  a!.replica.write('big.bin', text('x'.repeat(1000)));
  await a!.sync();
  await b!.sync();
  a!.replica.move('big.bin', 'renamed.bin');
  const sent = a!.remote.blocksSent;
  const up = await a!.sync();
  assert.is(up.moves, 1);
  assert.is(up.uploadedBlocks, 0);
  assert.is(a!.remote.blocksSent, sent);
  const down = await b!.sync();
  assert.is(down.moves, 1, 'the other side renames instead of downloading');
  assert.is(down.downloadedBytes, 0);
  assert.equal(tree(b!.replica), { 'renamed.bin': 'x'.repeat(1000) });
});

test('moving a folder of 600 files commits in batches the cluster accepts (a move is two changes)', async () => {
  const { devices: [a, b] } = setup(['a', 'b']);
  a!.replica.makeDir('photos');
  for (let i = 0; i < 600; i++) a!.replica.write(`photos/${i}.jpg`, text(`photo ${i}`));
  await a!.sync();
  await b!.sync();
  a!.replica.move('photos', 'pictures');
  const up = await a!.sync();
  assert.is(up.moves, 600);
  await b!.sync();
  assert.is(Object.keys(tree(b!.replica)).filter((path) => path.startsWith('pictures/')).length, 600);
  assert.not.ok(b!.replica.items.has('photos'));
});

/** `work` wrapped to count its calls running at once, each held `turns` microtask turns first; `most` is the highest count. */
function countOverlap<A extends unknown[], R>(work: (...args: A) => Promise<R>, turns: number): { wrapped: (...args: A) => Promise<R>; seen: { now: number; most: number } } {
  const seen = { now: 0, most: 0 };
  const wrapped = async (...args: A): Promise<R> => {
    seen.now++;
    seen.most = Math.max(seen.most, seen.now);
    try {
      for (let turn = 0; turn < turns; turn++) await Promise.resolve();
      return await work(...args);
    } finally {
      seen.now--;
    }
  };
  return { wrapped, seen };
}

test('a large first sync commits several batches at once, saves its base one save at a time, and records every file', async () => {
  const { devices: [a, b] } = setup(['a', 'b']);
  a!.replica.makeDir('many');
  for (let i = 0; i < 2500; i++) a!.replica.write(`many/${i}.txt`, text(`file ${i}`));
  // Commits answer a few turns later, as a cluster would, so batches can overlap.
  const commits = countOverlap(a!.remote.commit.bind(a!.remote), 5);
  a!.remote.commit = commits.wrapped;
  const saves = countOverlap(a!.replica.saveBase.bind(a!.replica), 1);
  a!.replica.saveBase = saves.wrapped;
  const up = await a!.sync();
  assert.is(up.filesUp, 2501, 'the folder and its 2,500 files');
  assert.ok(commits.seen.most >= 2, `batches overlapped (${commits.seen.most} at most)`);
  assert.is(saves.seen.most, 1, 'saves of the base never overlap');
  const again = await a!.sync();
  assert.equal([again.filesUp, again.filesDown, again.deleted], [0, 0, 0], 'every commit was recorded in the base');
  await b!.sync();
  assert.is(Object.keys(tree(b!.replica)).filter((path) => path.startsWith('many/') && path !== 'many').length, 2500);
});

/** Devices a and b both hold photos/one.jpg and photos/two.jpg; a then moves photos to pictures and syncs. */
async function photosMovedOnA(): Promise<{ a: Device; b: Device; up: SyncSummary }> {
  const { devices: [a, b] } = setup(['a', 'b']);
  a!.replica.makeDir('photos');
  a!.replica.write('photos/one.jpg', text('one'.repeat(20)));
  a!.replica.write('photos/two.jpg', text('two'.repeat(20)));
  await a!.sync();
  await b!.sync();
  a!.replica.move('photos', 'pictures');
  return { a: a!, b: b!, up: await a!.sync() };
}

/** Records every rename the engine asks of `replica`, as `from -> to`. */
function recordRenames(replica: MemoryReplica): string[] {
  const renames: string[] = [];
  const rename = replica.rename.bind(replica);
  replica.rename = async (from, to, expect) => {
    renames.push(`${from} -> ${to}`);
    return rename(from, to, expect);
  };
  return renames;
}

test('a folder moved with its files arrives whole', async () => {
  const { b, up } = await photosMovedOnA();
  assert.is(up.uploadedBlocks, 0);
  const down = await b.sync();
  assert.is(down.downloadedBytes, 0, 'both files are renamed locally, not downloaded');
  assert.equal(tree(b.replica), { pictures: '<dir>', 'pictures/one.jpg': 'one'.repeat(20), 'pictures/two.jpg': 'two'.repeat(20) });
});

test('a folder moved whole is renamed once on the other side, subfolders and empty files included', async () => {
  const { devices: [a, b] } = setup(['a', 'b']);
  a!.replica.makeDir('photos');
  a!.replica.makeDir('photos/2025');
  a!.replica.write('photos/one.jpg', text('one'.repeat(20)));
  a!.replica.write('photos/2025/two.jpg', text('two'.repeat(20)), true);
  a!.replica.write('photos/2025/empty', new Uint8Array(0));
  await a!.sync();
  await b!.sync();
  a!.replica.move('photos', 'pictures');
  await a!.sync();
  const renames = recordRenames(b!.replica);
  const down = await b!.sync();
  assert.equal(renames, ['photos -> pictures']);
  assert.is(down.moves, 5, 'two files, one empty file and two folders moved');
  assert.is(down.filesDown + down.deleted + down.downloadedBytes, 0);
  assert.equal(tree(b!.replica), {
    pictures: '<dir>',
    'pictures/2025': '<dir>',
    'pictures/2025/empty': '',
    'pictures/2025/two.jpg': 'two'.repeat(20),
    'pictures/one.jpg': 'one'.repeat(20),
  });
  assert.is(b!.replica.items.get('pictures/2025/two.jpg')!.executable, true);
  assert.is((await b!.sync()).moves + (await a!.sync()).filesUp, 0, 'both sides agree afterwards');
});

test('a folder moved remotely but edited here: the edit follows the move, with no conflict', async () => {
  const { a, b } = await photosMovedOnA();
  b.replica.write('photos/two.jpg', text('edited on b'));
  const result = await b.sync();
  assert.equal(result.conflicts, []);
  assert.is(result.filesUp, 1, 'the edit goes up at the new path, in the same sync');
  assert.is(result.uploadedBytes, 'edited on b'.length);
  await a.sync();
  for (const device of [a, b]) {
    assert.equal(tree(device.replica), { pictures: '<dir>', 'pictures/one.jpg': 'one'.repeat(20), 'pictures/two.jpg': 'edited on b' });
  }
});

test('a file moved remotely but edited here: renamed here, the edit uploaded at the new name', async () => {
  const { devices: [a, b] } = setup(['a', 'b']);
  a!.replica.write('draft.md', text('first draft, long enough for blocks'));
  await a!.sync();
  await b!.sync();
  a!.replica.move('draft.md', 'final.md');
  await a!.sync();
  b!.replica.write('draft.md', text('second draft, edited offline'));
  const result = await b!.sync();
  assert.equal([result.conflicts, result.moves, result.filesUp], [[], 1, 1]);
  await a!.sync();
  for (const device of [a!, b!]) assert.equal(tree(device.replica), { 'final.md': 'second draft, edited offline' });
});

test('a file moved here but edited remotely: the edit comes into the moved file, then the move goes up', async () => {
  const { devices: [a, b] } = setup(['a', 'b']);
  a!.replica.makeDir('proj');
  a!.replica.write('proj/notes.md', text('first notes, long enough for blocks'));
  await a!.sync();
  await b!.sync();
  b!.replica.write('proj/notes.md', text('edited on b while a renamed the folder'));
  await b!.sync();
  a!.replica.move('proj', 'project');
  const result = await a!.sync();
  assert.equal([result.conflicts, result.filesDown, result.moves], [[], 1, 1]);
  await b!.sync();
  for (const device of [a!, b!]) assert.equal(tree(device.replica), { project: '<dir>', 'project/notes.md': 'edited on b while a renamed the folder' });
});

test('a file edited between the scan and the folder rename travels with the folder and is uploaded next', async () => {
  let edit: ((replica: MemoryReplica) => void) | null = null;
  const { devices: [a, b] } = setup(['a', 'b'], { interfere: (replica) => edit?.(replica) });
  a!.replica.makeDir('photos');
  a!.replica.write('photos/one.jpg', text('one'.repeat(20)));
  await a!.sync();
  await b!.sync();
  a!.replica.move('photos', 'pictures');
  await a!.sync();
  edit = (replica) => {
    edit = null;
    replica.write('photos/one.jpg', text('edited during the sync'));
  };
  await b!.sync();
  await b!.sync();
  await a!.sync();
  for (const device of [a!, b!]) assert.equal(tree(device.replica), { pictures: '<dir>', 'pictures/one.jpg': 'edited during the sync' });
});

test('concurrent edits keep both: the local side becomes a conflict copy', async () => {
  const { cluster, devices: [a, b] } = setup(['a', 'b']);
  a!.replica.write('plan.txt', text('v1'));
  await a!.sync();
  await b!.sync();
  a!.replica.write('plan.txt', text('a edit'));
  b!.replica.write('plan.txt', text('b edit'));
  await a!.sync();
  const result = await b!.sync();
  const copy = 'plan (conflicted copy from b 2026-11-21 101500).txt';
  assert.equal(result.conflicts, [copy]);
  assert.is(read(b!.replica, 'plan.txt'), 'a edit');
  assert.is(read(b!.replica, copy), 'b edit');
  await a!.sync();
  assert.equal(tree(a!.replica), tree(b!.replica));
  assert.ok(cluster.history().some((file) => file.path === copy));
});

test('an edit against a delete keeps the edit, both ways round', async () => {
  const { devices: [a, b] } = setup(['a', 'b']);
  a!.replica.write('kept.txt', text('v1'));
  a!.replica.write('also.txt', text('v1'));
  await a!.sync();
  await b!.sync();
  a!.replica.delete('kept.txt');
  b!.replica.write('kept.txt', text('edited while deleted'));
  b!.replica.delete('also.txt');
  a!.replica.write('also.txt', text('edited on a'));
  await a!.sync();
  const result = await b!.sync();
  assert.equal(result.conflicts.sort(), ['also.txt', 'kept.txt']);
  await a!.sync();
  assert.equal(tree(a!.replica), { 'also.txt': 'edited on a', 'kept.txt': 'edited while deleted' });
  assert.equal(tree(b!.replica), tree(a!.replica));
});

test('offline edits on both sides reconcile when the cluster comes back', async () => {
  const { devices: [a, b] } = setup(['a', 'b']);
  a!.replica.write('shared.txt', text('v1'));
  await a!.sync();
  await b!.sync();
  a!.remote.online = false;
  b!.remote.online = false;
  a!.replica.write('from-a.txt', text('a offline'));
  b!.replica.write('from-b.txt', text('b offline'));
  b!.replica.write('shared.txt', text('b offline edit'));
  const refused = await a!.sync().then(() => null, (error: Error) => error);
  assert.match(String(refused?.message), /offline/);
  a!.remote.online = true;
  b!.remote.online = true;
  await a!.sync();
  await b!.sync();
  await a!.sync();
  assert.equal(tree(a!.replica), { 'from-a.txt': 'a offline', 'from-b.txt': 'b offline', 'shared.txt': 'b offline edit' });
  assert.equal(tree(b!.replica), tree(a!.replica));
});

test('a file edited while it downloads is never overwritten', async () => {
  let armed = false;
  const { devices: [a, b] } = setup(['a', 'b'], {
    interfere: (replica) => {
      if (!armed) return;
      armed = false;
      replica.write('doc.txt', text('typed during the sync'));
    },
  });
  a!.replica.write('doc.txt', text('v1'));
  await a!.sync();
  await b!.sync();
  a!.replica.write('doc.txt', text('v2 from a'));
  await a!.sync();
  armed = true;
  const result = await b!.sync();
  assert.ok(result.passes >= 2, 'the refused download leads to another pass');
  const copy = 'doc (conflicted copy from b 2026-11-21 101500).txt';
  assert.is(read(b!.replica, 'doc.txt'), 'v2 from a');
  assert.is(read(b!.replica, copy), 'typed during the sync');
});

test('a sync stopped after its commit is finished by the next without doubling', async () => {
  const { cluster, devices: [a] } = setup(['a']);
  a!.replica.write('one.txt', text('one'));
  // Lose the base updates of the first run, as a crash before saving would.
  const save = a!.replica.saveBase.bind(a!.replica);
  a!.replica.saveBase = async () => undefined;
  await a!.sync();
  a!.replica.saveBase = save;
  const second = await a!.sync();
  assert.is(second.filesUp, 0);
  assert.is(cluster.machine.stat('default', 'one.txt')!.version, 1, 'no second version');
});

test.run();
