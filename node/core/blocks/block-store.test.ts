import { test } from 'uvu';
import * as assert from 'uvu/assert';
import fc from 'fast-check';
import { createHash } from 'node:crypto';
import type { Storage } from '../actor/env.ts';
import { concatBytes } from '../../../protocol/bytes.ts';
import type { StorageFailedMessage } from '../../../protocol/wire.ts';
import { BlockStore, type WriteOutcome } from './block-store.ts';
import type { BlockReadMessage, PackSyncedMessage } from './block-messages.ts';
import { packAlignment, packedBlocks, packFile } from './pack-format.ts';

const sha256 = (bytes: Uint8Array) => createHash('sha256').update(bytes).digest('hex');

/** Storage whose syncs complete only when the test says so; a crash forgets what no completed sync covered. */
class TestDisk implements Storage {
  durable = new Map<string, Uint8Array>();
  private cached = new Map<string, Uint8Array[]>();
  private removed = new Set<string>();
  syncs: { file: string; done: PackSyncedMessage; chunks: Uint8Array[]; removed: string[] }[] = [];
  append(file: string, bytes: Uint8Array): void {
    this.cached.set(file, [...(this.cached.get(file) ?? []), bytes.slice()]);
  }
  sync(file: string, done: unknown): void {
    this.syncs.push({ file, done: done as PackSyncedMessage, chunks: this.cached.get(file) ?? [], removed: [...this.removed] });
    this.cached.delete(file);
    this.removed.clear();
  }
  /** Make the oldest sync durable and return its completion. */
  complete(): PackSyncedMessage {
    const sync = this.syncs.shift()!;
    for (const file of sync.removed) this.durable.delete(file);
    this.durable.set(sync.file, concatBytes([this.durable.get(sync.file) ?? new Uint8Array(0), ...sync.chunks]));
    return sync.done;
  }
  fail(): StorageFailedMessage {
    const sync = this.syncs.shift()!;
    return { type: 'storage.failed', done: sync.done, code: 'disk_full', message: 'ENOSPC' };
  }
  truncate(): void {
    throw new Error('not used');
  }
  put(): void {
    throw new Error('not used');
  }
  read(file: string): Uint8Array | null {
    return this.removed.has(file) ? null : (this.durable.get(file)?.slice() ?? null);
  }
  readRange(file: string, offset: number, length: number): Uint8Array | null {
    return this.read(file)?.slice(offset, offset + length) ?? null;
  }
  /** Completions of readRangeLater, for the test to hand to the store (read at once). */
  reads: object[] = [];
  readRangeLater(file: string, offset: number, length: number, done: object): void {
    this.reads.push({ ...done, data: this.readRange(file, offset, length) });
  }
  size(file: string): number | null {
    return this.read(file)?.byteLength ?? null;
  }
  remove(file: string): void {
    this.removed.add(file);
  }
  /** A removed file is gone at once for readers, and for good once a later sync completes. */
  list(prefix: string): string[] {
    return [...this.durable.keys()].filter((name) => name.startsWith(prefix) && !this.removed.has(name)).sort();
  }
  /** Forget everything no completed sync covered. */
  crash(): void {
    this.cached.clear();
    this.removed.clear();
    this.syncs = [];
  }
}

type Block = { hash: string; data: Uint8Array };

function block(text: string, size = 0): Block {
  const data = new Uint8Array(Math.max(size, text.length));
  data.set(new TextEncoder().encode(text));
  return { hash: sha256(data), data };
}

function open(disk: TestDisk, packBytesMax = 1 << 20): BlockStore {
  const store = new BlockStore(disk, { node: 'n1', sha256, writesInFlightMax: 100, waitersPerWriteMax: 4, packBytesMax });
  store.scan();
  return store;
}

/** Complete syncs until the store asks for no more. */
function settle(store: BlockStore, disk: TestDisk): void {
  while (disk.syncs.length > 0 || disk.reads.length > 0) {
    readsDone(store, disk);
    if (disk.syncs.length > 0) store.onSynced(disk.complete());
  }
}

/** Hands the store the reads it asked for off its thread (a compaction's pack, a block). */
function readsDone(store: BlockStore, disk: TestDisk): void {
  for (const read of disk.reads.splice(0)) store.onReadDone(read as BlockReadMessage);
}

function write(store: BlockStore, b: { hash: string; data: Uint8Array }): WriteOutcome[] {
  const outcomes: WriteOutcome[] = [];
  assert.is(store.write(b.hash, b.data, (outcome) => outcomes.push(outcome)), 'pending');
  return outcomes;
}

test('writes while a sync is in flight share the next one; a block counts and reads only once durable', () => {
  const disk = new TestDisk();
  const store = open(disk);
  const [a, b, c] = [block('a'), block('b'), block('c')];
  const first = write(store, a);
  const later = [write(store, b), write(store, c)];
  assert.is(disk.syncs.length, 1, 'one sync in flight');
  assert.is(store.read(a.hash).state, 'missing', 'not readable before its sync completes');
  assert.is(store.blocks, 0);
  assert.equal(store.onSynced(disk.complete()), [a.hash]);
  assert.equal(first, [{ ok: true }]);
  assert.is(disk.syncs.length, 1, 'b and c went out together in the next sync');
  assert.equal(store.onSynced(disk.complete()), [b.hash, c.hash]);
  assert.equal(later, [[{ ok: true }], [{ ok: true }]]);
  assert.equal(store.read(c.hash), { state: 'ok', data: c.data });
  assert.equal([store.blocks, store.bytes], [3, 3]);
  assert.is(store.write(a.hash, a.data, () => assert.unreachable('present')), 'present');
});

test('a removed block stays removed across a restart; an unsynced write is simply not there', () => {
  const disk = new TestDisk();
  const store = open(disk);
  const [a, b, c] = [block('a'), block('b'), block('c')];
  write(store, a);
  write(store, b);
  store.onSynced(disk.complete());
  store.onSynced(disk.complete());
  assert.ok(store.remove(a.hash));
  assert.not.ok(store.remove(a.hash), 'nothing left to remove');
  store.onSynced(disk.complete());
  write(store, c);
  disk.crash();
  const again = open(disk);
  assert.equal(again.list(), [b.hash]);
  assert.equal([again.blocks, again.bytes], [1, 1]);
  assert.is(again.read(a.hash).state, 'missing');
});

test('a corrupt copy is replaced by a new write, and the old bytes stop counting', () => {
  const disk = new TestDisk();
  const store = open(disk);
  const a = block('a', 100);
  write(store, a);
  store.onSynced(disk.complete());
  const location = packedBlocks(disk).get(a.hash)!;
  disk.durable.get(packFile(location.pack))![location.offset]! ^= 1;
  assert.equal(store.read(a.hash), { state: 'corrupt', size: 100 });
  write(store, a);
  store.onSynced(disk.complete());
  assert.equal(store.read(a.hash), { state: 'ok', data: a.data });
  assert.equal([store.blocks, store.bytes], [1, 100]);
  assert.equal(open(disk).read(a.hash), { state: 'ok', data: a.data }, 'the newer record wins on restart');
});

test('a failed sync fails its writes and those queued behind them in that pack; nothing counts; later writes go to a fresh pack', () => {
  const disk = new TestDisk();
  const store = open(disk);
  const [a, b, c] = [block('a'), block('b'), block('c')];
  const outcomes = [write(store, a), write(store, b)];
  store.onFailed(disk.fail());
  for (const outcome of outcomes) {
    assert.is(outcome.length, 1);
    assert.is(!outcome[0]!.ok && outcome[0]!.error.code, 'disk_full');
  }
  assert.equal([store.blocks, store.bytes], [0, 0]);
  assert.is(disk.syncs.length, 0, 'b is not synced into the pack whose write failed');
  write(store, c);
  assert.is(disk.syncs[0]!.file, packFile(2));
  store.onSynced(disk.complete());
  assert.equal(store.list(), [c.hash]);
});

test('full packs roll over; a mostly dead pack is compacted into the current one and removed, and a restart agrees', () => {
  const disk = new TestDisk();
  // Each block is its own batch, padded to one alignment unit: three fill a pack.
  const packBytes = 3 * packAlignment;
  const store = open(disk, packBytes);
  const blocks = Array.from({ length: 8 }, (_, i) => block(`block ${i}`, 3000));
  for (const b of blocks) {
    write(store, b);
    store.onSynced(disk.complete());
  }
  assert.ok(disk.list('packs/').length >= 2, 'more than one pack');
  assert.not.ok(store.compactionDue(), 'full packs with live blocks are left alone');
  const inFirst = [...packedBlocks(disk)].filter(([, location]) => location.pack === 1).map(([hash]) => hash);
  assert.ok(inFirst.length >= 3);
  for (const hash of inFirst.slice(1)) store.remove(hash);
  settle(store, disk);
  assert.ok(store.compactionDue());
  assert.ok(store.compactOne());
  settle(store, disk);
  assert.not.ok(disk.list('packs/').includes(packFile(1)), 'the old pack is gone');
  const kept = blocks.filter((b) => !inFirst.slice(1).includes(b.hash));
  for (const b of kept) assert.equal(store.read(b.hash), { state: 'ok', data: b.data });
  const again = open(disk, packBytes);
  assert.equal(again.list().sort(), kept.map((b) => b.hash).sort());
  assert.equal([again.blocks, again.bytes], [kept.length, kept.length * 3000]);
});

/**
 * Pack 1: a, b, e. Pack 2: c, the tombstone of a, d, f. Pack 3: g, then the tombstones of
 * the blocks named in `removedLast`. A block's batch takes two alignment units, a
 * tombstone's one; a pack takes no batch once it holds six.
 */
function tombstoneLayout(removedLast: string[]) {
  const disk = new TestDisk();
  const packBytes = 6 * packAlignment;
  const store = open(disk, packBytes);
  const blocks = Object.fromEntries(['a', 'b', 'c', 'd', 'e', 'f', 'g'].map((text) => [text, block(text, 8000)]));
  const put = (name: string) => {
    write(store, blocks[name]!);
    store.onSynced(disk.complete());
  };
  const remove = (name: string) => {
    assert.ok(store.remove(blocks[name]!.hash));
    store.onSynced(disk.complete());
  };
  ['a', 'b', 'e', 'c'].forEach(put);
  remove('a');
  ['d', 'f', 'g'].forEach(put);
  removedLast.forEach(remove);
  assert.equal(disk.list('packs/'), [packFile(1), packFile(2), packFile(3)]);
  return { disk, store, packBytes, blocks: blocks as Record<'a' | 'b' | 'c' | 'd' | 'e' | 'f' | 'g', Block> };
}

test('compaction carries a tombstone forward while an older pack still holds the block it deleted', () => {
  const { disk, store, packBytes, blocks } = tombstoneLayout(['c', 'd']);
  const { b, e, f, g } = blocks;
  // Pack 2 is mostly dead and is compacted; pack 1 is still two-thirds live.
  assert.ok(store.compactOne());
  readsDone(store, disk);
  store.onSynced(disk.complete());
  assert.equal(disk.list('packs/'), [packFile(1), packFile(3)]);
  assert.equal(open(disk, packBytes).list().sort(), [b, e, f, g].map((x) => x.hash).sort(), 'a does not come back from pack 1');
});

/**
 * Pack 1: x, y, a; pack 2: z. Each block is its own batch, padded to one alignment unit,
 * so three fill a pack. The blocks named in `removed` are then removed, which leaves pack 1
 * due for compaction, and a's copy rots on disk.
 */
function rottenCopyLayout(removed: ('x' | 'y')[]) {
  const disk = new TestDisk();
  const packBytes = 3 * packAlignment;
  const store = open(disk, packBytes);
  const [x, y, a, z] = ['x', 'y', 'a', 'z'].map((text) => block(text, 3000)) as [Block, Block, Block, Block];
  for (const b of [x, y, a, z]) {
    write(store, b);
    store.onSynced(disk.complete());
  }
  for (const b of removed) assert.ok(store.remove({ x, y }[b].hash));
  settle(store, disk);
  const location = packedBlocks(disk).get(a.hash)!;
  assert.is(location.pack, 1);
  disk.durable.get(packFile(1))![location.offset]! ^= 1;
  assert.is(store.read(a.hash).state, 'corrupt');
  return { disk, store, packBytes, x, y, a, z };
}

test('compaction leaves behind a corrupt copy that a write is replacing, so a restart keeps the new copy', () => {
  // Pack 1 keeps y and a, a third of a pack.
  const { disk, store, packBytes, y, a, z } = rottenCopyLayout(['x']);
  // A repair writes a again; while that write waits on the disk, pack 1 is compacted.
  const outcome = write(store, a);
  assert.ok(store.compactOne());
  settle(store, disk);
  assert.equal(outcome, [{ ok: true }]);
  assert.not.ok(disk.list('packs/').includes(packFile(1)), 'the old pack is gone');
  for (const b of [y, a, z]) assert.equal(store.read(b.hash), { state: 'ok', data: b.data });
  const again = open(disk, packBytes);
  for (const b of [y, a, z]) assert.equal(again.read(b.hash), { state: 'ok', data: b.data }, 'a restart reads every block whole');
  assert.equal([again.blocks, again.bytes], [store.blocks, store.bytes]);
});

test('a corrupt copy left behind by compaction is gone with its pack when the write replacing it fails', () => {
  const { disk, store, packBytes, a, z } = rottenCopyLayout(['x', 'y']);
  const outcome = write(store, a);
  // Nothing in pack 1 is worth moving, so the compaction ends at once and takes the pack with it.
  assert.ok(store.compactOne());
  readsDone(store, disk);
  store.onFailed(disk.fail());
  settle(store, disk);
  assert.is(outcome.length, 1);
  assert.not.ok(outcome[0]!.ok);
  assert.not.ok(store.has(a.hash), 'the store no longer claims a copy of a');
  assert.is(store.read(a.hash).state, 'missing');
  assert.equal([store.blocks, store.bytes], [1, 3000]);
  const again = open(disk, packBytes);
  assert.is(again.read(a.hash).state, 'missing', 'a restart agrees');
  assert.equal(again.list(), [z.hash]);
});

test('a tombstone whose block is being written again waits, so a failed write does not bring the old copy back', () => {
  // Everything in pack 2 but the tombstone of a is dead.
  const { disk, store, packBytes, blocks } = tombstoneLayout(['c', 'd', 'f']);
  const { a, b, e, g } = blocks;
  // a is stored again; while that write waits on the disk, pack 2's turn comes and passes.
  const outcome = write(store, a);
  assert.ok(store.compactOne());
  readsDone(store, disk);
  assert.ok(store.compactionDue(), 'pack 2 waits for the write of a');
  assert.ok(disk.list('packs/').includes(packFile(2)));
  store.onFailed(disk.fail());
  assert.not.ok(outcome[0]!.ok);
  assert.ok(store.compactOne(), 'with the write over, pack 2 is compacted');
  readsDone(store, disk);
  settle(store, disk);
  assert.not.ok(disk.list('packs/').includes(packFile(2)));
  assert.equal(open(disk, packBytes).list().sort(), [b, e, g].map((x) => x.hash).sort(), 'a does not come back from pack 1');
});

test('property: whatever writes, removals, rot, failed syncs, compactions and crashes happen, no acknowledged write is lost and a restart reads what the node serves', () => {
  const blocks = ['p', 'q', 'r'].map((text, i) => block(text, [100, 3000, 5000][i]));
  const op = fc.record({ kind: fc.constantFrom('write', 'write', 'remove', 'complete', 'complete', 'complete', 'fail', 'rot', 'compact', 'compact', 'read', 'read', 'crash'), block: fc.nat({ max: blocks.length - 1 }) });
  fc.assert(
    fc.property(fc.array(op, { maxLength: 40 }), (ops) => {
      const disk = new TestDisk();
      // Small packs, so rollovers and compactions come often.
      const packBytes = 3 * packAlignment;
      let store = open(disk, packBytes);
      // Blocks acknowledged since their last removal or rot: each must read back whole.
      const kept = new Set<string>();
      // Blocks removed since they were last acknowledged: a removal is durable only with a
      // later sync, so a failed sync or a crash may bring the copy back as it was.
      const removed = new Set<string>();
      const acknowledged = (hash: string) => {
        kept.add(hash);
        removed.delete(hash);
      };
      for (const { kind, block: index } of ops) {
        const b = blocks[index]!;
        if (kind === 'write') {
          const current = store;
          const start = store.write(b.hash, b.data, (outcome) => {
            if (outcome.ok && current === store) acknowledged(b.hash);
          });
          if (start === 'present') acknowledged(b.hash);
        } else if (kind === 'remove') {
          if (!store.remove(b.hash)) continue;
          kept.delete(b.hash);
          removed.add(b.hash);
        } else if (kind === 'complete') {
          if (disk.syncs.length > 0) store.onSynced(disk.complete());
        } else if (kind === 'fail') {
          if (disk.syncs.length > 0) store.onFailed(disk.fail());
        } else if (kind === 'rot') {
          const location = packedBlocks(disk).get(b.hash);
          if (location === undefined) continue;
          disk.durable.get(packFile(location.pack))![location.offset + (location.length >> 1)]! ^= 1;
          kept.delete(b.hash);
        } else if (kind === 'compact') {
          store.compactOne();
        } else if (kind === 'read') {
          // The oldest read the store is waiting for comes in, whatever happened meanwhile.
          const read = disk.reads.shift();
          if (read !== undefined) store.onReadDone(read as BlockReadMessage);
        } else {
          disk.reads = [];
          disk.crash();
          store = open(disk, packBytes);
        }
      }
      settle(store, disk);
      const again = open(disk, packBytes);
      let back = 0;
      for (const b of blocks) {
        const [served, restarted] = [store.read(b.hash).state, again.read(b.hash).state];
        const name = `block of ${b.data.byteLength} bytes`;
        if (kept.has(b.hash)) assert.is(served, 'ok', `${name} was acknowledged and neither removed nor rotted since`);
        if (served === 'missing' && restarted !== 'missing' && removed.has(b.hash)) back++;
        else assert.is(restarted, served, `${name}: the node reads it ${served}, so a restart must too`);
      }
      if (back === 0) assert.equal([again.blocks, again.bytes], [store.blocks, store.bytes], 'a restart counts what the node counts');
    }),
    { numRuns: 30000 },
  );
});

test.run();
