import type { Entry, EntryType, HardState, Snapshot } from '../../../protocol/raft-messages.ts';
import { decodeRecords, encodeRecord, encodeRecords } from '../../../protocol/record.ts';
import type { Storage } from '../actor/env.ts';
import { assert } from './assert.ts';
import type { RaftState } from './raft.ts';

// The Raft write-ahead log on an Env's storage. Segment files `wal/<n>` hold framed
// records (length, CRC-32C, payload) of three kinds: an entry (which overwrites any entry
// at its index or after it), the hard state, and a snapshot marker (everything before it
// is superseded by an installed snapshot). The newest snapshot sits in the file
// `snapshot`, replaced atomically. Each new segment starts with the current hard state,
// so older segments can be deleted once a snapshot covers their entries.

const SNAPSHOT_FILE = 'snapshot';
const SEGMENT_PREFIX = 'wal/';
const ENTRY = 1;
const HARD_STATE = 2;
const MARKER = 3;
const ENTRY_TYPES: EntryType[] = ['normal', 'config', 'noop'];
const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** Thrown when stable storage holds something recovery cannot trust; the node must not start on it. */
export class CorruptStorageError extends Error {
  readonly code = 'corrupt_storage';
}

export class Wal {
  private segment = 0;
  private segmentBytes = 0;
  /** Highest entry index in each segment, to know which ones a snapshot makes obsolete. */
  private segmentLastIndex = new Map<number, number>();
  private hardState: HardState = { term: 0, vote: null, commit: 0 };
  /**
   * A snapshot found at recovery that the log has no marker for: a crash came between
   * saving an installed snapshot and syncing its marker. Without one, entries appended
   * after the snapshot would read back as a gap in the log.
   */
  private markerOwed: Snapshot | null = null;

  constructor(private readonly storage: Storage, private readonly segmentBytesMax: number) {}

  /**
   * Rebuild the node's durable state: the snapshot, then every segment in order. A torn
   * or corrupt tail of the last segment (a crash mid-write) is cut off; damage anywhere
   * else is a CorruptStorageError, since acknowledged entries would be missing.
   */
  recover(bootstrap: Snapshot): RaftState {
    const snapshotBytes = this.storage.read(SNAPSHOT_FILE);
    const snapshot = snapshotBytes ? decodeSnapshot(snapshotBytes) : bootstrap;
    let base = { index: 0, term: 0 };
    let entries: Entry[] = [];
    const segments = this.storage.list(SEGMENT_PREFIX);
    segments.forEach((file, position) => {
      const bytes = this.storage.read(file)!;
      const decoded = decodeRecords(bytes);
      if (decoded.stop !== 'end') {
        if (position !== segments.length - 1) throw new CorruptStorageError(`log segment ${file} is damaged at byte ${decoded.validBytes} and is not the last one: acknowledged entries are missing. Wipe this node's data folder so it rejoins from its peers.`);
        this.storage.truncate(file, decoded.validBytes);
      }
      const number = Number(file.slice(SEGMENT_PREFIX.length));
      for (const payload of decoded.records) {
        const record = decodeWalRecord(payload);
        if (record.kind === 'hardState') this.hardState = record.hardState;
        else if (record.kind === 'marker') {
          base = { index: record.index, term: record.term };
          entries = [];
        } else {
          const entry = record.entry;
          if (entries.length === 0 && entry.index > base.index + 1) base = { index: entry.index - 1, term: 0 };
          if (entry.index <= base.index) continue;
          if (entry.index > base.index + entries.length + 1) throw new CorruptStorageError(`log segment ${file} skips from index ${base.index + entries.length} to ${entry.index}: the log is corrupted.`);
          entries.length = entry.index - base.index - 1;
          entries.push(entry);
          this.segmentLastIndex.set(number, Math.max(this.segmentLastIndex.get(number) ?? 0, entry.index));
        }
      }
      this.segment = number;
      this.segmentBytes = decoded.validBytes;
    });
    const continuation = entriesAfter(snapshot, base, entries);
    if (continuation === null) this.markerOwed = snapshot;
    return { hardState: { ...this.hardState, commit: Math.max(this.hardState.commit, snapshot.index) }, snapshot, entries: continuation ?? [] };
  }

  /**
   * Buffer one batch: an optional marker for a snapshot just installed, the entries, and
   * the hard state. Nothing is durable until `sync` completes. A batch never spans two
   * segments, so one sync covers it.
   */
  append(marker: Snapshot | null, entries: Entry[], hardState: HardState | null): void {
    if (this.segment === 0 || this.segmentBytes >= this.segmentBytesMax) this.rotate();
    const payloads: Uint8Array[] = [];
    marker ??= this.markerOwed;
    this.markerOwed = null;
    if (marker) payloads.push(encodeMarker(marker.index, marker.term));
    for (const entry of entries) payloads.push(encodeEntry(entry));
    if (entries.length > 0) this.segmentLastIndex.set(this.segment, Math.max(this.segmentLastIndex.get(this.segment) ?? 0, entries[entries.length - 1]!.index));
    if (hardState) {
      this.hardState = hardState;
      payloads.push(encodeHardState(hardState));
    }
    // The whole batch as one write: one buffer, one append call.
    const batch = encodeRecords(payloads);
    this.storage.append(this.fileOf(this.segment), batch);
    this.segmentBytes += batch.byteLength;
  }

  /** Make the current segment durable; `done` arrives in the actor's mailbox afterwards. */
  sync(done: unknown): void {
    this.storage.sync(this.fileOf(this.segment), done);
  }

  /** Replace the snapshot file atomically; `done` arrives when it is durable. */
  saveSnapshot(snapshot: Snapshot, done: unknown): void {
    this.storage.put(SNAPSHOT_FILE, encodeSnapshot(snapshot), done);
  }

  /** Delete segments whose every entry is covered by a durable snapshot at `index`. */
  dropCoveredSegments(index: number): void {
    for (const [segment, lastIndex] of [...this.segmentLastIndex]) {
      if (segment >= this.segment || lastIndex >= index) continue;
      this.storage.remove(this.fileOf(segment));
      this.segmentLastIndex.delete(segment);
    }
  }

  private rotate(): void {
    this.segment++;
    this.segmentBytes = 0;
    // Every segment carries the hard state, so deleting older ones never loses it.
    const record = encodeRecord(encodeHardState(this.hardState));
    this.storage.append(this.fileOf(this.segment), record);
    this.segmentBytes += record.byteLength;
  }

  private fileOf(segment: number): string {
    return SEGMENT_PREFIX + String(segment).padStart(12, '0');
  }
}

/**
 * The entries that continue `snapshot`. They are kept only when the log provably holds
 * the snapshot's own last entry (same index and term), or starts right after it. Null
 * when the log does not continue it: its entries predate an installed snapshot and may
 * conflict with it, and the log needs a marker before it takes new entries.
 */
function entriesAfter(snapshot: Snapshot, base: { index: number; term: number }, entries: Entry[]): Entry[] | null {
  if (snapshot.index === base.index && (snapshot.term === base.term || base.term === 0)) return entries;
  if (snapshot.index < base.index) throw new CorruptStorageError(`the log starts at ${base.index + 1}, after the snapshot at ${snapshot.index}: entries are missing.`);
  const at = entries[snapshot.index - base.index - 1];
  if (at && at.term === snapshot.term) return entries.slice(snapshot.index - base.index);
  return null;
}

type WalRecord = { kind: 'entry'; entry: Entry } | { kind: 'hardState'; hardState: HardState } | { kind: 'marker'; index: number; term: number };

function encodeEntry(entry: Entry): Uint8Array {
  const out = new Uint8Array(18 + entry.data.byteLength);
  const view = new DataView(out.buffer);
  view.setUint8(0, ENTRY);
  view.setFloat64(1, entry.index, true);
  view.setFloat64(9, entry.term, true);
  view.setUint8(17, ENTRY_TYPES.indexOf(entry.type));
  out.set(entry.data, 18);
  return out;
}

function encodeHardState(hardState: HardState): Uint8Array {
  const vote = encoder.encode(hardState.vote ?? '');
  const out = new Uint8Array(18 + vote.byteLength);
  const view = new DataView(out.buffer);
  view.setUint8(0, HARD_STATE);
  view.setFloat64(1, hardState.term, true);
  view.setFloat64(9, hardState.commit, true);
  view.setUint8(17, hardState.vote === null ? 0 : 1);
  out.set(vote, 18);
  return out;
}

function encodeMarker(index: number, term: number): Uint8Array {
  const out = new Uint8Array(17);
  const view = new DataView(out.buffer);
  view.setUint8(0, MARKER);
  view.setFloat64(1, index, true);
  view.setFloat64(9, term, true);
  return out;
}

function decodeWalRecord(payload: Uint8Array): WalRecord {
  const view = new DataView(payload.buffer, payload.byteOffset, payload.byteLength);
  const kind = view.getUint8(0);
  if (kind === ENTRY && payload.byteLength >= 18) {
    const type = ENTRY_TYPES[view.getUint8(17)];
    assert(type !== undefined, 'unknown entry type in the log');
    return { kind: 'entry', entry: { index: view.getFloat64(1, true), term: view.getFloat64(9, true), type, data: payload.slice(18) } };
  }
  if (kind === HARD_STATE && payload.byteLength >= 18) {
    const vote = view.getUint8(17) === 1 ? decoder.decode(payload.subarray(18)) : null;
    return { kind: 'hardState', hardState: { term: view.getFloat64(1, true), commit: view.getFloat64(9, true), vote } };
  }
  if (kind === MARKER && payload.byteLength === 17) return { kind: 'marker', index: view.getFloat64(1, true), term: view.getFloat64(9, true) };
  throw new CorruptStorageError(`a log record of kind ${kind} and ${payload.byteLength} bytes passed its checksum but is malformed.`);
}

/**
 * Snapshot file: [u32 header length][JSON header: index, term, config][state machine data],
 * as two chunks: the state machine's data is written as it is, never copied behind the header.
 */
export function encodeSnapshot(snapshot: Snapshot): [Uint8Array, Uint8Array] {
  const header = encoder.encode(JSON.stringify({ index: snapshot.index, term: snapshot.term, config: snapshot.config }));
  const prefix = new Uint8Array(4 + header.byteLength);
  new DataView(prefix.buffer).setUint32(0, header.byteLength, true);
  prefix.set(header, 4);
  return [prefix, snapshot.data];
}

export function decodeSnapshot(bytes: Uint8Array): Snapshot {
  const length = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength).getUint32(0, true);
  const header = JSON.parse(decoder.decode(bytes.subarray(4, 4 + length))) as Omit<Snapshot, 'data'>;
  return { index: header.index, term: header.term, config: header.config, data: bytes.slice(4 + length) };
}
