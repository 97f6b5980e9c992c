import type { Storage } from '../node/core/actor/env.ts';
import type { EventQueue } from './event-queue.ts';
import type { Prng } from './prng.ts';
import { concatBytes } from '../protocol/bytes.ts';

/** A read's time on the simulated disk: fixed, so reads draw nothing from the seed's random stream. */
const readLatencyMs = 0.1;

type PendingOp = { kind: 'append'; bytes: Uint8Array } | { kind: 'truncate'; length: number } | { kind: 'remove' };

interface SimFile {
  /** What survives a crash. */
  durable: Uint8Array[];
  /** Writes since the last completed sync, as the page cache holds them. */
  pending: PendingOp[];
  /** False once removed in the cache; a crash can bring it back. */
  exists: boolean;
  durableExists: boolean;
}

export interface DiskFaults {
  /** On crash, the first unsynced append may reach the disk partly (torn) or garbled. */
  tear: boolean;
}

/**
 * A disk that behaves like a real one under a crash: appends sit in a cache until a sync
 * completes (after a simulated latency); a crash forgets them, except that part of the
 * first may have reached the platter, possibly garbled. `put` replaces a file atomically.
 * Completions are delivered through `deliver`, which the node guards with its epoch so
 * a completion never reaches an actor restarted since.
 */
export class SimDisk implements Storage {
  private files = new Map<string, SimFile>();
  syncs = 0;
  tornWrites = 0;

  constructor(
    private readonly queue: EventQueue,
    private readonly prng: Prng,
    private readonly faults: DiskFaults,
    private readonly deliver: (message: unknown) => void,
  ) {}

  append(file: string, bytes: Uint8Array): void {
    const f = this.open(file);
    f.exists = true;
    f.pending.push({ kind: 'append', bytes });
  }

  truncate(file: string, length: number): void {
    this.open(file).pending.push({ kind: 'truncate', length });
  }

  remove(file: string): void {
    const f = this.files.get(file);
    if (!f) return;
    f.exists = false;
    f.pending.push({ kind: 'remove' });
  }

  sync(file: string, done: unknown): void {
    const f = this.open(file);
    const ops = f.pending.length;
    this.queue.schedule(this.latencyMs(), () => {
      // Everything written before the sync call is durable now; later writes stay cached.
      const synced = f.pending.splice(0, ops);
      for (const op of synced) applyOp(f, op);
      this.syncs++;
      this.deliver(done);
    });
  }

  put(file: string, bytes: Uint8Array | readonly Uint8Array[], done: unknown): void {
    const copy = bytes instanceof Uint8Array ? bytes.slice() : concatBytes(bytes);
    this.queue.schedule(this.latencyMs(), () => {
      const f = this.open(file);
      f.durable = [copy];
      f.durableExists = true;
      f.exists = true;
      f.pending = [];
      this.syncs++;
      this.deliver(done);
    });
  }

  read(file: string): Uint8Array | null {
    const f = this.files.get(file);
    if (!f || !f.exists) return null;
    const view: SimFile = { durable: [...f.durable], pending: [], exists: f.durableExists, durableExists: f.durableExists };
    for (const op of f.pending) applyOp(view, op);
    return concat(view.durable);
  }

  readRange(file: string, offset: number, length: number): Uint8Array | null {
    const f = this.files.get(file);
    if (!f || !f.exists) return null;
    // Packs are read a record at a time: join the durable chunks once instead of per read,
    // and read them directly while the cache holds only appends past the range.
    if (f.durable.length > 1) f.durable = [concatBytes(f.durable)];
    const durable = f.durable[0] ?? new Uint8Array(0);
    const appendsOnly = f.pending.every((op) => op.kind === 'append');
    const bytes = appendsOnly && f.durableExists && offset + length <= durable.byteLength ? durable : this.read(file)!;
    return bytes.slice(offset, offset + length);
  }

  readRangeLater(file: string, offset: number, length: number, done: object): void {
    // Read when the completion comes, as a real read may see a file removed meanwhile.
    this.queue.schedule(readLatencyMs, () => this.deliver({ ...done, data: this.readRange(file, offset, length) }));
  }

  size(file: string): number | null {
    return this.read(file)?.byteLength ?? null;
  }

  list(prefix: string): string[] {
    return [...this.files].filter(([name, f]) => f.exists && name.startsWith(prefix)).map(([name]) => name).sort();
  }

  /** Flips one bit of a file's durable bytes, as a failing disk would; false when there is no such file. */
  corrupt(file: string, offset: number): boolean {
    const f = this.files.get(file);
    if (!f || !f.exists || f.pending.length > 0) return false;
    // A copy: readers may still hold the array a read returned.
    const bytes = concat(f.durable).slice();
    if (bytes.byteLength === 0) return false;
    bytes[offset % bytes.byteLength]! ^= 0x01;
    f.durable = [bytes];
    return true;
  }

  /** Lose everything not synced. With tearing on, part of one unsynced append survives, maybe garbled. */
  crash(): void {
    for (const [name, f] of this.files) {
      const firstAppend = f.pending.find((op): op is Extract<PendingOp, { kind: 'append' }> => op.kind === 'append');
      f.pending = [];
      f.exists = f.durableExists;
      if (!f.exists && f.durable.length === 0) {
        this.files.delete(name);
        continue;
      }
      if (this.faults.tear && firstAppend && f.exists && this.prng.chance(0.5)) {
        const torn = firstAppend.bytes.slice(0, this.prng.int(1, firstAppend.bytes.byteLength));
        if (this.prng.chance(0.5)) torn[this.prng.int(0, torn.byteLength - 1)]! ^= 1 << this.prng.int(0, 7);
        f.durable.push(torn);
        this.tornWrites++;
      }
    }
  }

  private open(file: string): SimFile {
    let f = this.files.get(file);
    if (!f) {
      f = { durable: [], pending: [], exists: true, durableExists: false };
      this.files.set(file, f);
    }
    return f;
  }

  private latencyMs(): number {
    // Mostly fast, sometimes a slow sync: the windows where crashes hurt most.
    return 0.2 + this.prng.float() * 1.8 + (this.prng.chance(0.05) ? this.prng.float() * 20 : 0);
  }
}

function applyOp(f: SimFile, op: PendingOp): void {
  switch (op.kind) {
    case 'append':
      f.durable.push(op.bytes);
      f.durableExists = true;
      return;
    case 'truncate':
      f.durable = [concat(f.durable).slice(0, op.length)];
      return;
    case 'remove':
      f.durable = [];
      f.durableExists = false;
      return;
  }
}

// One chunk is returned as is, as the simulated disk always did; callers that keep or
// change the bytes copy them.
function concat(chunks: Uint8Array[]): Uint8Array {
  return chunks.length === 1 ? chunks[0]! : concatBytes(chunks);
}
