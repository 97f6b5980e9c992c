import { test } from 'uvu';
import * as assert from 'uvu/assert';
import * as fs from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { StorageFailedMessage } from '../../protocol/wire.ts';
import { withSmallDisk } from './disk-test-support.ts';
import { FsStorage, nodeFsOperations, type FsOperations } from './fs-storage.ts';

const temporaryFolders: string[] = [];

function temporaryFolder(): string {
  const dir = fs.mkdtempSync(join(tmpdir(), 'raftbox-fs-storage-'));
  temporaryFolders.push(dir);
  return dir;
}

/** A storage on a fresh folder, with the messages it delivered and a way to wait for one; files under `packs/` are direct. */
function open(root = temporaryFolder(), fsOperations?: FsOperations) {
  const delivered: unknown[] = [];
  let waiters: (() => void)[] = [];
  const direct = (file: string) => file.startsWith('packs/');
  const storage = new FsStorage(root, (message) => {
    delivered.push(message);
    for (const wake of waiters.splice(0)) wake();
  }, fsOperations ? { fs: fsOperations, openFilesMax: 4, direct } : { openFilesMax: 4, direct });
  const until = async (count: number): Promise<void> => {
    while (delivered.length < count) await new Promise<void>((wake) => waiters.push(wake));
  };
  return { root, storage, delivered, until };
}

const bytes = (text: string): Uint8Array => new TextEncoder().encode(text);
const text = (data: Uint8Array | null): string | null => (data === null ? null : new TextDecoder().decode(data));

test.after(() => {
  for (const dir of temporaryFolders) fs.rmSync(dir, { recursive: true, force: true });
});

test('append then sync puts the bytes on disk before done, completions in order', async () => {
  const { root, storage, delivered, until } = open();
  storage.append('wal/000000000001', bytes('one;'));
  storage.append('wal/000000000001', bytes('two;'));
  // Buffered only: nothing is written before a sync.
  assert.not.ok(fs.existsSync(join(root, 'wal', '000000000001')));
  const seenAtDone: string[] = [];
  const check = new FsStorage(root, () => undefined);
  storage.sync('wal/000000000001', 'first');
  storage.append('wal/000000000001', bytes('three;'));
  storage.sync('wal/000000000001', 'second');
  while (delivered.length < 2) {
    const before = delivered.length;
    await until(before + 1);
    seenAtDone.push(text(check.read('wal/000000000001'))!);
  }
  assert.equal(delivered, ['first', 'second']);
  assert.ok(seenAtDone[0]!.startsWith('one;two;'), 'the first batch is on disk when its done arrives');
  assert.is(seenAtDone[seenAtDone.length - 1], 'one;two;three;');
  assert.is(text(storage.read('wal/000000000001')), 'one;two;three;');
  await storage.close();
});

test('appends continue at the end of a file written by an earlier storage', async () => {
  const root = temporaryFolder();
  const first = open(root);
  first.storage.append('log', bytes('abc'));
  first.storage.sync('log', 1);
  await first.until(1);
  await first.storage.close();
  const second = open(root);
  second.storage.append('log', bytes('def'));
  second.storage.sync('log', 2);
  await second.until(1);
  assert.is(text(second.storage.read('log')), 'abcdef');
  await second.storage.close();
});

test('truncate cuts the file, later appends go after the cut', async () => {
  const { storage, delivered, until } = open();
  storage.append('wal/1', bytes('0123456789'));
  storage.sync('wal/1', 'a');
  await until(1);
  storage.truncate('wal/1', 4);
  storage.append('wal/1', bytes('xy'));
  storage.sync('wal/1', 'b');
  await until(2);
  assert.equal(delivered, ['a', 'b']);
  assert.is(text(storage.read('wal/1')), '0123xy');
  // Appends buffered before a truncate are written before it.
  storage.append('wal/1', bytes('ZZZ'));
  storage.truncate('wal/1', 7);
  storage.sync('wal/1', 'c');
  await until(3);
  assert.is(text(storage.read('wal/1')), '0123xyZ');
  await storage.close();
});

test('put replaces a file whole, leaves no temporary file, and delivers done after', async () => {
  const { root, storage, delivered, until } = open();
  storage.put('snapshot', bytes('old content that is long'), 'p1');
  await until(1);
  assert.is(text(storage.read('snapshot')), 'old content that is long');
  storage.put('snapshot', bytes('new'), 'p2');
  await until(2);
  assert.equal(delivered, ['p1', 'p2']);
  assert.is(text(storage.read('snapshot')), 'new');
  assert.equal(fs.readdirSync(root), ['snapshot']);
  // Deep names get their folders created.
  storage.put('blocks/ab/cd/abcdef', bytes('block'), 'p3');
  await until(3);
  assert.is(text(storage.read('blocks/ab/cd/abcdef')), 'block');
  assert.equal(fs.readdirSync(join(root, 'blocks', 'ab', 'cd')), ['abcdef']);
  await storage.close();
});

test('put over a log file that was appended to replaces it, and appends after it extend the new file', async () => {
  const { storage, until } = open();
  storage.append('f', bytes('appended'));
  storage.sync('f', 1);
  storage.put('f', bytes('put'), 2);
  storage.append('f', bytes('+more'));
  storage.sync('f', 3);
  await until(3);
  assert.is(text(storage.read('f')), 'put+more');
  await storage.close();
});

test('read of a missing file is null; remove deletes; list is sorted by prefix without temporary files', async () => {
  const { root, storage, until } = open();
  assert.is(storage.read('nothing/here'), null);
  for (const name of ['wal/000000000002', 'wal/000000000001', 'wal/000000000010', 'walrus', 'snapshot', 'blocks/ab/cd/x']) {
    storage.append(name, bytes(name));
  }
  // Appended but not yet written files are listed already, as the simulated disk does.
  assert.equal(storage.list('wal/'), ['wal/000000000001', 'wal/000000000002', 'wal/000000000010']);
  let expected = 0;
  for (const name of ['wal/000000000002', 'wal/000000000001', 'wal/000000000010', 'walrus', 'snapshot', 'blocks/ab/cd/x']) storage.sync(name, ++expected);
  await until(expected);
  fs.writeFileSync(join(root, 'wal', '000000000003.tmp-7'), 'left by a crash');
  assert.equal(storage.list('wal/'), ['wal/000000000001', 'wal/000000000002', 'wal/000000000010']);
  assert.equal(storage.list('wal'), ['wal/000000000001', 'wal/000000000002', 'wal/000000000010', 'walrus']);
  assert.equal(storage.list('blocks/a'), ['blocks/ab/cd/x']);
  assert.equal(storage.list(''), ['blocks/ab/cd/x', 'snapshot', 'wal/000000000001', 'wal/000000000002', 'wal/000000000010', 'walrus']);
  assert.equal(storage.list('missing/'), []);
  storage.remove('wal/000000000001');
  assert.equal(storage.list('wal/'), ['wal/000000000002', 'wal/000000000010'], 'a queued remove is listed as gone');
  storage.remove('never-existed');
  storage.sync('wal/000000000002', 'after-remove');
  await until(expected + 1);
  await storage.idle();
  assert.is(storage.read('wal/000000000001'), null);
  assert.not.ok(fs.existsSync(join(root, 'wal', '000000000001')));
  await storage.close();
});

test('readRangeLater delivers the range with its done message; a missing file is null, an unreadable one says why', async () => {
  const { root, storage, delivered, until } = open();
  storage.append('packs/000000000001', bytes('0123456789'));
  storage.sync('packs/000000000001', 'synced');
  await until(1);
  storage.readRangeLater('packs/000000000001', 3, 4, { type: 'read', id: 1 });
  storage.readRangeLater('packs/000000000001', 8, 100, { type: 'read', id: 2 });
  storage.readRangeLater('packs/missing', 0, 4, { type: 'read', id: 3 });
  fs.mkdirSync(join(root, 'packs', 'a-folder'));
  storage.readRangeLater('packs/a-folder', 0, 4, { type: 'read', id: 4 });
  await until(5);
  const reads = (delivered.slice(1) as { id: number; data: Uint8Array | null; error?: string }[]).sort((a, b) => a.id - b.id);
  assert.equal(reads.map((r) => [r.id, text(r.data)]), [[1, '3456'], [2, '89'], [3, null], [4, null]]);
  assert.is(reads[2]!.error, undefined, 'a missing file is no error');
  assert.match(reads[3]!.error ?? '', /^EISDIR reading packs\/a-folder/);
  await storage.close();
});

test('names with .., absolute names and empty segments are refused', () => {
  const { storage } = open();
  for (const bad of ['../escape', 'a/../../b', '/etc/passwd', 'a//b', '', 'a/./b', 'x.tmp-3', 'a\\b']) {
    assert.throws(() => storage.append(bad, bytes('x')), undefined, bad);
    assert.throws(() => storage.read(bad), undefined, bad);
  }
  assert.throws(() => storage.list('../'));
});

test('many interleaved files with few open descriptors keep each file in order', async () => {
  const { storage, delivered, until } = open();
  const files = Array.from({ length: 20 }, (_, i) => `wal/${String(i).padStart(3, '0')}`);
  const expected = new Map<string, string>(files.map((file) => [file, '']));
  let syncs = 0;
  for (let round = 0; round < 30; round++) {
    for (const [i, file] of files.entries()) {
      if ((round + i) % 3 === 0) continue;
      const chunk = `${round}.${i};`;
      storage.append(file, bytes(chunk));
      expected.set(file, expected.get(file) + chunk);
      if ((round * 7 + i) % 4 === 0) storage.sync(file, `${file}@${round}`);
      if ((round * 7 + i) % 4 === 0) syncs++;
    }
  }
  for (const file of files) {
    storage.sync(file, `${file}@end`);
    syncs++;
  }
  await until(syncs);
  for (const file of files) {
    assert.is(text(storage.read(file)), expected.get(file), file);
    // Completions of one file arrive in the order its syncs were asked for.
    const rounds = delivered.filter((d): d is string => typeof d === 'string' && d.startsWith(`${file}@`)).map((d) => d.slice(file.length + 1));
    assert.is(rounds[rounds.length - 1], 'end');
    const numbers = rounds.slice(0, -1).map(Number);
    assert.equal(numbers, [...numbers].sort((a, b) => a - b), file);
  }
  await storage.close();
});

// ------------------------------------------------------------------ disk full

test('disk full on a real small filesystem: put and sync deliver storage.failed disk_full, earlier data intact', () =>
  withSmallDisk('512k', async (dir) => {
    const { storage, delivered, until } = open(dir);
    storage.append('wal/1', bytes('synced-before-full;'));
    storage.sync('wal/1', 'early');
    storage.put('snapshot', bytes('snapshot-v1'), 'snap1');
    await until(2);
    // Two files: each keeps its own order, but either may finish first.
    assert.equal([...delivered].sort(), ['early', 'snap1']);

    // A put bigger than the whole filesystem fails, and the old snapshot survives whole.
    storage.put('snapshot', new Uint8Array(600 * 1024).fill(7), 'snap2');
    await until(3);
    const putFailure = delivered[2] as StorageFailedMessage;
    assert.is(putFailure.type, 'storage.failed');
    assert.is(putFailure.code, 'disk_full');
    assert.is(putFailure.done, 'snap2');
    assert.ok(putFailure.message.includes(dir), putFailure.message);
    assert.is(text(storage.read('snapshot')), 'snapshot-v1');
    assert.equal(fs.readdirSync(dir).filter((name) => name.includes('.tmp-')), [], 'the temporary file of the failed put is removed');

    // An append batch that does not fit fails its sync; the synced prefix is untouched and not followed by garbage.
    storage.append('wal/1', new Uint8Array(600 * 1024).fill(9));
    storage.sync('wal/1', 'big');
    await until(4);
    const syncFailure = delivered[3] as StorageFailedMessage;
    assert.is(syncFailure.type, 'storage.failed');
    assert.is(syncFailure.code, 'disk_full');
    assert.is(syncFailure.done, 'big');
    assert.is(text(storage.read('wal/1')), 'synced-before-full;');

    // Once space is back (the partial write was cut off), the file takes appends again.
    storage.append('wal/1', bytes('after;'));
    storage.sync('wal/1', 'after');
    await until(5);
    assert.is(delivered[4], 'after');
    assert.is(text(storage.read('wal/1')), 'synced-before-full;after;');

    // A direct (O_DIRECT) batch that does not fit fails the same way, and leaves nothing behind.
    storage.append('packs/000000000001', new Uint8Array(600 * 1024).fill(5));
    storage.sync('packs/000000000001', 'big-direct');
    await until(6);
    const directFailure = delivered[5] as StorageFailedMessage;
    assert.equal([directFailure.type, directFailure.code, directFailure.done], ['storage.failed', 'disk_full', 'big-direct']);
    assert.is(storage.size('packs/000000000001') ?? 0, 0);
    await storage.close();
  }));

function enospc(): NodeJS.ErrnoException {
  const error: NodeJS.ErrnoException = new Error('ENOSPC: no space left on device, write');
  error.code = 'ENOSPC';
  return error;
}

test('disk full by injected fault: write errors ENOSPC after a partial write; failures reported, file cut back', async () => {
  console.log('disk full: running the injected-fault variant (ENOSPC from write)');
  let full = false;
  const faulty: FsOperations = {
    ...nodeFsOperations,
    writev: async (fd, chunks) => {
      if (!full) return nodeFsOperations.writev(fd, chunks);
      // Like a real full disk: part of the bytes fit, then the next call fails.
      if (chunks[0]!.byteLength > 3) return nodeFsOperations.writev(fd, [chunks[0]!.subarray(0, 3)]);
      throw enospc();
    },
  };
  const { storage, delivered, until } = open(temporaryFolder(), faulty);
  storage.append('wal/1', bytes('kept;'));
  storage.sync('wal/1', 'early');
  storage.put('snapshot', bytes('v1'), 'snap1');
  await until(2);
  full = true;
  storage.append('wal/1', bytes('lost-batch'));
  storage.sync('wal/1', 'lost');
  storage.put('snapshot', bytes('v2-longer'), 'snap2');
  await until(4);
  const failures = delivered.slice(2) as StorageFailedMessage[];
  assert.equal(failures.map((f) => [f.type, f.code, f.done]).sort(), [['storage.failed', 'disk_full', 'lost'], ['storage.failed', 'disk_full', 'snap2']]);
  assert.is(text(storage.read('wal/1')), 'kept;', 'the partial write is cut back');
  assert.is(text(storage.read('snapshot')), 'v1');
  assert.equal(fs.readdirSync(storage.root).filter((name) => name.includes('.tmp-')), []);
  full = false;
  storage.append('wal/1', bytes('again;'));
  storage.sync('wal/1', 'again');
  await until(5);
  assert.is(delivered[4], 'again');
  assert.is(text(storage.read('wal/1')), 'kept;again;');
  await storage.close();
});

test('a failed fdatasync poisons the file: it and every later sync of it fail with internal', async () => {
  let failSync = false;
  const faulty: FsOperations = {
    ...nodeFsOperations,
    fdatasync: async (fd) => {
      if (failSync) {
        const error: NodeJS.ErrnoException = new Error('EIO: i/o error, fdatasync');
        error.code = 'EIO';
        throw error;
      }
      return nodeFsOperations.fdatasync(fd);
    },
  };
  const { storage, delivered, until } = open(temporaryFolder(), faulty);
  failSync = true;
  storage.append('wal/1', bytes('x'));
  storage.sync('wal/1', 'one');
  await until(1);
  failSync = false;
  storage.append('wal/1', bytes('y'));
  storage.sync('wal/1', 'two');
  await until(2);
  for (const [i, done] of ['one', 'two'].entries()) {
    const failure = delivered[i] as StorageFailedMessage;
    assert.is(failure.code, 'internal');
    assert.is(failure.done, done);
    assert.ok(failure.message.includes('EIO'), failure.message);
  }
  await storage.close();
});


test('appends between syncs and chunks of a put go out with writev, whole even when the kernel takes a few bytes per call; readRange reads any part', async () => {
  let calls = 0;
  const stingy: FsOperations = {
    ...nodeFsOperations,
    // At most 5 bytes per call, cutting chunks anywhere, as a short write may.
    writev: async (fd, chunks) => {
      calls++;
      const first = chunks[0]!;
      return nodeFsOperations.writev(fd, [first.subarray(0, 5)]);
    },
  };
  const { storage, delivered, until } = open(temporaryFolder(), stingy);
  for (const part of ['alpha;', 'be', '', 'gamma-delta;', 'e']) storage.append('packs/000000000001', bytes(part));
  storage.sync('packs/000000000001', 'synced');
  await until(1);
  assert.is(delivered[0], 'synced');
  assert.is(text(storage.read('packs/000000000001')), 'alpha;begamma-delta;e');
  assert.ok(calls >= 5, `short writes were continued (${calls} calls)`);
  assert.is(text(storage.readRange('packs/000000000001', 6, 7)!), 'begamma');
  assert.is(text(storage.readRange('packs/000000000001', 18, 100)!), 'a;e', 'fewer bytes at the end');
  assert.is(storage.readRange('packs/000000000002', 0, 4), null);
  // A file replaced by put from chunks (a snapshot's header and data) is whole, too.
  storage.put('snapshot', [bytes('header;'), bytes(''), bytes('the-data')], 'put');
  await until(2);
  assert.is(delivered[1], 'put');
  assert.is(text(storage.read('snapshot')), 'header;the-data');
  await storage.close();
});

// ------------------------------------------------------------------ O_DIRECT

/** `bytes` pseudo-random bytes (seeded), so a misplaced window of a copy shows. */
function noise(length: number, seed: number): Uint8Array {
  const data = new Uint8Array(length);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < length; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    data[i] = x & 0xff;
  }
  return data;
}

/** FsOperations that count direct opens and writes, and can be told to misbehave. */
function countingOperations(changes: Partial<FsOperations> = {}) {
  const counts = { openDirect: 0, pwrite: 0, pwriteBytes: 0, writev: 0 };
  const operations: FsOperations = {
    ...nodeFsOperations,
    openDirect: (path) => {
      counts.openDirect++;
      return (changes.openDirect ?? nodeFsOperations.openDirect)(path);
    },
    pwrite: async (fd, buffer, length, position) => {
      counts.pwrite++;
      const written = await (changes.pwrite ?? nodeFsOperations.pwrite)(fd, buffer, length, position);
      counts.pwriteBytes += written;
      return written;
    },
    writev: (fd, chunks) => {
      counts.writev++;
      return (changes.writev ?? nodeFsOperations.writev)(fd, chunks);
    },
  };
  return { counts, operations };
}

/** Chunks of odd sizes that add up to `total`, cut from one noise buffer (returned whole too). */
function oddChunks(total: number, seed: number): { whole: Uint8Array; chunks: Uint8Array[] } {
  const whole = noise(total, seed);
  const chunks: Uint8Array[] = [];
  for (let at = 0, size = 1; at < total; at += size, size = (size * 7 + 4093) % 3_000_001) chunks.push(whole.subarray(at, Math.min(total, at + size)));
  return { whole, chunks };
}

const sameBytes = (a: Uint8Array | null, b: Uint8Array): boolean => a !== null && Buffer.compare(a, b) === 0;

test('aligned batches of a direct file go through O_DIRECT whole, across many staging windows; others through the page cache', async () => {
  const { counts, operations } = countingOperations();
  const { storage, delivered, until } = open(temporaryFolder(), operations);
  // 20 MiB + 8 KiB: more than two windows of the 8 MiB staging buffer, in chunks cut anywhere.
  const first = oddChunks(20 * 1024 * 1024 + 8192, 1);
  for (const chunk of first.chunks) storage.append('packs/000000000001', chunk);
  storage.sync('packs/000000000001', 'aligned');
  await until(1);
  assert.is(delivered[0], 'aligned');
  if (counts.openDirect === 1 && counts.pwrite === 0) {
    console.log('O_DIRECT: this file system refuses it; the page-cache path wrote instead');
  } else {
    assert.is(counts.pwrite, 3, 'three staging windows');
    assert.is(counts.pwriteBytes, first.whole.byteLength);
    assert.is(counts.writev, 0, 'nothing went through the page cache');
  }
  assert.ok(sameBytes(storage.read('packs/000000000001'), first.whole), 'the file holds the batch, byte for byte');
  const direct = counts.pwrite;

  // An unaligned batch goes through the page cache, and so does the next: the file no longer ends on the alignment.
  storage.append('packs/000000000001', bytes('odd'));
  storage.sync('packs/000000000001', 'odd');
  storage.append('packs/000000000001', noise(4096, 2));
  storage.sync('packs/000000000001', 'after-odd');
  // A file not named direct never uses O_DIRECT, aligned or not.
  storage.append('wal/1', noise(8192, 3));
  storage.sync('wal/1', 'wal');
  await until(4);
  // Completions of one file come in order; those of different files need not.
  assert.equal(delivered.slice(1).filter((done) => done !== 'wal'), ['odd', 'after-odd']);
  assert.ok(delivered.includes('wal'));
  assert.is(counts.pwrite, direct, 'no more direct writes');
  assert.ok(sameBytes(storage.read('packs/000000000001'), Buffer.concat([first.whole, bytes('odd'), noise(4096, 2)])));
  assert.ok(sameBytes(storage.read('wal/1'), noise(8192, 3)));
  await storage.close();
});

test('a short direct write is finished through the page cache, and the file is whole', async () => {
  const { counts, operations } = countingOperations({
    // The disk takes one page of the first window only, as a nearly full disk might.
    pwrite: (fd, buffer, length, position) => nodeFsOperations.pwrite(fd, buffer, counts.pwrite === 1 ? 4096 : length, position),
  });
  const { storage, delivered, until } = open(temporaryFolder(), operations);
  const batch = oddChunks(3 * 4096, 4);
  for (const chunk of batch.chunks) storage.append('packs/000000000001', chunk);
  storage.sync('packs/000000000001', 'done');
  await until(1);
  assert.is(delivered[0], 'done');
  if (counts.pwrite > 0) assert.ok(counts.writev >= 1, 'the rest went through writev');
  assert.ok(sameBytes(storage.read('packs/000000000001'), batch.whole));
  await storage.close();
});

test('a direct write that fails with ENOSPC reports disk_full and cuts the file back; a file system that refuses O_DIRECT falls back', async () => {
  let full = false;
  const { counts, operations } = countingOperations({
    pwrite: async (fd, buffer, length, position) => {
      if (full) throw enospc();
      return nodeFsOperations.pwrite(fd, buffer, length, position);
    },
  });
  const { storage, delivered, until } = open(temporaryFolder(), operations);
  const kept = noise(8192, 5);
  storage.append('packs/000000000001', kept);
  storage.sync('packs/000000000001', 'kept');
  await until(1);
  full = true;
  storage.append('packs/000000000001', noise(4096 * 300, 6));
  storage.sync('packs/000000000001', 'lost');
  await until(2);
  const failure = delivered[1] as StorageFailedMessage;
  if (counts.pwrite > 0) {
    assert.equal([failure.type, failure.code, failure.done], ['storage.failed', 'disk_full', 'lost']);
    assert.ok(sameBytes(storage.read('packs/000000000001'), kept), 'cut back to what was synced');
  }
  await storage.close();

  // EINVAL from the O_DIRECT open (tmpfs on older kernels, some network file systems): tried once, then the page cache.
  const einval: NodeJS.ErrnoException = Object.assign(new Error('EINVAL: invalid argument, open'), { code: 'EINVAL' });
  const refusing = countingOperations({ openDirect: () => Promise.reject(einval) });
  const second = open(temporaryFolder(), refusing.operations);
  for (const seed of [7, 8]) {
    second.storage.append(`packs/00000000000${seed}`, noise(4096, seed));
    second.storage.sync(`packs/00000000000${seed}`, seed);
  }
  await second.until(2);
  assert.equal(second.delivered.sort(), [7, 8]);
  assert.is(refusing.counts.openDirect, 1, 'not asked again once refused');
  for (const seed of [7, 8]) assert.ok(sameBytes(second.storage.read(`packs/00000000000${seed}`), noise(4096, seed)));
  await second.storage.close();

  // EINVAL from a direct write (a file system wanting larger alignment): that batch and the later ones go through the page cache.
  const picky = countingOperations({ pwrite: () => Promise.reject(Object.assign(new Error('EINVAL: invalid argument, write'), { code: 'EINVAL' })) });
  const third = open(temporaryFolder(), picky.operations);
  for (const [i, seed] of [9, 10].entries()) {
    third.storage.append('packs/000000000009', noise(8192, seed));
    third.storage.sync('packs/000000000009', seed);
    await third.until(i + 1);
  }
  assert.equal(third.delivered, [9, 10]);
  assert.is(picky.counts.pwrite, 1, 'not tried again once refused');
  assert.ok(sameBytes(third.storage.read('packs/000000000009'), Buffer.concat([noise(8192, 9), noise(8192, 10)])));
  await third.storage.close();
});

test.run();
