import type { Entry, Snapshot } from '../../../protocol/raft-messages.ts';
import { assert } from './assert.ts';

/**
 * A node's view of the replicated log: the latest snapshot, the entries after it, and
 * the three indexes that move along it. Invariant:
 * snapshot index ≤ applied ≤ committed ≤ last index, and stabled ≤ last index.
 * Entries are immutable once created; they are shared, never copied or edited.
 */
export class RaftLog {
  /** The newest snapshot, or a zero snapshot before the first one. Entries start right after it. */
  snapshot: Snapshot;
  entries: Entry[] = [];
  /** Highest index known committed by a quorum. */
  committed: number;
  /** Highest index handed to the state machine. */
  applied: number;
  /** Highest index known to be on stable storage. */
  stabled: number;
  /** A snapshot received from the leader that is not yet persisted and restored. */
  pendingSnapshot: Snapshot | null = null;

  constructor(snapshot: Snapshot, entries: Entry[], committed: number) {
    this.snapshot = snapshot;
    for (let i = 0; i < entries.length; i++) assert(entries[i]!.index === snapshot.index + 1 + i, 'recovered entries must be contiguous after the snapshot');
    this.entries = entries;
    this.stabled = this.lastIndex();
    this.committed = Math.min(Math.max(committed, snapshot.index), this.lastIndex());
    this.applied = snapshot.index;
  }

  firstIndex(): number {
    return this.snapshot.index + 1;
  }

  lastIndex(): number {
    return this.snapshot.index + this.entries.length;
  }

  lastTerm(): number {
    return this.entries.length > 0 ? this.entries[this.entries.length - 1]!.term : this.snapshot.term;
  }

  /** Term of the entry at `index`, or undefined when it was compacted away or is beyond the end. */
  term(index: number): number | undefined {
    if (index === this.snapshot.index) return this.snapshot.term;
    if (index < this.snapshot.index || index > this.lastIndex()) return undefined;
    return this.entries[index - this.snapshot.index - 1]!.term;
  }

  entry(index: number): Entry | undefined {
    if (index <= this.snapshot.index || index > this.lastIndex()) return undefined;
    return this.entries[index - this.snapshot.index - 1];
  }

  matchTerm(index: number, term: number): boolean {
    return this.term(index) === term;
  }

  /** Whether a candidate's log, ending at (lastIndex, lastTerm), is at least as up to date as ours (§5.4.1). */
  isUpToDate(lastIndex: number, lastTerm: number): boolean {
    const ourTerm = this.lastTerm();
    return lastTerm > ourTerm || (lastTerm === ourTerm && lastIndex >= this.lastIndex());
  }

  /** Append entries that continue the log exactly (the leader's own proposals). */
  append(entries: Entry[]): void {
    for (const entry of entries) {
      assert(entry.index === this.lastIndex() + 1, 'appended entries must continue the log');
      this.entries.push(entry);
    }
  }

  /**
   * The follower's half of AppendEntries: if our log holds (prevIndex, prevTerm), drop any
   * conflicting suffix, append what is new and advance the commit index. Returns the
   * index of the last entry the leader sent, or null when the consistency check fails.
   */
  maybeAppend(prevIndex: number, prevTerm: number, commit: number, entries: Entry[]): number | null {
    if (!this.matchTerm(prevIndex, prevTerm)) return null;
    const lastNewIndex = prevIndex + entries.length;
    const conflict = this.findConflict(entries);
    if (conflict !== 0) {
      assert(conflict > this.committed, `entry ${conflict} conflicts with the committed prefix (committed ${this.committed})`);
      this.truncateFrom(conflict);
      this.append(entries.slice(conflict - entries[0]!.index));
    }
    this.commitTo(Math.min(commit, lastNewIndex));
    return lastNewIndex;
  }

  /** The index of the first entry that is new or differs in term from ours, or 0 when all match. */
  private findConflict(entries: Entry[]): number {
    for (const entry of entries) {
      if (entry.index <= this.snapshot.index) continue;
      if (!this.matchTerm(entry.index, entry.term)) return entry.index;
    }
    return 0;
  }

  private truncateFrom(index: number): void {
    if (index > this.lastIndex()) return;
    this.entries.length = index - this.snapshot.index - 1;
    if (this.stabled >= index) this.stabled = index - 1;
  }

  /**
   * Fast backtracking: the largest index ≤ `index` whose term is ≤ `term`. A leader told
   * "I have term T at index I" jumps straight past every entry of a term the follower
   * cannot hold, instead of probing one index per round trip.
   */
  findConflictByTerm(index: number, term: number): number {
    let i = Math.min(index, this.lastIndex());
    while (i > this.snapshot.index) {
      const t = this.term(i)!;
      if (t <= term) return i;
      i--;
    }
    return this.snapshot.index;
  }

  commitTo(index: number): void {
    if (index <= this.committed) return;
    assert(index <= this.lastIndex(), `commit ${index} beyond the last index ${this.lastIndex()}`);
    this.committed = index;
  }

  /** Entries in [lo, hi], cut at `bytesMax` but always at least one. Every index must be present. */
  slice(lo: number, hi: number, bytesMax: number): Entry[] {
    if (lo > hi) return [];
    assert(lo > this.snapshot.index && hi <= this.lastIndex(), `slice [${lo}, ${hi}] outside the log`);
    const out: Entry[] = [];
    let bytes = 0;
    for (let i = lo; i <= hi; i++) {
      const entry = this.entries[i - this.snapshot.index - 1]!;
      bytes += entry.data.byteLength + 24;
      if (out.length > 0 && bytes > bytesMax) break;
      out.push(entry);
    }
    return out;
  }

  unstableEntries(): Entry[] {
    return this.entries.slice(this.stabled - this.snapshot.index);
  }

  /** Mark entries up to `index` durable, unless the log changed there since they were handed out. */
  stableTo(index: number, term: number): void {
    if (index > this.stabled && this.matchTerm(index, term)) this.stabled = index;
  }

  /** Committed entries the state machine has not seen. Callers persist before they apply. */
  committedUnapplied(): Entry[] {
    const from = Math.max(this.applied, this.snapshot.index);
    if (this.committed <= from) return [];
    return this.entries.slice(from - this.snapshot.index, this.committed - this.snapshot.index);
  }

  appliedTo(index: number): void {
    assert(index <= this.committed && index >= this.applied, `applied ${index} outside [${this.applied}, ${this.committed}]`);
    this.applied = index;
  }

  /** Replace the whole log with a snapshot from the leader; our entries are all superseded. */
  restore(snapshot: Snapshot): void {
    assert(snapshot.index > this.committed, 'a snapshot below the commit index is never restored');
    this.snapshot = snapshot;
    this.entries = [];
    this.committed = snapshot.index;
    this.stabled = snapshot.index;
    this.pendingSnapshot = snapshot;
  }

  /** Forget entries up to the snapshot's index, which the state machine already applied and storage already holds. */
  compact(snapshot: Snapshot): void {
    assert(snapshot.index <= this.applied, 'only applied entries can be compacted');
    assert(snapshot.index > this.snapshot.index, 'compaction must move forward');
    assert(this.term(snapshot.index) === snapshot.term, 'snapshot term must match the log');
    this.entries = this.entries.slice(snapshot.index - this.snapshot.index);
    this.snapshot = snapshot;
  }
}
