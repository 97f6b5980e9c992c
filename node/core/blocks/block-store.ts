// The blocks this node keeps on its own disk: one file per block at `blocks/ab/cd/<hash>`,
// written atomically by the host (temporary name, sync, rename). Every read is checked
// against the name, so a corrupt file is never served as good. Writes of the same block
// share one storage put, whoever asked for them (a client put or a peer's replica).

import type { Storage } from '../actor/env.ts';
import { raftboxError, type RaftboxError } from '../../../protocol/errors.ts';
import type { BlockHash, StorageFailedMessage } from '../../../protocol/wire.ts';
import type { BlockWrittenMessage } from './block-messages.ts';

/** Largest block, in bytes: FastCDC's maximum chunk. */
export const blockBytesMax = 4 * 1024 * 1024;

const blockHashPattern = /^[0-9a-f]{64}$/;

/** Tells whether `value` is a block name: 64 lowercase hex characters. */
export function isBlockHash(value: unknown): value is BlockHash {
  return typeof value === 'string' && blockHashPattern.test(value);
}

/** The file a block lives in, fanned out over two folder levels so no folder grows huge. */
export function blockFile(hash: BlockHash): string {
  return `blocks/${hash.slice(0, 2)}/${hash.slice(2, 4)}/${hash}`;
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
}

interface PendingWrite {
  size: number;
  /** Size of the (corrupt) file being replaced, or null when the block was absent. */
  replacedSize: number | null;
  waiters: ((outcome: WriteOutcome) => void)[];
}

/**
 * Local block files plus the counts the dashboard shows. `blocks` and `bytes` change only
 * when a write is durable, so they never count a block the disk might not hold.
 */
export class BlockStore {
  blocks = 0;
  bytes = 0;
  private readonly writes = new Map<BlockHash, PendingWrite>();

  constructor(private readonly storage: Storage, private readonly options: BlockStoreOptions) {}

  /** Count the blocks already on disk; files whose names are not block names (temporaries) are skipped. */
  scan(): void {
    this.blocks = 0;
    this.bytes = 0;
    for (const name of this.storage.list('blocks/')) {
      const hash = name.slice(name.lastIndexOf('/') + 1);
      if (!isBlockHash(hash) || blockFile(hash) !== name) continue;
      const bytes = this.storage.size(name);
      if (bytes === null) continue;
      this.blocks++;
      this.bytes += bytes;
    }
  }

  /** The block's bytes if this node holds a copy that hashes to its name. */
  read(hash: BlockHash): LocalRead {
    const data = this.storage.read(blockFile(hash));
    if (data === null) return { state: 'missing' };
    if (this.options.sha256(data) !== hash) return { state: 'corrupt', size: data.byteLength };
    return { state: 'ok', data };
  }

  /** Whether a file for the block exists, without reading it. */
  has(hash: BlockHash): boolean {
    return this.storage.size(blockFile(hash)) !== null;
  }

  /** Delete this node's copy of a block (garbage collection, a surplus copy); false when there was none or a write of it is in flight. */
  remove(hash: BlockHash): boolean {
    if (this.writes.has(hash)) return false;
    const size = this.storage.size(blockFile(hash));
    if (size === null) return false;
    this.storage.remove(blockFile(hash));
    this.blocks--;
    this.bytes -= size;
    return true;
  }

  /** Every block file name on this node's disk, as hashes, sorted. */
  list(): BlockHash[] {
    const hashes: BlockHash[] = [];
    for (const name of this.storage.list('blocks/')) {
      const hash = name.slice(name.lastIndexOf('/') + 1);
      if (isBlockHash(hash) && blockFile(hash) === name) hashes.push(hash);
    }
    return hashes;
  }

  /** Store a block whose bytes the caller has verified; see WriteStart for when `waiter` is called. */
  write(hash: BlockHash, data: Uint8Array, waiter: (outcome: WriteOutcome) => void): WriteStart {
    const pending = this.writes.get(hash);
    if (pending) {
      if (pending.waiters.length >= this.options.waitersPerWriteMax) return 'overloaded';
      pending.waiters.push(waiter);
      return 'pending';
    }
    // Most blocks written are new here: a size check spares reading (and failing to read) them.
    const existing: LocalRead = this.has(hash) ? this.read(hash) : { state: 'missing' };
    if (existing.state === 'ok') return 'present';
    if (this.writes.size >= this.options.writesInFlightMax) return 'overloaded';
    const replacedSize = existing.state === 'corrupt' ? existing.size : null;
    this.writes.set(hash, { size: data.byteLength, replacedSize, waiters: [waiter] });
    this.storage.put(blockFile(hash), data, { type: 'blocks.written', hash } satisfies BlockWrittenMessage);
    return 'pending';
  }

  /** The host made a write durable. */
  onWritten(message: BlockWrittenMessage): void {
    const pending = this.writes.get(message.hash);
    if (!pending) return;
    this.writes.delete(message.hash);
    this.blocks += pending.replacedSize === null ? 1 : 0;
    this.bytes += pending.size - (pending.replacedSize ?? 0);
    for (const waiter of pending.waiters) waiter({ ok: true });
  }

  /** The host could not write; the block is not stored and the counts stay as they were. */
  onFailed(message: StorageFailedMessage, hash: BlockHash): void {
    const pending = this.writes.get(hash);
    if (!pending) return;
    this.writes.delete(hash);
    const error =
      message.code === 'disk_full'
        ? raftboxError('disk_full', `the disk of node ${this.options.node} is full, so block ${hash} was not stored there; free space on that node or add nodes`, { node: this.options.node })
        : raftboxError('internal', `node ${this.options.node} could not write block ${hash}: ${message.message}`, { node: this.options.node });
    for (const waiter of pending.waiters) waiter({ ok: false, error });
  }

  get writesInFlight(): number {
    return this.writes.size;
  }
}
