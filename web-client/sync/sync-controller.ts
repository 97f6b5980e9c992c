// Keeps the browser replica in sync: runs the shared sync engine when the user edits
// something, when the server pushes a change, when the browser comes back online, and
// again after a failure (with a growing delay). Runs never overlap: a request during a
// run schedules exactly one more. The page listens for state changes to redraw.

import { isRaftboxError } from '../../protocol/errors.ts';
import { syncOnce, type FileProgress, type SyncProgress, type SyncRemote, type SyncSummary } from '../../protocol/sync-engine.ts';
import { sameContent } from '../../protocol/sync-tree.ts';
import type { FileInfo } from '../../protocol/wire.ts';
import { clearEditsThrough, lastEditSeq } from '../store/outbox.ts';
import type { RaftboxDb } from '../store/schema.ts';
import { conflictStamp } from './conflict-stamp.ts';
import type { IdbReplica } from './idb-replica.ts';

/** The first retry after a failed sync; each further one waits twice as long, up to `retryDelayMsMax`. */
export const retryDelayMsFirst = 250;
export const retryDelayMsMax = 10_000;
/** Conflicts remembered from sync summaries for the page. */
export const reportedConflictsMax = 200;

export interface SyncState {
  online: boolean;
  syncing: boolean;
  progress: SyncProgress | null;
  /** A sentence for the user when the last sync failed. */
  error: string | null;
  lastSummary: SyncSummary | null;
  /** Conflict copies the engine reported, newest last. */
  conflicts: string[];
}

export interface SyncControllerOptions {
  db: RaftboxDb;
  replica: IdbReplica;
  remote: SyncRemote;
  /** Live changes pushed by the server; returns the function that stops them. */
  watch(onChange: (info: FileInfo) => void): () => void;
  device: string;
  sha256(bytes: Uint8Array): Promise<string>;
  onState(state: SyncState): void;
  /** Each local file's way to the cluster, for the page's transfer rows. */
  onFileProgress?(progress: FileProgress): void;
  isOnline?(): boolean;
}

export class SyncController {
  readonly state: SyncState = { online: true, syncing: false, progress: null, error: null, lastSummary: null, conflicts: [] };
  private again = false;
  private cancelled = false;
  private retryDelayMs = retryDelayMsFirst;
  private retryTimer: ReturnType<typeof setTimeout> | null = null;
  private stopWatch: (() => void) | null = null;
  private readonly onOnline = (): void => this.setOnline(true);
  private readonly onOffline = (): void => this.setOnline(false);

  constructor(private readonly options: SyncControllerOptions) {
    this.state.online = options.isOnline?.() ?? true;
  }

  /** Starts listening (server pushes, online/offline) and runs a first sync. */
  start(): void {
    this.stopWatch = this.options.watch(() => this.requestSync());
    if (typeof window !== 'undefined') {
      window.addEventListener('online', this.onOnline);
      window.addEventListener('offline', this.onOffline);
    }
    this.requestSync();
  }

  stop(): void {
    this.stopWatch?.();
    if (this.retryTimer !== null) clearTimeout(this.retryTimer);
    if (typeof window !== 'undefined') {
      window.removeEventListener('online', this.onOnline);
      window.removeEventListener('offline', this.onOffline);
    }
  }

  /** Asks for a sync as soon as possible: now, or right after the run in progress. */
  requestSync(): void {
    if (this.state.syncing) {
      this.again = true;
      return;
    }
    if (!this.state.online) return;
    void this.runLoop();
  }

  /** Stops the transfers of the current run; what was done stays done. */
  cancel(): void {
    if (this.state.syncing) this.cancelled = true;
  }

  private setOnline(online: boolean): void {
    this.state.online = online;
    this.emit();
    if (online) {
      this.retryDelayMs = retryDelayMsFirst;
      this.requestSync();
    }
  }

  private async runLoop(): Promise<void> {
    this.state.syncing = true;
    this.emit();
    do {
      this.again = false;
      this.cancelled = false;
      await this.runOnce();
    } while (this.again && this.state.online);
    this.state.syncing = false;
    this.state.progress = null;
    this.emit();
  }

  private async runOnce(): Promise<void> {
    const editsBefore = await lastEditSeq(this.options.db);
    try {
      const summary = await syncOnce(this.options.replica, this.options.remote, {
        device: this.options.device,
        conflictStamp: conflictStamp(new Date()),
        sha256: this.options.sha256,
        now: () => Date.now(),
        sleep: (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
        onProgress: (progress) => {
          this.state.progress = progress;
          this.emit();
        },
        onFileProgress: this.options.onFileProgress,
        isCancelled: () => this.cancelled,
      });
      this.state.lastSummary = summary;
      this.state.error = null;
      this.retryDelayMs = retryDelayMsFirst;
      this.state.conflicts = [...this.state.conflicts, ...summary.conflicts].slice(-reportedConflictsMax);
      if (await this.settled()) await clearEditsThrough(this.options.db, editsBefore);
    } catch (error) {
      this.state.error = this.cancelled ? 'The sync was cancelled; it resumes with your next change.' : sentenceOf(error);
      if (!this.cancelled) this.scheduleRetry();
    }
  }

  // Whether every local entry equals its base: then the outbox has been carried.
  private async settled(): Promise<boolean> {
    const [local, base] = await Promise.all([this.options.replica.scan(), this.options.replica.loadBase()]);
    if (local.size !== base.size) return false;
    for (const [path, entry] of local) {
      const agreed = base.get(path);
      if (agreed === undefined || !sameContent(entry, agreed)) return false;
    }
    return true;
  }

  private scheduleRetry(): void {
    if (this.retryTimer !== null) return;
    this.retryTimer = setTimeout(() => {
      this.retryTimer = null;
      this.requestSync();
    }, this.retryDelayMs);
    this.retryDelayMs = Math.min(retryDelayMsMax, this.retryDelayMs * 2);
  }

  private emit(): void {
    this.options.onState({ ...this.state });
  }
}

/** A plain sentence for a failed sync. */
export function sentenceOf(error: unknown): string {
  if (isRaftboxError(error, 'unavailable') || isRaftboxError(error, 'timeout')) {
    return 'The cluster cannot be reached right now; your changes are kept here and will sync when it is back.';
  }
  if (isRaftboxError(error, 'disk_full')) return 'The cluster is out of disk space, so your changes could not be uploaded.';
  const message = error instanceof Error ? error.message : String(error);
  return `The sync stopped: ${message.replace(/[.\s]*$/, '')}.`;
}
