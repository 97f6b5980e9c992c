// The metadata state machine: namespaces of files with their version histories, the
// block registry, the change feed and the client sessions, all replicated by applying
// the same committed Raft entries in the same order. It is deterministic: apply reads
// only the entry (its data and index), never the clock, so every replica ends equal.

import { isRaftboxError, raftboxError, type RaftboxError } from '../../../protocol/errors.ts';
import { normalizePath, normalizePrefix } from '../../../protocol/paths.ts';
import type { Entry, NodeId } from '../../../protocol/raft-messages.ts';
import { incrementClock, mergeClocks } from '../../../protocol/vector-clock.ts';
import type { BlockHash, FileChange, FileInfo } from '../../../protocol/wire.ts';
import { restoreAll, type StateMachine } from '../raft/raft-actor.ts';
import { SessionTable } from '../raft/sessions.ts';
import { BlockReferences } from './block-references.ts';
import { BlockRegistry, type RegistryRow } from './block-registry.ts';
import { ChangeFeed, type FeedRecord, type FeedRow } from './change-feed.ts';
import { decodeCommand, toWireError, type ApplyResult, type CommitCommand, type GcCommand, type MemberCommand, type NodeCommand, type RegisterCommand, type ReleaseCommand } from './commands.ts';
import { NamespaceShape, type PathCollision } from './namespace-shape.ts';
import { OwnerChanges } from './owner-changes.ts';
import { RingState, type JoinedNode } from './ring-state.ts';
import { PieceReader, SnapshotFormatError } from './snapshot-reader.ts';
import { arrayHeader, arrayPieces, mapHeader, SlicedEncoder, whole, type Piece } from './snapshot-writer.ts';

export interface MetadataStateMachineOptions {
  /** Versions kept per path, the current one included; older ones are dropped. */
  historyVersionsMax: number;
  /** Records kept in the change feed; a cursor older than the oldest dropped one must re-list. */
  feedEntriesMax: number;
  /** Client sessions remembered for exactly-once; the idlest is forgotten first. */
  sessionsMax: number;
  namespacesMax: number;
  /** Paths per namespace, tombstones included. */
  filesPerNamespaceMax: number;
  registryBlocksMax: number;
  /** The nodes of the placement ring when the log says nothing else (the cluster's initial nodes). */
  ringMembers: NodeId[];
}

export const defaultMetadataStateMachineOptions: MetadataStateMachineOptions = {
  historyVersionsMax: 100,
  feedEntriesMax: 100_000,
  sessionsMax: 10_000,
  namespacesMax: 10_000,
  filesPerNamespaceMax: 1_000_000,
  registryBlocksMax: 50_000_000,
  ringMembers: [],
};

/** Called after a commit applied, with the versions it wrote; the service pushes them to watchers. */
export type CommitListener = (namespace: string, index: number, files: FileInfo[]) => void;

/** Called after blocks were forgotten: by garbage collection (`node` null: every node drops its copy). */
export type BlocksDroppedListener = (hashes: BlockHash[], node: NodeId | null) => void;

/** The answer to "what changed since cursor": see `MetadataStateMachine.changes`. */
export interface ChangesResult {
  changes: FileInfo[];
  cursor: number;
  reset: boolean;
}

/** The default and largest number of changes one `changes` call returns. */
export const changesLimitDefault = 1000;
export const changesLimitMax = 10_000;

const snapshotFormat = 1;

/** File versions (or registry, feed or session rows) one snapshot step encodes: a few milliseconds of work. */
export const snapshotRecordsPerStep = 1000;

/** Block hashes whose owner changes are remembered for repairers' scans (about 7 MB of strings). */
const ownerChangesRecordedMax = 100_000;

/** path → versions, oldest first; the last one is current. */
type Namespace = Map<string, FileInfo[]>;

interface SnapshotState {
  format: number;
  appliedIndex: number;
  namespaces: [string, [string, FileInfo[]][]][];
  registry: ReturnType<BlockRegistry['toJSON']>;
  feed: { floor: number; records: FeedRecord[] };
  sessions: [string, number, ApplyResult, number][];
  ring?: ReturnType<RingState['toJSON']>;
}

/** See the file comment. Queries read the local replica; the service makes them linearizable with ReadIndex. */
export class MetadataStateMachine implements StateMachine {
  readonly options: MetadataStateMachineOptions;
  private namespaces = new Map<string, Namespace>();
  /** Derived from the current versions, per namespace; rebuilt when a snapshot is installed. */
  private shapes = new Map<string, NamespaceShape>();
  private registry = new BlockRegistry();
  /** Derived from the versions and the registry; not saved in snapshots but rebuilt when one is installed. */
  private references = new BlockReferences((hash) => this.registry.get(hash) !== undefined);
  private feed: ChangeFeed;
  private sessions: SessionTable<ApplyResult>;
  private ring: RingState;
  appliedIndex = 0;
  /** Bumped whenever the registry changes, so a reader can tell cheaply that it must look again. */
  blocksVersion = 0;
  private readonly ownerChanges = new OwnerChanges(ownerChangesRecordedMax);
  onCommit: CommitListener | null = null;
  onBlocksDropped: BlocksDroppedListener | null = null;
  /** Called after a node joined or was forgotten, so the host can dial it or hang up. */
  onMembersChanged: (() => void) | null = null;
  /** Called after a snapshot replaced the state, with the index applied before it: commits in between were never applied one by one. */
  onRestored: ((previousIndex: number) => void) | null = null;

  constructor(options: Partial<MetadataStateMachineOptions> = {}) {
    this.options = { ...defaultMetadataStateMachineOptions, ...options };
    this.feed = new ChangeFeed(this.options.feedEntriesMax);
    this.sessions = new SessionTable(this.options.sessionsMax);
    this.ring = new RingState(this.options.ringMembers);
  }

  // ---------------------------------------------------------------- apply

  /** Applies one committed entry and returns its `ApplyResult`. Never throws for a bad command: it is refused with an error result. */
  apply(entry: Entry): ApplyResult {
    if (entry.index <= this.appliedIndex) throw new Error(`entry ${entry.index} applied after ${this.appliedIndex}: entries must be applied once, in order`);
    this.appliedIndex = entry.index;
    let command;
    try {
      command = decodeCommand(entry.data);
    } catch (error) {
      if (isRaftboxError(error)) return { ok: false, error: toWireError(error) };
      throw error;
    }
    const session = this.sessions.check(command.client, command.seq);
    if (session.kind === 'duplicate') return session.result;
    if (session.kind === 'stale') {
      const message = `command ${command.seq} of client ${JSON.stringify(command.client)} is stale: its command ${session.lastSeq} was already applied; send new commands with higher numbers`;
      return { ok: false, error: { code: 'bad_message', message, details: { lastSeq: session.lastSeq } } };
    }
    const result = this.applyCommand(command, entry.index);
    this.sessions.record(command.client, command.seq, result, entry.index);
    if (result.ok && command.kind === 'commit') this.onCommit?.(command.namespace, entry.index, (result.result as { files: FileInfo[] }).files);
    return result;
  }

  private applyCommand(command: ReturnType<typeof decodeCommand>, index: number): ApplyResult {
    switch (command.kind) {
      case 'commit':
        return this.commit(command, index);
      case 'register':
        return this.register(command);
      case 'node':
        return this.changeNode(command);
      case 'gc':
        return this.collect(command);
      case 'release':
        return this.release(command);
      case 'member':
        return this.changeMember(command);
    }
  }

  private commit(command: CommitCommand, index: number): ApplyResult {
    const refusal = this.refuseCommit(command);
    if (refusal) return { ok: false, error: toWireError(refusal) };
    let namespace = this.namespaces.get(command.namespace);
    if (!namespace) this.namespaces.set(command.namespace, (namespace = new Map()));
    let shape = this.shapes.get(command.namespace);
    if (!shape) this.shapes.set(command.namespace, (shape = new NamespaceShape()));
    const files = command.changes.map((change) => {
      const versions = namespace.get(change.path) ?? [];
      const before = versions[versions.length - 1] ?? null;
      const file = nextVersion(before, change, command.device, index);
      shape.update(change.path, before, file);
      versions.push(file);
      this.references.add(file);
      if (versions.length > this.options.historyVersionsMax) {
        for (const trimmed of versions.splice(0, versions.length - this.options.historyVersionsMax)) this.references.remove(trimmed);
      }
      namespace.set(change.path, versions);
      this.feed.append({ index, namespace: command.namespace, path: file.path, version: file.version });
      return file;
    });
    return { ok: true, result: { files } };
  }

  /** Every check a commit must pass against the current state; the first failure refuses the whole commit. */
  private refuseCommit(command: CommitCommand): RaftboxError | null {
    const namespace = this.namespaces.get(command.namespace);
    if (!namespace && this.namespaces.size >= this.options.namespacesMax) {
      return raftboxError('overloaded', `the cluster holds the most namespaces allowed (${this.options.namespacesMax}); namespace ${JSON.stringify(command.namespace)} cannot be created`);
    }
    let newPaths = 0;
    for (const change of command.changes) {
      const current = last(namespace?.get(change.path));
      if (!current) newPaths++;
      const refusal = refuseChange(change, current);
      if (refusal) return refusal;
      for (const block of change.blocks) {
        const known = this.registry.get(block.hash);
        if (known && known.size !== block.size) return raftboxError('bad_message', `block ${block.hash} of ${JSON.stringify(change.path)} is ${known.size} bytes, not ${block.size}`);
      }
    }
    if (command.pathRules === 1) {
      const collision = (this.shapes.get(command.namespace) ?? emptyShape).collision(command.changes, (path) => last(namespace?.get(path)) ?? null);
      if (collision) return pathConflict(collision);
    }
    const missing = this.registry.missing(command.changes.flatMap((change) => change.blocks.map((block) => block.hash)));
    if (missing.length > 0) return raftboxError('not_found', `${missing.length} block(s) of this commit are not stored in the cluster (first ${missing[0]}); upload and register them, then commit again`, { missing });
    const files = namespace?.size ?? 0;
    if (files + newPaths > this.options.filesPerNamespaceMax) {
      return raftboxError('overloaded', `namespace ${JSON.stringify(command.namespace)} would hold ${files + newPaths} paths, more than the ${this.options.filesPerNamespaceMax} allowed`);
    }
    return null;
  }

  private register(command: RegisterCommand): ApplyResult {
    let added = 0;
    for (const block of command.blocks) {
      const known = this.registry.get(block.hash);
      if (known && known.size !== block.size) {
        return { ok: false, error: { code: 'bad_message', message: `block ${block.hash} is registered as ${known.size} bytes, not ${block.size}; a hash names one content`, details: { hash: block.hash } } };
      }
      if (!known) added++;
    }
    if (this.registry.size + added > this.options.registryBlocksMax) {
      return { ok: false, error: { code: 'overloaded', message: `the block registry holds the most blocks allowed (${this.options.registryBlocksMax})` } };
    }
    this.registry.register(command.blocks, command.atMs ?? 0);
    for (const block of command.blocks) this.references.registered(block.hash);
    this.ownerChanges.record(++this.blocksVersion, command.blocks.map((block) => block.hash));
    return { ok: true, result: { registered: command.blocks.length } };
  }

  private changeNode(command: NodeCommand): ApplyResult {
    if (!this.ring.isMember(command.node)) {
      return { ok: false, error: { code: 'not_found', message: `node ${command.node} is not on the placement ring; it has members ${this.ring.all.join(', ')}` } };
    }
    if (this.ring.apply(command.node, command.change)) this.ownerChanges.forgetAll(++this.blocksVersion);
    return { ok: true, result: { epoch: this.ring.epoch } };
  }

  private release(command: ReleaseCommand): ApplyResult {
    let released = 0;
    const changed = new Set<BlockHash>();
    for (const block of command.blocks) {
      for (const owner of block.owners) {
        if (!this.registry.release(block.hash, owner)) continue;
        released++;
        changed.add(block.hash);
      }
    }
    if (released > 0) this.ownerChanges.record(++this.blocksVersion, [...changed]);
    return { ok: true, result: { released } };
  }

  private changeMember(command: MemberCommand): ApplyResult {
    const { node, change } = command;
    if (change !== 'join' && !this.ring.isMember(node)) {
      return { ok: false, error: { code: 'not_found', message: `node ${node} is not on the placement ring; it has members ${this.ring.all.join(', ')}` } };
    }
    if (change === 'join') this.ring.join(node, { url: command.url!, voter: command.voter !== false });
    if (change === 'leave') this.ring.leave(node, this.blocksOwnedBy(node));
    if (change === 'forget') {
      this.ring.forget(node);
      for (const [hash] of this.registry.entries()) this.registry.release(hash, node);
    }
    this.ownerChanges.forgetAll(++this.blocksVersion);
    if (change !== 'leave') this.onMembersChanged?.();
    return { ok: true, result: { epoch: this.ring.epoch } };
  }

  /**
   * Forget every block no retained version refers to whose grace period is over; the
   * nodes then delete their copies. Only the blocks nothing names are looked at.
   */
  private collect(command: GcCommand): ApplyResult {
    const dropped: BlockHash[] = [];
    let freedBytes = 0;
    for (const hash of this.references.unreferenced()) {
      const block = this.registry.get(hash);
      if (block === undefined || command.nowMs - block.touchedMs < command.graceMs) continue;
      dropped.push(hash);
      freedBytes += block.size * block.owners.length;
    }
    for (const hash of dropped) {
      this.registry.delete(hash);
      this.references.forgotten(hash);
    }
    if (dropped.length > 0) {
      // A forgotten block needs no copies: nothing for a repairer to look at again.
      this.ownerChanges.record(++this.blocksVersion, []);
      this.onBlocksDropped?.(dropped, null);
    }
    return { ok: true, result: { deletedBlocks: dropped.length, freedBytes } };
  }

  // ---------------------------------------------------------------- queries

  /**
   * The current version of `path` (a tombstone if it was deleted), or the given retained
   * `version`; null when the path never existed. Throws `unknown_version` for a version
   * that is not retained, `bad_path` for a bad path.
   */
  stat(namespace: string, path: string, version?: number): FileInfo | null {
    const normal = normalizePath(path);
    const versions = this.namespaces.get(namespace)?.get(normal);
    if (!versions) return null;
    if (version === undefined) return versions[versions.length - 1]!;
    const found = versions.find((file) => file.version === version);
    if (found) return found;
    const range = `${versions[0]!.version} to ${versions[versions.length - 1]!.version}`;
    throw raftboxError('unknown_version', `${JSON.stringify(path)} has versions ${range} retained; version ${version} is not among them`, { path, retained: [versions[0]!.version, versions[versions.length - 1]!.version] });
  }

  /** The current versions of the paths starting with `prefix`, sorted by path; tombstones only when asked. */
  list(namespace: string, prefix: string, includeDeleted = false): FileInfo[] {
    const start = normalizePrefix(prefix);
    const files: FileInfo[] = [];
    for (const [path, versions] of this.namespaces.get(namespace) ?? []) {
      if (!path.startsWith(start)) continue;
      const current = versions[versions.length - 1]!;
      if (includeDeleted || !current.deleted) files.push(current);
    }
    return files.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  }

  /** The current record (tombstones included) of every path written after commit `index`, in commit order. */
  changedSince(namespace: string, index: number): FileInfo[] {
    const files: FileInfo[] = [];
    for (const versions of this.namespaces.get(namespace)?.values() ?? []) {
      const current = versions[versions.length - 1]!;
      if (current.index > index) files.push(current);
    }
    return files.sort((a, b) => a.index - b.index || (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  }

  /**
   * One page of `list`: the files after path `after`, at most `limit` of them and about
   * `bytesMax` of encoded records (a file's record grows with its block list), so every
   * page fits in one frame however large the namespace or its files.
   */
  listPage(namespace: string, prefix: string, options: { includeDeleted: boolean; after?: string; limit: number; bytesMax: number }): { files: FileInfo[]; more: boolean } {
    const all = this.list(namespace, prefix, options.includeDeleted);
    const after = options.after;
    let index = after === undefined ? 0 : all.findIndex((file) => file.path > after);
    if (index === -1) index = all.length;
    const files: FileInfo[] = [];
    let bytes = 0;
    for (; index < all.length && files.length < options.limit; index++) {
      const file = all[index]!;
      bytes += recordBytesEstimate(file);
      if (files.length > 0 && bytes > options.bytesMax) break;
      files.push(file);
    }
    return { files, more: index < all.length };
  }

  /** The retained versions of `path`, newest first; empty when it never existed. */
  history(namespace: string, path: string): FileInfo[] {
    const normal = normalizePath(path);
    return [...(this.namespaces.get(namespace)?.get(normal) ?? [])].reverse();
  }

  /**
   * The versions written to `namespace` after `cursor`, oldest first, at most about
   * `limit` (a commit's changes are never split), and the cursor to ask from next. When
   * the feed no longer covers `cursor` (or the cursor is ahead of this replica), the
   * answer is `reset`: list everything, then continue from the returned cursor.
   */
  changes(namespace: string, cursor: number, limit = changesLimitDefault): ChangesResult {
    const applied = this.appliedIndex;
    if (cursor > applied || (this.feed.missed(cursor) && cursor < applied)) return { changes: [], cursor: applied, reset: true };
    const changes: FileInfo[] = [];
    let lastIndex = cursor;
    for (const record of this.feed.after(cursor)) {
      if (changes.length >= limit && record.index !== lastIndex) return { changes, cursor: lastIndex, reset: false };
      if (record.namespace !== namespace) continue;
      // A version dropped from history has newer versions of its path later in the feed.
      const file = this.namespaces.get(namespace)?.get(record.path)?.find((f) => f.version === record.version);
      if (!file) continue;
      changes.push(file);
      lastIndex = record.index;
    }
    return { changes, cursor: applied, reset: false };
  }

  /** The hashes among `hashes` that are not registered, once each, in order. */
  missingBlocks(hashes: readonly BlockHash[]): BlockHash[] {
    return this.registry.missing(hashes);
  }

  /** Registered blocks, and those with fewer live owners than `min(replication, live nodes)`. */
  registryCounts(replication: number): { blocks: number; underReplicated: number } {
    // A state machine told no ring members (a test of metadata alone) wants the full factor.
    const live = this.ring.live().length;
    const wanted = live === 0 ? replication : Math.max(1, Math.min(replication, live));
    return this.registry.counts(wanted, (node) => !this.ring.isDown(node));
  }

  /** The owners and size of a registered block, for the block actor's placement and repair. */
  block(hash: BlockHash): { size: number; owners: string[] } | null {
    const known = this.registry.get(hash);
    return known ? { size: known.size, owners: [...known.owners] } : null;
  }

  /** Every registered block with its size and owners (live or not); read-only views. */
  blocks(): IterableIterator<[BlockHash, { readonly size: number; readonly owners: readonly NodeId[] }]> {
    return this.registry.entries();
  }

  /** The blocks whose owners changed after registry version `version`; null when every block must be looked at. */
  ownersChangedSince(version: number): BlockHash[] | null {
    return this.ownerChanges.since(version);
  }

  /** The ring members not declared down, sorted: the nodes blocks are placed on. */
  liveNodes(): NodeId[] {
    return this.ring.live();
  }

  /** Every ring member, down ones included. */
  ringMembers(): readonly NodeId[] {
    return this.ring.all;
  }

  isDown(node: NodeId): boolean {
    return this.ring.isDown(node);
  }

  /** True for a ring member, down and leaving ones included. */
  isMember(node: NodeId): boolean {
    return this.ring.isMember(node);
  }

  /** True for a member being drained by remove-node: no longer placed on, still a source. */
  isLeaving(node: NodeId): boolean {
    return this.ring.isLeaving(node);
  }

  /** How many registered blocks list `node` among their owners. */
  private blocksOwnedBy(node: NodeId): number {
    let count = 0;
    for (const [, block] of this.registry.entries()) if (block.owners.includes(node)) count++;
    return count;
  }

  /** The blocks `node` held when its leave applied: set while it leaves and for a while after it is forgotten. */
  drainedBlocks(node: NodeId): number | null {
    return this.ring.drainedBlocks(node);
  }

  /** The address and wish of a node that joined through the log; null for an initial member. */
  joinedNode(node: NodeId): JoinedNode | null {
    return this.ring.joinedNode(node);
  }

  /** Bumped by every down or up the log applied. */
  get ringEpoch(): number {
    return this.ring.epoch;
  }

  // ---------------------------------------------------------------- snapshots

  /**
   * Begins a snapshot of the state as it is now, at `appliedIndex`. Each call of the
   * returned step encodes about `snapshotRecordsPerStep` records and returns null, until
   * the last returns the whole snapshot, so the node goes on applying in between. The
   * steps work on copies of what applying changes (the version lists, registry owners);
   * file records are never changed once written, so they are shared.
   */
  beginSnapshot(): () => Uint8Array | null {
    const state: SnapshotState = {
      format: snapshotFormat,
      appliedIndex: this.appliedIndex,
      namespaces: [...this.namespaces].map(([name, files]) => [name, [...files].map(([path, versions]) => [path, versions.slice()])]),
      registry: this.registry.toJSON(),
      feed: this.feed.held(),
      sessions: this.sessions.toJSON(),
      ring: this.ring.toJSON(),
    };
    const encoder = new SlicedEncoder(snapshotPieces(state), snapshotRecordsPerStep);
    return () => encoder.step();
  }

  /** The whole snapshot in one go. */
  snapshot(): Uint8Array {
    const step = this.beginSnapshot();
    for (;;) {
      const data = step();
      if (data !== null) return data;
    }
  }

  /**
   * Begins replacing the state with a snapshot's. Each call of the returned step decodes
   * about `snapshotRecordsPerStep` records and returns false, until one installs the
   * decoded state and returns true; until then every query sees the state as it was.
   * A follower installing a large snapshot from its leader thus keeps serving between
   * steps. Throws (from a step) on a snapshot this build cannot read.
   */
  beginRestore(data: Uint8Array): () => boolean {
    const reading = readSnapshot(data);
    return () => {
      let weight = 0;
      while (weight < snapshotRecordsPerStep) {
        const next = reading.next();
        if (next.done) {
          this.install(next.value);
          return true;
        }
        weight += next.value;
      }
      return false;
    };
  }

  /** The whole restore in one go (a node starting from its own snapshot). */
  restore(data: Uint8Array): void {
    restoreAll(this, data);
  }

  private install(state: RestoredState): void {
    const previousIndex = this.appliedIndex;
    this.appliedIndex = state.appliedIndex;
    this.namespaces = state.namespaces;
    this.shapes = state.shapes;
    this.references = state.references;
    this.registry = state.registry;
    this.feed = ChangeFeed.fromJSON(state.feed, this.options.feedEntriesMax);
    this.sessions = SessionTable.fromJSON(state.sessions, this.options.sessionsMax);
    this.ring = RingState.fromJSON(state.ring, this.options.ringMembers);
    this.ownerChanges.forgetAll(++this.blocksVersion);
    this.onMembersChanged?.();
    this.onRestored?.(previousIndex);
  }
}

/** A snapshot decoded, its largest parts already in the shape the state machine keeps. */
interface RestoredState extends Omit<SnapshotState, 'format' | 'namespaces' | 'registry' | 'feed'> {
  namespaces: Map<string, Namespace>;
  shapes: Map<string, NamespaceShape>;
  /** Counted from the versions as they are read, then checked against the registry. */
  references: BlockReferences;
  registry: BlockRegistry;
  feed: { floor: number; rows: FeedRow[] };
}

/**
 * Decodes what snapshotPieces wrote, record by record, yielding the work each record
 * stood for (as snapshotPieces weighs it) and returning the whole state. Keys may come
 * in any order; an unknown key or format is refused.
 */
function* readSnapshot(data: Uint8Array): Generator<number, RestoredState> {
  const reader = new PieceReader(data);
  let format: unknown;
  const registry = new BlockRegistry();
  const references = new BlockReferences((hash) => registry.get(hash) !== undefined);
  const state: RestoredState = { appliedIndex: 0, namespaces: new Map(), shapes: new Map(), references, registry, feed: { floor: 0, rows: [] }, sessions: [] };
  for (let keys = reader.mapHeader(); keys > 0; keys--) {
    const key = reader.key();
    if (key === 'format') {
      format = reader.value();
      if (format !== snapshotFormat) throw new SnapshotFormatError(`metadata snapshot format ${String(format)} is not ${snapshotFormat}; this build cannot read it`);
    } else if (key === 'appliedIndex') state.appliedIndex = reader.value() as number;
    else if (key === 'namespaces') {
      for (let namespaces = reader.arrayHeader(); namespaces > 0; namespaces--) {
        if (reader.arrayHeader() !== 2) throw new SnapshotFormatError('a namespace of the snapshot is not a [name, files] pair');
        const files: Namespace = new Map();
        const shape = new NamespaceShape();
        const name = reader.value() as string;
        state.namespaces.set(name, files);
        state.shapes.set(name, shape);
        const take = ([path, versions]: [string, FileInfo[]]) => {
          files.set(path, versions);
          shape.update(path, null, versions[versions.length - 1] ?? null);
          for (const version of versions) references.add(version);
        };
        yield* rows(reader, take, ([, versions]) => versions.length);
      }
    } else if (key === 'registry') yield* rows(reader, (row: RegistryRow) => state.registry.restoreRow(row));
    else if (key === 'feed') {
      for (let feedKeys = reader.mapHeader(); feedKeys > 0; feedKeys--) {
        const feedKey = reader.key();
        if (feedKey === 'floor') state.feed.floor = reader.value() as number;
        else if (feedKey === 'rows') yield* rows(reader, (row: FeedRow) => state.feed.rows.push(row));
        else throw new SnapshotFormatError(`the snapshot's change feed has an unknown key ${JSON.stringify(feedKey)}`);
      }
    } else if (key === 'sessions') yield* rows(reader, (row: SnapshotState['sessions'][number]) => state.sessions.push(row));
    else if (key === 'ring') state.ring = reader.value() as SnapshotState['ring'];
    else throw new SnapshotFormatError(`the snapshot has an unknown key ${JSON.stringify(key)}`);
  }
  if (!reader.done) throw new SnapshotFormatError('the snapshot has bytes after its end');
  if (format !== snapshotFormat) throw new SnapshotFormatError('the snapshot does not say its format');
  // Every version is counted now, so a registered block without a count is one nothing names.
  let looked = 0;
  for (const [hash] of registry.entries()) {
    references.registered(hash);
    if (++looked % snapshotRecordsPerStep === 0) yield snapshotRecordsPerStep;
  }
  return state;
}

/** Reads an array element by element, handing each to `take` and yielding its weight (as arrayPieces weighs it). */
function* rows<T>(reader: PieceReader, take: (row: T) => unknown, weight: (row: T) => number = () => 1): Generator<number, void> {
  for (let count = reader.arrayHeader(); count > 0; count--) {
    const row = reader.value() as T;
    take(row);
    yield weight(row);
  }
}

// The snapshot's msgpack, piece by piece: the same bytes as encode(state), keys in the
// order SnapshotState declares them.
function* snapshotPieces(state: SnapshotState): Generator<Piece> {
  yield { bytes: mapHeader(7), weight: 0 };
  yield whole('format');
  yield whole(state.format);
  yield whole('appliedIndex');
  yield whole(state.appliedIndex);
  yield whole('namespaces');
  yield { bytes: arrayHeader(state.namespaces.length), weight: 0 };
  for (const [name, files] of state.namespaces) {
    yield { bytes: arrayHeader(2), weight: 0 };
    yield whole(name);
    // Version by version, so no piece is larger than one record however long a history is.
    yield { bytes: arrayHeader(files.length), weight: 0 };
    for (const [path, versions] of files) {
      yield { bytes: arrayHeader(2), weight: 0 };
      yield whole(path, 0);
      yield* arrayPieces(versions);
    }
  }
  yield whole('registry');
  yield* arrayPieces(state.registry);
  yield whole('feed');
  yield { bytes: mapHeader(2), weight: 0 };
  yield whole('floor');
  yield whole(state.feed.floor);
  yield whole('rows');
  yield { bytes: arrayHeader(state.feed.records.length), weight: 0 };
  for (const record of state.feed.records) yield whole(ChangeFeed.row(record));
  yield whole('sessions');
  yield* arrayPieces(state.sessions);
  yield whole('ring');
  yield whole(state.ring);
}

function last<T>(items: T[] | undefined): T | null {
  return items && items.length > 0 ? items[items.length - 1]! : null;
}

/** The shape of a namespace no commit has written to yet: nothing in it to collide with. */
const emptyShape = new NamespaceShape();

function pathConflict(collision: PathCollision): RaftboxError {
  const path = JSON.stringify(collision.path);
  const message =
    collision.kind === 'under-file'
      ? `${path} cannot be written: ${JSON.stringify(collision.file)} is a file, not a folder; rename or delete that file first`
      : `${path} cannot be a file: it is a folder that still holds files; delete or move what is in it first`;
  return raftboxError('path_conflict', message, { ...collision });
}

// Compare-and-set, then "a delete needs something to delete". The sentences are built
// only for a refusal: this runs for every change of every commit on every node.
function refuseChange(change: FileChange, current: FileInfo | null): RaftboxError | null {
  const exists = current !== null && !current.deleted;
  const stale = change.ifVersion !== undefined && change.ifVersion > 0 && current?.version !== change.ifVersion;
  const createOnly = change.ifVersion === 0 && exists;
  if (!createOnly && !stale && !(change.deleted && !exists)) return null;
  const path = JSON.stringify(change.path);
  const have = current === null ? 'does not exist' : current.deleted ? `is deleted at version ${current.version}` : `is at version ${current.version}`;
  if (createOnly || stale) {
    const expected = createOnly ? 'it not to exist' : `version ${change.ifVersion}`;
    return raftboxError('conflict', `${path} ${have}, but the commit expected ${expected}; merge with the current version and retry`, { path: change.path, current });
  }
  return raftboxError('not_found', `cannot delete ${path}: it ${have}`, { path: change.path, current });
}

function nextVersion(current: FileInfo | null, change: FileChange, device: string, index: number): FileInfo {
  const clock = incrementClock(mergeClocks(current?.clock ?? {}, change.clock ?? {}), device);
  const version = (current?.version ?? 0) + 1;
  // One literal, not a spread of the common fields: every replica builds one per change it applies.
  const deleted = change.deleted;
  return { path: change.path, version, mtime: change.mtime, mode: change.mode, device, clock, index, size: deleted ? 0 : change.size, deleted, blocks: deleted ? [] : change.blocks };
}

/** A generous estimate of a file record's encoded size: fixed fields, path, clock, and about 80 bytes per block. */
function recordBytesEstimate(file: FileInfo): number {
  return 256 + file.path.length * 3 + Object.keys(file.clock).length * 48 + file.blocks.length * 80;
}
