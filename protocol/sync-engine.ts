// The sync engine: one pass of "scan, list, plan, apply, record" between a local replica
// and the cluster, repeated until a plan comes out empty. It is host-neutral: a folder on
// disk, an IndexedDB store and the convergence test's in-memory device each implement
// `SyncReplica`, and the cluster is anything shaped like `SyncRemote` (RaftboxClient is).
//
// Safety rests on three rules. Every local replace, rename or delete names the entry it
// expects, and the replica refuses it when the file changed since the scan, so a local
// edit is never overwritten. Every commit is compare-and-set on the version the plan saw,
// so a remote edit is never overwritten either. And the base is recorded only after a
// change is on both sides; a run that stops anywhere is finished by the next, whose
// planner sees equal content on both sides and only records it.

import { blocksInOrder, forEachLimited } from './client-blocks.ts';
import { isRaftboxError, raftboxError } from './errors.ts';
import { parentFolders } from './paths.ts';
import { findFolderMoves, type FolderMove } from './sync-folder-moves.ts';
import { planSync, type SyncAction, type SyncPlan } from './sync-planner.ts';
import {
  baseEntryOf,
  changeOf,
  deletionOf,
  remoteTreeOf,
  sameContent,
  type BaseEntry,
  type BaseTree,
  type LocalEntry,
  type LocalTree,
  type RemoteEntry,
  type SyncEntry,
} from './sync-tree.ts';
import type { BlockHash, BlockRef, BlockUpload, FileChange, FileInfo } from './wire.ts';

/** The cluster as the engine uses it; RaftboxClient satisfies it. */
export interface SyncRemote {
  list(prefix: string, options: { includeDeleted: boolean }): Promise<FileInfo[]>;
  missingBlocks(hashes: BlockHash[]): Promise<Set<BlockHash>>;
  /** Stores blocks, each named by its SHA-256; resolves once every one is durable. */
  putBlocks(blocks: BlockUpload[]): Promise<void>;
  getBlock(ref: BlockRef): Promise<Uint8Array>;
  commit(changes: FileChange[]): Promise<FileInfo[]>;
}

/**
 * A local replica: a folder, a browser store, a test's in-memory tree. Every method that
 * changes local data takes the entry the plan expects there and returns false, changing
 * nothing, when the replica holds something else now.
 */
export interface SyncReplica {
  /**
   * The current local tree; entries may carry a per-path vector clock. A replica may pass
   * `early` the blocks (name and bytes) of each file it has just read whole and hashed,
   * when the file held still while it was read; the engine starts sending them while the
   * scan goes on. Awaiting `early` is what bounds the bytes held.
   */
  scan(early?: (path: string, blocks: BlockUpload[]) => Promise<void>): Promise<LocalTree>;
  /** Bytes [offset, offset + size) of the local file at `path`, or null when it is gone or shorter. */
  readBlock(path: string, offset: number, size: number): Promise<Uint8Array | null>;
  /** Replaces `path` with the bytes of `remote`, streamed in order, if the local entry still equals `expect`. */
  writeFile(path: string, remote: RemoteEntry, data: AsyncIterable<Uint8Array>, expect: LocalEntry | null): Promise<boolean>;
  makeFolder(path: string, expect: LocalEntry | null): Promise<boolean>;
  remove(path: string, expect: LocalEntry): Promise<boolean>;
  /**
   * Renames `from` to `to`, refusing when `to` exists or `from` is no longer `expect`. A
   * folder moves with everything in it, as on disk.
   */
  rename(from: string, to: string, expect: LocalEntry): Promise<boolean>;
  loadBase(): Promise<BaseTree>;
  /** Applies the updates (null: forget the path) to the stored base, atomically. */
  saveBase(updates: Map<string, BaseEntry | null>): Promise<void>;
}

export interface SyncProgress {
  phase: 'scan' | 'plan' | 'upload' | 'download' | 'apply' | 'done';
  bytesDone: number;
  bytesTotal: number;
  filesDone: number;
  filesTotal: number;
}

/** One file's way to the cluster: its blocks the cluster lacked being sent, then its commit. */
export interface FileProgress {
  path: string;
  state: 'uploading' | 'synced';
  /** Bytes of this file's blocks sent so far, of those the cluster lacked (0 when it had them all). */
  bytesDone: number;
  bytesTotal: number;
}

export interface SyncOptions {
  device: string;
  /** `YYYY-MM-DD HHMMSS` in the user's time zone, for conflict-copy names. */
  conflictStamp: string;
  sha256(bytes: Uint8Array): Promise<string>;
  now(): number;
  sleep(ms: number): Promise<void>;
  /**
   * Block transfers in flight at once. Uploads go in groups (one group per eight of
   * these), and a group of small blocks holds up to 96 of them in a few requests.
   */
  transfersMax?: number;
  /** Upload and download bytes per second, together; unlimited when absent. */
  limitBytesPerSecond?: number;
  /** Plan-and-apply passes before giving up on a tree that keeps changing underneath. */
  passesMax?: number;
  /** Changes per commit (a move is two); a large first sync commits in batches of this many. */
  changesPerCommitMax?: number;
  /** Paths this replica leaves alone on both sides (a folder's ignore rules); the replica's scan already skips them. */
  isIgnored?(path: string, kind: 'file' | 'dir'): boolean;
  onProgress?(progress: SyncProgress): void;
  /** Each local file sent up: first `uploading` (after each of its blocks), then `synced` once committed. */
  onFileProgress?(progress: FileProgress): void;
  isCancelled?(): boolean;
}

/** What `raftbox sync --json` prints (CONTRACT.md), plus moves and passes. */
export interface SyncSummary {
  uploadedBytes: number;
  downloadedBytes: number;
  uploadedBlocks: number;
  filesUp: number;
  filesDown: number;
  deleted: number;
  moves: number;
  conflicts: string[];
  durationMs: number;
  passes: number;
}

/** Most bytes of blocks read and sent as one upload group. */
const uploadGroupBytesMax = 8 * 1024 * 1024;
/** Most blocks in one upload group. With `transfersMax` 32 that is 384 small blocks in flight, within what a node takes at once (blockActorDefaults). */
const uploadGroupBlocksMax = 96;
/** How many of `transfersMax` blocks one group stands for when bounding groups in flight. */
const blocksPerUploadGroupTarget = 8;

export const syncDefaults = {
  transfersMax: 32,
  passesMax: 5,
  changesPerCommitMax: 1000,
};

/**
 * Commit batches in flight at once. Each waits on the leader's log sync and on every
 * node applying it; with a few in flight the leader takes the next while one is synced.
 */
const commitsInFlightMax = 3;

/** Downloads of whole files in flight at once (each streams its blocks in order). */
const filesInFlightMax = 8;
/** Blocks fetched ahead of the one being written, per file. */
const blocksAheadMax = 4;

/**
 * Syncs `replica` with `remote` until they agree: each pass scans, lists the cluster
 * (tombstones included), plans and applies. A pass that could not apply everything (a
 * file changed under it, a commit lost a race) is followed by another, up to
 * `passesMax`. Throws the first unexpected error (the cluster unreachable, a full disk);
 * whatever was applied before it is recorded, so nothing is redone or lost.
 */
export async function syncOnce(replica: SyncReplica, remote: SyncRemote, options: SyncOptions): Promise<SyncSummary> {
  const started = options.now();
  const run = new SyncRun(replica, remote, options);
  const passesMax = options.passesMax ?? syncDefaults.passesMax;
  let passes = 0;
  while (passes < passesMax) {
    passes++;
    const settled = await run.pass();
    if (settled) break;
  }
  run.progress('done');
  return { ...run.summary, conflicts: [...new Set(run.summary.conflicts)], durationMs: options.now() - started, passes };
}

/** The state of one `syncOnce` across its passes. */
class SyncRun {
  readonly summary: Omit<SyncSummary, 'durationMs' | 'passes'> = {
    uploadedBytes: 0,
    downloadedBytes: 0,
    uploadedBlocks: 0,
    filesUp: 0,
    filesDown: 0,
    deleted: 0,
    moves: 0,
    conflicts: [],
  };
  private readonly throttle: Throttle;
  private readonly transfersMax: number;
  private counts = { bytesDone: 0, bytesTotal: 0, filesDone: 0, filesTotal: 0 };
  /** Base updates not yet saved. */
  private pending = new Map<string, BaseEntry | null>();
  /** The last save of base updates, which the next waits for: saves never overlap. */
  private saving: Promise<void> = Promise.resolve();
  /** Set when an action was skipped, so the trees may still differ. */
  private unsettled = false;
  /** This pass's blocks sent during the scan; null before the first scan. */
  private early: EarlyUploads | null = null;

  constructor(
    private readonly replica: SyncReplica,
    private readonly remote: SyncRemote,
    private readonly options: SyncOptions,
  ) {
    this.throttle = new Throttle(options);
    this.transfersMax = options.transfersMax ?? syncDefaults.transfersMax;
  }

  /** One scan-plan-apply pass; true when nothing was left undone (no action skipped or refused). */
  async pass(): Promise<boolean> {
    this.unsettled = false;
    this.progress('scan');
    const early = new EarlyUploads(this.remote, this.throttle, this.uploadGroupBytesMax(), this.uploadGroupsInFlight(), (block) => this.countUploaded(block.data.length), () => this.checkCancelled());
    this.early = early;
    const [local, files, base] = await Promise.all([this.replica.scan((path, blocks) => early.add(path, blocks)), this.remote.list('', { includeDeleted: true }), this.replica.loadBase()]);
    await early.finish();
    this.progress('plan');
    const remote = withoutIgnored(remoteTreeOf(files), this.options);
    const plan = planSync(local, remote, withoutIgnored(base, this.options), { device: this.options.device, conflictStamp: this.options.conflictStamp });
    if (plan.actions.every((action) => action.type === 'record')) {
      for (const action of plan.actions) if (action.type === 'record') this.pending.set(action.path, action.base);
      await this.flush();
      return true;
    }
    for (const conflict of plan.conflicts) this.summary.conflicts.push(conflict.copyPath ?? conflict.path);
    try {
      await this.apply(plan, local);
    } finally {
      await this.flush();
    }
    return this.settled;
  }

  private async apply(plan: SyncPlan, local: LocalTree): Promise<void> {
    const byType = groupActions(plan.actions);
    const bytesTotal = plannedBytes(plan.actions);
    this.counts = { bytesDone: Math.min(this.early?.bytes ?? 0, bytesTotal), bytesTotal, filesDone: 0, filesTotal: plan.actions.length };
    for (const action of byType['conflict-copy']) await this.applyLocal(action, () => this.replica.rename(action.path, action.copyPath, action.expect));
    const carried = await this.moveFolders(findFolderMoves(plan.actions, local));
    const left = <T extends SyncAction>(actions: T[]): T[] => (carried.size === 0 ? actions : actions.filter((action) => !carried.has(action)));
    for (const action of left(byType['move-local'])) await this.moveLocal(action);
    await this.download(left(byType.download), local);
    await this.commitLocalChanges([...byType.upload, ...byType['move-remote'], ...byType['delete-remote']]);
    for (const action of left(byType['delete-local'])) await this.deleteLocal(action);
    for (const action of byType.record) this.pending.set(action.path, action.base);
  }

  // ---------------------------------------------------------------- local side

  private async applyLocal(action: SyncAction, change: () => Promise<boolean>): Promise<boolean> {
    this.checkCancelled();
    const done = await change();
    if (!done) this.unsettled = true;
    this.fileDone();
    return done;
  }

  /**
   * Renames each folder the remote side moved whole in one step, and returns the plan's
   * actions those renames carried out. A rename the replica refuses (the folder is no
   * longer what the scan saw) carries nothing: its entries then go one by one, each
   * checked on its own. Files inside that changed after the scan travel with the folder
   * and are found changed by the next scan, so nothing is overwritten either way.
   */
  private async moveFolders(moves: FolderMove[]): Promise<Set<SyncAction>> {
    const carried = new Set<SyncAction>();
    for (const move of moves) {
      this.checkCancelled();
      if (!(await this.replica.rename(move.from, move.to, move.expect))) continue;
      for (const action of move.carried) {
        carried.add(action);
        if (action.type === 'move-local') {
          this.movedLocally(action);
        } else if (action.type === 'delete-local') {
          this.pending.set(action.path, null);
        } else if (action.type === 'download') {
          this.pending.set(action.path, stripRemote(action.remote));
          this.summary.moves++;
        }
        this.fileDone();
      }
    }
    return carried;
  }

  private async moveLocal(action: Extract<SyncAction, { type: 'move-local' }>): Promise<void> {
    if (!(await this.applyLocal(action, () => this.replica.rename(action.from, action.to, action.expect)))) return;
    this.movedLocally(action);
  }

  // The base of a move done here is what the remote holds at `to`. A file edited here
  // moved with its edit, so another pass uploads the edit there.
  private movedLocally(action: Extract<SyncAction, { type: 'move-local' }>): void {
    this.summary.moves++;
    this.pending.set(action.from, null);
    this.pending.set(action.to, stripRemote(action.remote));
    if (!sameContent(action.expect, action.remote)) this.unsettled = true;
  }

  private async deleteLocal(action: Extract<SyncAction, { type: 'delete-local' }>): Promise<void> {
    if (!(await this.applyLocal(action, () => this.replica.remove(action.path, action.expect)))) return;
    this.summary.deleted++;
    this.pending.set(action.path, null);
  }

  /**
   * Writes remote content locally, several files at once. A block the local side already
   * holds (the old version of the same file, or any other file) is read from disk rather
   * than fetched: an edit in the middle of a large file downloads only the blocks around it.
   */
  private async download(actions: Extract<SyncAction, { type: 'download' }>[], local: LocalTree): Promise<void> {
    if (actions.length === 0) return;
    this.progress('download');
    const localBlocks = indexBlocks(local);
    await forEachLimited(actions, filesInFlightMax, async (action) => {
      this.checkCancelled();
      const { remote, path, expect } = action;
      const done =
        remote.kind === 'dir'
          ? await this.replica.makeFolder(path, expect)
          : await this.replica.writeFile(path, remote, this.blockStream(remote.blocks, localBlocks), expect);
      this.fileDone();
      if (!done) {
        this.unsettled = true;
        return;
      }
      this.summary.filesDown++;
      this.pending.set(action.movedFrom ?? path, stripRemote(remote));
      if (action.movedFrom !== undefined) this.unsettled = true;
      if (this.pending.size >= (this.options.changesPerCommitMax ?? syncDefaults.changesPerCommitMax)) await this.flush();
    });
  }

  /** The blocks of a file in order, fetching up to `blocksAheadMax` ahead. */
  private blockStream(refs: BlockRef[], localBlocks: Map<BlockHash, LocalBlock>): AsyncGenerator<Uint8Array> {
    return blocksInOrder(refs, blocksAheadMax, (ref) => this.fetch(ref, localBlocks));
  }

  private async fetch(ref: BlockRef, localBlocks: Map<BlockHash, LocalBlock>): Promise<Uint8Array> {
    const near = localBlocks.get(ref.hash);
    if (near !== undefined) {
      const data = await this.replica.readBlock(near.path, near.offset, ref.size);
      if (data !== null && (await this.options.sha256(data)) === ref.hash) return data;
    }
    await this.throttle.take(ref.size);
    const data = await this.remote.getBlock(ref);
    this.summary.downloadedBytes += data.length;
    this.bytesDone(data.length);
    return data;
  }

  // ---------------------------------------------------------------- remote side

  /**
   * Uploads the blocks the cluster lacks for every local change, then commits the changes
   * in batches, each compare-and-set. A batch refused because one path changed remotely
   * is retried path by path, so one race does not hold back the rest; the refused path
   * is left to the next pass, which plans it against the new remote version.
   */
  private async commitLocalChanges(actions: CommitAction[]): Promise<void> {
    if (actions.length === 0) return;
    this.progress('upload');
    const ready = await this.uploadBlocks(actions);
    // Batches touch different paths, so they may commit in any order.
    await forEachLimited(commitBatches(ready, this.options.changesPerCommitMax ?? syncDefaults.changesPerCommitMax), commitsInFlightMax, async (batch) => {
      this.checkCancelled();
      try {
        this.recordCommitted(batch, await this.remote.commit(batch.flatMap(changesOf)));
      } catch (error) {
        if (!isRefusedRace(error)) throw error;
        for (const action of batch) await this.commitAlone(action);
      }
      await this.flush();
    });
  }

  private async commitAlone(action: CommitAction): Promise<void> {
    try {
      this.recordCommitted([action], await this.remote.commit(changesOf(action)));
    } catch (error) {
      if (!isRefusedRace(error)) throw error;
      this.unsettled = true;
    }
  }

  private recordCommitted(actions: CommitAction[], files: FileInfo[]): void {
    const written = new Map(files.map((file) => [file.path, file]));
    for (const action of actions) {
      if (action.type === 'delete-remote') {
        this.summary.deleted++;
        this.pending.set(action.path, null);
        continue;
      }
      const path = writtenPath(action);
      const file = written.get(path);
      if (file === undefined) throw raftboxError('internal', `the cluster acknowledged a commit without a record for ${path}`);
      this.pending.set(path, baseEntryOf(file));
      this.options.onFileProgress?.({ path, state: 'synced', bytesDone: 0, bytesTotal: 0 });
      if (action.type === 'move-remote') {
        this.summary.moves++;
        this.pending.set(action.from, null);
      } else {
        this.summary.filesUp++;
      }
      this.fileDone();
    }
  }

  /**
   * Reads, checks and uploads every block the cluster lacks. A change whose local bytes no
   * longer hash as scanned (edited meanwhile) is dropped from this pass; the next scan
   * sees the edit. Returns the changes that are ready to commit.
   */
  private async uploadBlocks(actions: CommitAction[]): Promise<CommitAction[]> {
    const wanted = indexBlocks(actions.flatMap((action): [string, SyncEntry][] => (action.type === 'delete-remote' ? [] : [[writtenPath(action), action.local]])));
    // Blocks stored during the scan need no asking.
    const unsure = [...wanted.keys()].filter((hash) => this.early?.stored.has(hash) !== true);
    const missing = unsure.length === 0 ? new Set<BlockHash>() : await this.remote.missingBlocks(unsure);
    const spoiled = new Set<string>();
    // Each missing block is sent once, for the file it was first found in; that file's progress counts it.
    const files = new Map<string, FileProgress>();
    for (const action of actions) {
      if (action.type === 'delete-remote') continue;
      const path = writtenPath(action);
      const sent = this.early?.sentBytes.get(path) ?? 0;
      files.set(path, { path, state: 'uploading', bytesDone: sent, bytesTotal: sent });
    }
    for (const hash of missing) {
      const block = wanted.get(hash)!;
      files.get(block.path)!.bytesTotal += block.size;
    }
    for (const file of files.values()) this.options.onFileProgress?.({ ...file });
    // Blocks go up in groups (read, checked, then sent together), so small files share requests.
    await forEachLimited(uploadGroups([...missing], wanted, this.uploadGroupBytesMax()), this.uploadGroupsInFlight(), async (group) => {
      this.checkCancelled();
      const ready: { upload: BlockUpload; source: LocalBlock }[] = [];
      for (const hash of group) {
        const source = wanted.get(hash)!;
        if (spoiled.has(source.path)) continue;
        const data = await this.replica.readBlock(source.path, source.offset, source.size);
        if (data === null || (await this.options.sha256(data)) !== hash) {
          spoiled.add(source.path);
          continue;
        }
        await this.throttle.take(data.length);
        ready.push({ upload: { hash, data }, source });
      }
      await this.remote.putBlocks(ready.map(({ upload }) => upload));
      for (const { upload, source } of ready) {
        this.countUploaded(upload.data.length);
        this.bytesDone(upload.data.length);
        const file = files.get(source.path)!;
        file.bytesDone += upload.data.length;
        this.options.onFileProgress?.({ ...file });
      }
    });
    if (spoiled.size > 0) this.unsettled = true;
    return actions.filter((action) => !usesSpoiled(action, spoiled, wanted, missing));
  }

  /** `transfersMax` blocks' worth of upload groups are in flight at once. */
  private uploadGroupsInFlight(): number {
    return Math.max(1, Math.ceil(this.transfersMax / blocksPerUploadGroupTarget));
  }

  /**
   * Bytes in one upload group. Under a rate limit a group holds at most a quarter second's
   * worth, so blocks keep leaving steadily rather than all groups waiting for their whole
   * budget at once.
   */
  private uploadGroupBytesMax(): number {
    const rate = this.options.limitBytesPerSecond;
    return rate !== undefined && rate > 0 ? Math.min(uploadGroupBytesMax, Math.ceil(rate / 4)) : uploadGroupBytesMax;
  }

  // ---------------------------------------------------------------- bookkeeping

  private countUploaded(bytes: number): void {
    this.summary.uploadedBlocks++;
    this.summary.uploadedBytes += bytes;
  }

  /** Saves the base updates gathered so far, after any save in progress. */
  private async flush(): Promise<void> {
    if (this.pending.size === 0) return this.saving;
    const updates = this.pending;
    this.pending = new Map();
    const previous = this.saving;
    this.saving = previous.then(() => this.replica.saveBase(updates));
    return this.saving;
  }

  private checkCancelled(): void {
    if (this.options.isCancelled?.()) throw raftboxError('unavailable', 'the sync was cancelled; run it again to finish');
  }

  private bytesDone(bytes: number): void {
    this.counts.bytesDone += bytes;
    this.progress('apply');
  }

  private fileDone(): void {
    this.counts.filesDone++;
    this.progress('apply');
  }

  progress(phase: SyncProgress['phase']): void {
    this.options.onProgress?.({ phase, ...this.counts });
  }

  get settled(): boolean {
    return !this.unsettled;
  }
}

type CommitAction = Extract<SyncAction, { type: 'upload' | 'move-remote' | 'delete-remote' }>;

interface LocalBlock {
  path: string;
  offset: number;
  size: number;
}

function groupActions(actions: SyncAction[]): { [K in SyncAction['type']]: Extract<SyncAction, { type: K }>[] } {
  const groups = {
    'conflict-copy': [],
    'move-local': [],
    download: [],
    upload: [],
    'move-remote': [],
    'delete-remote': [],
    'delete-local': [],
    record: [],
  } as { [K in SyncAction['type']]: Extract<SyncAction, { type: K }>[] };
  for (const action of actions) (groups[action.type] as SyncAction[]).push(action);
  return groups;
}

/** `actions` in order, cut into batches of at most `changesMax` changes (a move makes two). */
function commitBatches(actions: CommitAction[], changesMax: number): CommitAction[][] {
  return cutRuns(actions, (action) => changesOf(action).length, (count, changes, next) => count > 0 && changes + next > changesMax);
}

/**
 * `items` in order, cut into runs. Each item weighs `weightOf(item)`; a new run starts
 * before an item when `full(items in the run, the run's weight, the item's weight)`.
 */
function cutRuns<T>(items: Iterable<T>, weightOf: (item: T) => number, full: (count: number, weight: number, next: number) => boolean): T[][] {
  const runs: T[][] = [];
  let run: T[] = [];
  let weight = 0;
  for (const item of items) {
    const next = weightOf(item);
    if (full(run.length, weight, next)) {
      runs.push(run);
      run = [];
      weight = 0;
    }
    run.push(item);
    weight += next;
  }
  if (run.length > 0) runs.push(run);
  return runs;
}

/** Changes one commit action makes: a move is a delete and a create in the same commit. */
function changesOf(action: CommitAction): FileChange[] {
  if (action.type === 'upload') return [changeOf(action.path, action.local, action.ifVersion, action.clock)];
  if (action.type === 'delete-remote') return [deletionOf(action.path, action.base, action.ifVersion, action.clock)];
  return [deletionOf(action.from, action.local, action.fromVersion, action.clock), changeOf(action.to, action.local, action.toVersion, action.clock)];
}

function usesSpoiled(
  action: CommitAction,
  spoiled: Set<string>,
  wanted: Map<BlockHash, LocalBlock>,
  missing: Set<BlockHash>,
): boolean {
  if (action.type === 'delete-remote' || spoiled.size === 0) return false;
  if (spoiled.has(writtenPath(action))) return true;
  // A block this change shares with a spoiled file was never uploaded.
  return action.local.blocks.some((block) => missing.has(block.hash) && spoiled.has(wanted.get(block.hash)!.path));
}

/** The path an upload or a move writes. */
function writtenPath(action: Extract<CommitAction, { type: 'upload' | 'move-remote' }>): string {
  return action.type === 'upload' ? action.path : action.to;
}

/** Where each block of some local files sits (its first occurrence): to read it for an upload, or to reuse it for a download. */
function indexBlocks(files: Iterable<[string, SyncEntry]>): Map<BlockHash, LocalBlock> {
  const index = new Map<BlockHash, LocalBlock>();
  for (const [path, entry] of files) {
    let offset = 0;
    for (const block of entry.blocks) {
      if (!index.has(block.hash)) index.set(block.hash, { path, offset, size: block.size });
      offset += block.size;
    }
  }
  return index;
}

/** `tree` without the paths the host ignores: to this replica they do not exist on any side. */
function withoutIgnored<T extends SyncEntry>(tree: Map<string, T>, options: SyncOptions): Map<string, T> {
  const isIgnored = options.isIgnored;
  if (isIgnored === undefined) return tree;
  return new Map([...tree].filter(([path, entry]) => !isIgnored(path, entry.kind) && !parentFolders(path).some((folder) => isIgnored(folder, 'dir'))));
}


function stripRemote(remote: RemoteEntry): BaseEntry {
  const { deleted: _deleted, device: _device, ...entry } = remote;
  return entry;
}

function plannedBytes(actions: SyncAction[]): number {
  let total = 0;
  for (const action of actions) {
    if (action.type === 'download') total += action.remote.size;
    if (action.type === 'upload') total += action.local.size;
  }
  return total;
}

/** Whether a block of `size` bytes goes in a new upload group, after a group of `count` blocks and `bytes` bytes (a larger block is a group alone). */
function startsNewGroup(count: number, bytes: number, size: number, bytesMax: number): boolean {
  return count > 0 && (bytes + size > bytesMax || count >= uploadGroupBlocksMax);
}

/** Cuts `hashes` into groups of at most `uploadGroupBlocksMax` blocks and `bytesMax` bytes (a larger block is a group alone). */
function uploadGroups(hashes: BlockHash[], blocks: Map<BlockHash, LocalBlock>, bytesMax: number): BlockHash[][] {
  return cutRuns(hashes, (hash) => blocks.get(hash)!.size, (count, bytes, size) => startsNewGroup(count, bytes, size, bytesMax));
}

/**
 * Blocks a replica hands over during its scan, sent in groups as they come: a first sync
 * stores blocks while the rest of the folder is still being read, and the upload phase
 * neither reads nor hashes them again. These bytes are the very ones hashed, so they
 * need no re-check. Sending early only saves time: after its first failure it stops
 * sending, and the upload phase sends whatever is still missing and reports any error.
 */
class EarlyUploads {
  /** Blocks this pass stored (or found stored). */
  readonly stored = new Set<BlockHash>();
  /** Bytes sent, in all and per file (a block two files share counts for the first). */
  bytes = 0;
  readonly sentBytes = new Map<string, number>();
  private readonly seen = new Set<BlockHash>();
  private group: { path: string; block: BlockUpload }[] = [];
  private groupBytes = 0;
  private readonly inFlight = new Set<Promise<void>>();
  private failed = false;

  constructor(
    private readonly remote: SyncRemote,
    private readonly throttle: Throttle,
    private readonly groupBytesMax: number,
    private readonly groupsInFlight: number,
    private readonly onSent: (block: BlockUpload) => void,
    private readonly checkCancelled: () => void,
  ) {}

  async add(path: string, blocks: BlockUpload[]): Promise<void> {
    for (const block of blocks) {
      if (this.failed || this.seen.has(block.hash)) continue;
      this.seen.add(block.hash);
      if (startsNewGroup(this.group.length, this.groupBytes, block.data.length, this.groupBytesMax)) await this.send();
      this.group.push({ path, block });
      this.groupBytes += block.data.length;
    }
  }

  /** Sends what is left and waits for every group in flight. */
  async finish(): Promise<void> {
    if (this.group.length > 0 && !this.failed) await this.send();
    await Promise.all(this.inFlight);
  }

  private async send(): Promise<void> {
    const group = this.group;
    this.group = [];
    this.groupBytes = 0;
    while (this.inFlight.size >= this.groupsInFlight) await Promise.race(this.inFlight);
    if (this.failed) return;
    const sending: Promise<void> = this.upload(group)
      .catch(() => {
        this.failed = true;
      })
      .finally(() => this.inFlight.delete(sending));
    this.inFlight.add(sending);
  }

  private async upload(group: { path: string; block: BlockUpload }[]): Promise<void> {
    this.checkCancelled();
    const missing = await this.remote.missingBlocks(group.map(({ block }) => block.hash));
    const sending = group.filter(({ block }) => missing.has(block.hash));
    for (const { block } of sending) await this.throttle.take(block.data.length);
    if (sending.length > 0) await this.remote.putBlocks(sending.map(({ block }) => block));
    for (const { block } of group) this.stored.add(block.hash);
    for (const { path, block } of sending) {
      this.bytes += block.data.length;
      this.sentBytes.set(path, (this.sentBytes.get(path) ?? 0) + block.data.length);
      this.onSent(block);
    }
  }
}

/**
 * A token bucket over bytes, shared by uploads and downloads: at most one second of
 * burst, then `limitBytesPerSecond` on average.
 */
class Throttle {
  private available: number;
  private updated: number;

  constructor(private readonly options: Pick<SyncOptions, 'limitBytesPerSecond' | 'now' | 'sleep'>) {
    this.available = options.limitBytesPerSecond ?? 0;
    this.updated = options.now();
  }

  async take(bytes: number): Promise<void> {
    const rate = this.options.limitBytesPerSecond;
    if (rate === undefined || rate <= 0) return;
    for (;;) {
      const now = this.options.now();
      this.available = Math.min(rate, this.available + ((now - this.updated) * rate) / 1000);
      this.updated = now;
      // A block larger than the bucket goes once the bucket is full.
      if (this.available >= Math.min(bytes, rate)) {
        this.available -= bytes;
        return;
      }
      await this.options.sleep(Math.ceil(((Math.min(bytes, rate) - this.available) * 1000) / rate));
    }
  }
}

/**
 * A commit refused because the cluster changed since the listing: a path moved on
 * (`conflict`), a block went (`not_found`), or another device made a path the other kind,
 * a file where this one has a folder or the reverse (`path_conflict`). The next pass
 * plans against what is there now.
 */
function isRefusedRace(error: unknown): boolean {
  return isRaftboxError(error, 'conflict') || isRaftboxError(error, 'not_found') || isRaftboxError(error, 'path_conflict');
}
