// The blocks this node keeps on its own disk, in append-only pack files (pack-format.ts).
// Writes are group-committed: every block appended while one sync of the pack is in
// flight waits for the next, so a burst of small blocks shares one fdatasync. A block is
// counted, readable and acknowledged only once its sync completed. Deletes append a
// tombstone; packs that are mostly dead, or left small by a restart, are compacted: their
// live blocks are copied into the pack being written, then the old file is removed. Every
// read is checked against the block's name, so a corrupt copy is never served as good.
// Writes of the same block share one append, whoever asked for them (a client put or a
// peer's replica).

import type { Storage } from '../actor/env.ts';
import { raftboxError, type RaftboxError } from '../../../protocol/errors.ts';
import type { BlockHash, StorageFailedMessage } from '../../../protocol/wire.ts';
import type { BlockReadMessage, PackSyncedMessage } from './block-messages.ts';
import { encodePadding, encodeRecordHeader, packFile, packHeaderBytes, parsePack, readPacks, replayPacks, type PackLocation } from './pack-format.ts';

/** Largest block, in bytes: FastCDC's maximum chunk. */
export const blockBytesMax = 4 * 1024 * 1024;

/** A pack takes no new batch once it is this long; packs with less live data than half of it get compacted. */
export const packBytesMaxDefault = 64 * 1024 * 1024;

const blockHashPattern = /^[0-9a-f]{64}$/;

/** Tells whether `value` is a block name: 64 lowercase hex characters. */
export function isBlockHash(value: unknown): value is BlockHash {
  return typeof value === 'string' && blockHashPattern.test(value);
}

export type LocalRead = { state: 'ok'; data: Uint8Array } | { state: 'missing' } | { state: 'corrupt'; size: number };

export type WriteOutcome = { ok: true } | { ok: false; error: RaftboxError };

/** `present`: already on disk and verified, nothing to wait for; `pending`: the waiter will be called; `overloaded`: refused, the waiter will not be called. */
export type WriteStart = 'present' | 'pending' | 'overloaded';

export interface BlockStoreOptions {
  node: string;
  sha256: (bytes: Uint8Array) => string;
  writesInFlightMax: number;
  waitersPerWriteMax: number;
  /** See packBytesMaxDefault. */
  packBytesMax?: number;
}

interface PendingWrite {
  location: PackLocation;
  waiters: ((outcome: WriteOutcome) => void)[];
}

interface PackStats {
  /** Bytes appended to the file, records and anything a crash left. */
  bytes: number;
  /** Bytes of the blocks held in it. */
  live: number;
}

/** Records appended since the last sync was asked for; they all sit in one pack. */
interface Batch {
  pack: number;
  writes: BlockHash[];
  records: number;
  /** A compaction whose copies are in this batch: it completes when the batch is durable. */
  compaction: Compaction | null;
}

interface Compaction {
  pack: number;
  moves: { hash: BlockHash; from: PackLocation; to: PackLocation }[];
  /** Copies in the pack left behind because a new copy of the same block was being written (see compactOne). */
  superseded: BlockHash[];
}

/**
 * Local block copies plus the counts the dashboard shows. `blocks` and `bytes` change only
 * when a write is durable, so they never count a block the disk might not hold.
 */
export class BlockStore {
  blocks = 0;
  bytes = 0;
  private readonly packBytesMax: number;
  private readonly index = new Map<BlockHash, PackLocation>();
  private readonly packs = new Map<number, PackStats>();
  private readonly writes = new Map<BlockHash, PendingWrite>();
  /** Reads under way off the actor's thread, by id, each with what to do with the bytes (null: none). */
  private readonly reads = new Map<number, (data: Uint8Array | null) => void>();
  private nextReadId = 1;
  /** The pack new batches go to. */
  private active = 1;
  private batch: Batch;
  private syncing: Batch | null = null;
  private compacting = false;
  /** A sync of the active pack failed: the next batch starts a fresh pack rather than trust that file. */
  private rollOver = false;

  constructor(private readonly storage: Storage, private readonly options: BlockStoreOptions) {
    this.packBytesMax = options.packBytesMax ?? packBytesMaxDefault;
    this.batch = this.emptyBatch();
  }

  /**
   * Rebuild what this node holds from its packs. Reads only the record headers. Nothing is
   * appended to a pack written before a restart (its tail may be torn): a new one is begun.
   */
  scan(): void {
    this.blocks = 0;
    this.bytes = 0;
    this.index.clear();
    this.packs.clear();
    const packs = readPacks(this.storage);
    for (const { seq, bytes } of packs) this.packs.set(seq, { bytes, live: 0 });
    for (const [hash, location] of replayPacks(packs)) this.place(hash, location);
    this.active = (packs.at(-1)?.seq ?? 0) + 1;
    this.batch = this.emptyBatch();
  }

  /** The block's bytes if this node holds a copy that hashes to its name. */
  read(hash: BlockHash): LocalRead {
    const location = this.index.get(hash);
    if (location === undefined) return { state: 'missing' };
    return this.checked(hash, location, this.storage.readRange(packFile(location.pack), location.offset, location.length));
  }

  // What the bytes read for the copy of `hash` at `location` are worth: null is a copy gone.
  private checked(hash: BlockHash, location: PackLocation, data: Uint8Array | null): LocalRead {
    if (data === null) return { state: 'missing' };
    if (data.byteLength !== location.length || this.options.sha256(data) !== hash) return { state: 'corrupt', size: data.byteLength };
    return { state: 'ok', data };
  }

  /**
   * `read` without holding up the actor while the disk works: `done` gets the same answer
   * when the bytes are in, or at once when this node holds no copy. A pack compacted away
   * meanwhile reads as missing, as a copy deleted meanwhile would.
   */
  readLater(hash: BlockHash, done: (read: LocalRead) => void): void {
    const location = this.index.get(hash);
    if (location === undefined) return done({ state: 'missing' });
    this.readRangeLater(location.pack, location.offset, location.length, (data) => done(this.checked(hash, location, data)));
  }

  /** A read of `readRangeLater` is done: its bytes go where they were wanted. */
  onReadDone(message: BlockReadMessage): void {
    const done = this.reads.get(message.id);
    if (done === undefined) return;
    this.reads.delete(message.id);
    done(message.data instanceof Uint8Array ? message.data : null);
  }

  private readRangeLater(pack: number, offset: number, length: number, done: (data: Uint8Array | null) => void): void {
    const id = this.nextReadId++;
    this.reads.set(id, done);
    this.storage.readRangeLater(packFile(pack), offset, length, { type: 'blocks.read-done', id } satisfies Omit<BlockReadMessage, 'data'>);
  }

  /** The size of this node's copy of the block as indexed (unverified), or null when it holds none. */
  sizeOf(hash: BlockHash): number | null {
    return this.index.get(hash)?.length ?? null;
  }

  /** Whether this node holds a copy of the block (unverified). */
  has(hash: BlockHash): boolean {
    return this.index.has(hash);
  }

  /** Delete this node's copy of a block (garbage collection, a surplus copy); false when there was none or a write of it is in flight. */
  remove(hash: BlockHash): boolean {
    if (this.writes.has(hash) || !this.index.has(hash)) return false;
    this.unplace(hash);
    // Durable with the next batch; a crash before it brings the copy back, which the orphan sweeper or surplus check removes again.
    this.append(encodeRecordHeader('tombstone', hash, 0));
    this.flush();
    return true;
  }

  /**
   * Every block held here, as hashes, in the order the store learned of them (a copy, so
   * blocks may come and go while it is walked). Not sorted: sorting a million hashes holds
   * the node's event loop for most of a second, and the scrub and orphan sweep that walk
   * this list need no order.
   */
  list(): BlockHash[] {
    return [...this.index.keys()];
  }

  /** Store a block whose bytes the caller has verified; see WriteStart for when `waiter` is called. */
  write(hash: BlockHash, data: Uint8Array, waiter: (outcome: WriteOutcome) => void): WriteStart {
    const pending = this.writes.get(hash);
    if (pending) {
      if (pending.waiters.length >= this.options.waitersPerWriteMax) return 'overloaded';
      pending.waiters.push(waiter);
      return 'pending';
    }
    if (this.index.has(hash) && this.read(hash).state === 'ok') return 'present';
    if (this.writes.size >= this.options.writesInFlightMax) return 'overloaded';
    const offset = this.append(encodeRecordHeader('block', hash, data.byteLength), data);
    this.writes.set(hash, { location: { pack: this.batch.pack, offset, length: data.byteLength }, waiters: [waiter] });
    this.batch.writes.push(hash);
    this.flush();
    return 'pending';
  }

  /** A sync of a pack completed: its batch is durable. Returns the blocks it stored. */
  onSynced(message: PackSyncedMessage): BlockHash[] {
    const batch = this.syncing;
    if (batch === null || batch.pack !== message.pack) return [];
    this.syncing = null;
    for (const hash of batch.writes) {
      const pending = this.writes.get(hash)!;
      this.writes.delete(hash);
      // A corrupt copy being replaced stops counting here.
      if (this.index.has(hash)) this.unplace(hash);
      this.place(hash, pending.location);
      for (const waiter of pending.waiters) waiter({ ok: true });
    }
    if (batch.compaction) this.finishCompaction(batch.compaction);
    this.flush();
    return batch.writes;
  }

  /**
   * A sync could not complete: its blocks are not stored, nor those appended behind them to
   * the same pack (their offsets assumed the failed bytes are on disk); later writes go to
   * a fresh pack.
   */
  onFailed(message: StorageFailedMessage): void {
    const syncing = this.syncing;
    const done = message.done as PackSyncedMessage;
    if (syncing === null || syncing.pack !== done.pack) return;
    this.syncing = null;
    const failed = [syncing];
    if (this.batch.pack === syncing.pack && this.batch.records > 0) {
      failed.push(this.batch);
      this.batch = this.emptyBatch();
    }
    this.rollOver = true;
    const writes = failed.flatMap((batch) => batch.writes);
    if (failed.some((batch) => batch.compaction !== null)) this.compacting = false;
    const error =
      message.code === 'disk_full'
        ? raftboxError('disk_full', `the disk of node ${this.options.node} is full, so ${writes.length} block(s) were not stored there; free space on that node or add nodes`, { node: this.options.node })
        : raftboxError('internal', `node ${this.options.node} could not write ${writes.length} block(s): ${message.message}`, { node: this.options.node });
    for (const hash of writes) {
      const pending = this.writes.get(hash)!;
      this.writes.delete(hash);
      for (const waiter of pending.waiters) waiter({ ok: false, error });
    }
    this.flush();
  }

  /**
   * Start compacting one pack that is not being written, if one has less live data than
   * half a full pack: it is read off the actor's thread (a whole pack, from a disk that may
   * be busy), then its live blocks (and the tombstones still needed) are copied into the
   * current batch, and the pack is removed once that batch is durable. Returns whether it
   * started one; `done` is called once the read is in and the copies are queued, or the
   * pack turned out to need nothing or to have to wait.
   */
  compactOne(done: () => void = () => undefined): boolean {
    if (this.compacting) return false;
    const pack = this.compactionCandidate();
    if (pack === null) return false;
    this.compacting = true;
    this.readRangeLater(pack, 0, this.packs.get(pack)!.bytes, (bytes) => {
      this.compacting = false;
      this.compactRead(pack, bytes);
      done();
    });
    return true;
  }

  // The rest of compactOne, with the pack's bytes in: every decision is taken on the state
  // as it is now, whatever was written or removed while the disk read.
  private compactRead(pack: number, bytes: Uint8Array | null): void {
    if (bytes === null) {
      this.packs.delete(pack);
      return;
    }
    const oldest = Math.min(...this.packs.keys()) === pack;
    const records = parsePack(bytes).records;
    // A tombstone matters while an older pack may still hold a record of the block.
    const carried = (hash: BlockHash): boolean => !oldest && !this.index.has(hash);
    // One whose block is being written again cannot move now: after the new record it
    // would delete it on restart, and left out, the older record would come back if the
    // write failed. The pack waits for a later turn, once the write has landed.
    if (records.some((record) => record.kind === 'tombstone' && carried(record.hash) && this.writes.has(record.hash))) return;
    const compaction: Compaction = { pack, moves: [], superseded: [] };
    const recordsBefore = this.batch.records;
    for (const record of records) {
      if (record.kind === 'padding') continue;
      if (record.kind === 'tombstone') {
        if (carried(record.hash)) this.append(encodeRecordHeader('tombstone', record.hash, 0));
        continue;
      }
      const from = this.index.get(record.hash);
      if (from === undefined || from.pack !== pack || from.offset !== record.offset) continue;
      // A block being written again while a copy is indexed has a copy that read back
      // corrupt (write() says 'present' otherwise). Its new record is already in a batch;
      // moving the old bytes would put them after it, so that a restart, which keeps a
      // block's last record, would bring the corrupt copy back.
      if (this.writes.has(record.hash)) {
        compaction.superseded.push(record.hash);
        continue;
      }
      const data = bytes.subarray(record.offset, record.offset + record.length);
      const offset = this.append(encodeRecordHeader('block', record.hash, record.length), data);
      compaction.moves.push({ hash: record.hash, from, to: { pack: this.batch.pack, offset, length: record.length } });
    }
    // Nothing in it is needed any more: remove it now (durable with the next sync, and harmless if a crash brings it back).
    if (this.batch.records === recordsBefore) return this.finishCompaction(compaction);
    this.compacting = true;
    this.batch.compaction = compaction;
    this.flush();
  }

  /** Whether some pack is worth compacting now (compactOne would start). */
  compactionDue(): boolean {
    return !this.compacting && this.compactionCandidate() !== null;
  }

  get writesInFlight(): number {
    return this.writes.size;
  }

  /** Pack files on disk, for metrics. */
  get packCount(): number {
    return this.packs.size;
  }

  // ---------------------------------------------------------------- internals

  private emptyBatch(): Batch {
    return { pack: this.active, writes: [], records: 0, compaction: null };
  }

  /** Append a record to the current batch (moving to a fresh pack first when due); returns the offset of `data`. */
  private append(header: Uint8Array, data?: Uint8Array): number {
    if (this.batch.records === 0) {
      const stats = this.packs.get(this.active);
      if (this.rollOver || (stats !== undefined && stats.bytes >= this.packBytesMax)) {
        this.active++;
        this.rollOver = false;
        this.batch = this.emptyBatch();
      }
    }
    let stats = this.packs.get(this.active);
    if (stats === undefined) {
      stats = { bytes: 0, live: 0 };
      this.packs.set(this.active, stats);
    }
    const file = packFile(this.active);
    this.storage.append(file, header);
    if (data !== undefined) this.storage.append(file, data);
    const dataOffset = stats.bytes + packHeaderBytes;
    stats.bytes = dataOffset + (data?.byteLength ?? 0);
    this.batch.records++;
    return dataOffset;
  }

  /**
   * Ask for a sync of the current batch unless one is in flight (its completion asks for
   * the next), padded to end on packAlignment.
   */
  private flush(): void {
    if (this.syncing !== null || this.batch.records === 0) return;
    const stats = this.packs.get(this.batch.pack)!;
    const padding = encodePadding(stats.bytes);
    if (padding !== null) {
      this.storage.append(packFile(this.batch.pack), padding);
      stats.bytes += padding.byteLength;
    }
    this.syncing = this.batch;
    this.batch = this.emptyBatch();
    this.storage.sync(packFile(this.syncing.pack), { type: 'blocks.pack-synced', pack: this.syncing.pack } satisfies PackSyncedMessage);
  }

  private place(hash: BlockHash, location: PackLocation): void {
    this.index.set(hash, location);
    this.packs.get(location.pack)!.live += location.length;
    this.blocks++;
    this.bytes += location.length;
  }

  private unplace(hash: BlockHash): void {
    const location = this.index.get(hash)!;
    this.index.delete(hash);
    const stats = this.packs.get(location.pack);
    if (stats) stats.live -= location.length;
    this.blocks--;
    this.bytes -= location.length;
  }

  private compactionCandidate(): number | null {
    for (const [pack, stats] of this.packs) {
      const written = pack === this.active || pack === this.batch.pack || pack === this.syncing?.pack;
      if (!written && stats.live * 2 < this.packBytesMax) return pack;
    }
    return null;
  }

  private finishCompaction(compaction: Compaction): void {
    this.compacting = false;
    for (const move of compaction.moves) {
      // Removed or replaced while the copy was written: the copy is dead space.
      if (this.index.get(move.hash) !== move.from) continue;
      this.unplace(move.hash);
      this.place(move.hash, move.to);
    }
    // A superseded copy still indexed here goes with the pack (its new write failed, or has yet to land).
    for (const hash of compaction.superseded) if (this.index.get(hash)?.pack === compaction.pack) this.unplace(hash);
    this.storage.remove(packFile(compaction.pack));
    this.packs.delete(compaction.pack);
  }
}
