// `raftbox sync DIR` as a library: one sync of a folder with a cluster, or a watch loop
// that syncs again whenever the folder changes (file system events, debounced) or the
// cluster pushes a change. Syncs never overlap; a change during a sync schedules one more.
// A sync that fails because the cluster is unreachable is retried with backoff, and the
// folder keeps working offline meanwhile.

import { watch, type FSWatcher } from 'node:fs';
import { stat } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { isRaftboxError, raftboxError } from '../../protocol/errors.ts';
import { syncOnce, type SyncOptions, type SyncProgress, type SyncSummary } from '../../protocol/sync-engine.ts';
import { createClient, type RaftboxClient } from '../../protocol/client.ts';
import { sha256Hex } from '../host/sha256.ts';
import { nodeRuntime } from '../sdk.ts';
import { FolderReplica } from './folder-replica.ts';
import { FolderState, stateFolderName, syncedFolderAbove } from './folder-state.ts';
import { loadIgnoreRules } from './ignore-rules.ts';

export interface FolderSyncOptions {
  dir: string;
  servers: string[];
  token?: string;
  /** Device name for a folder synced the first time; later runs keep the stored one. */
  device?: string;
  limitBytesPerSecond?: number;
  onProgress?: (progress: SyncProgress) => void;
  warn?: (message: string) => void;
}

/** The longest file name, in bytes, that common file systems take (NAME_MAX of ext4, XFS, APFS, NTFS in UTF-16 units aside). */
const nameBytesMax = 255;
/** The longest path the kernel resolves (PATH_MAX), its final NUL included. */
const pathBytesMax = 4096;

/** Why `path` cannot be stored under `root` on this disk, or null when it can. */
export function unfitForDisk(root: string, path: string): string | null {
  for (const name of path.split('/')) {
    const bytes = Buffer.byteLength(name);
    if (bytes > nameBytesMax) return `the name ${JSON.stringify(name.slice(0, 24) + '…')} is ${bytes} bytes, and a file name on this disk may have at most ${nameBytesMax}`;
  }
  const full = Buffer.byteLength(root) + 1 + Buffer.byteLength(path);
  if (full >= pathBytesMax) return `with the folder's own path it is ${full} bytes long, and a path on this system may have at most ${pathBytesMax - 1}`;
  return null;
}

/** Quiet time after the last file system event before a sync starts… */
export const debounceMs = 300;
/** …but a folder that never goes quiet (a log written to all the time) still syncs this often. */
export const debounceMaxMs = 2_000;
/** How often --watch makes sure its folder is still where it was opened. */
const placeCheckMs = 1_000;
const retryMsMin = 500;
const retryMsMax = 10_000;

/** An open folder: its state, its replica and a connection to the cluster. */
export class SyncedFolder {
  private cancelled = false;

  private constructor(
    readonly root: string,
    readonly state: FolderState,
    readonly replica: FolderReplica,
    readonly client: RaftboxClient,
    private readonly options: FolderSyncOptions,
    private readonly isIgnored: SyncOptions['isIgnored'],
  ) {}

  /** Opens `options.dir` (which must exist), takes its lock and connects. */
  static async open(options: FolderSyncOptions): Promise<SyncedFolder> {
    const root = resolve(options.dir);
    const info = await stat(root).catch(() => null);
    if (info === null || !info.isDirectory()) throw raftboxError('not_found', `${root} is not a folder; create it first, then sync it`);
    const above = syncedFolderAbove(root);
    if (above !== null) {
      throw raftboxError('conflict', `${root} is inside ${above}, which is synced already; a synced folder cannot hold another (each syncs the whole cluster, so each would copy the other into itself). Sync ${above} instead, or remove ${join(above, stateFolderName)} to stop syncing it`);
    }
    const state = new FolderState(root);
    await state.open(options.device);
    try {
      const rules = await loadIgnoreRules(root);
      const warn = options.warn ?? (() => undefined);
      const unfit = new Set<string>();
      // Left out like ignored paths, on both sides: what this disk cannot name (the cluster
      // takes longer names than file systems do), said once per path and run.
      const ignore = (path: string, kind: 'file' | 'dir'): boolean => {
        if (rules(path, kind) || replica.isLeftOut(path)) return true;
        const problem = unfitForDisk(root, path);
        if (problem === null) return false;
        if (!unfit.has(path)) {
          unfit.add(path);
          warn(`${JSON.stringify(path)} is left out of this sync: ${problem}; it stays in the cluster, where a shorter name would let it sync`);
        }
        return true;
      };
      const replica = new FolderReplica(root, state, { ignore, warn });
      // No probe of the cluster here: an unreachable cluster fails the sync, not the open,
      // so watch mode starts offline and catches up when the cluster answers.
      const client = createClient({ servers: options.servers, device: state.device, runtime: nodeRuntime(), ...(options.token === undefined ? {} : { token: options.token }) });
      return new SyncedFolder(root, state, replica, client, options, ignore);
    } catch (error) {
      await state.close();
      throw error;
    }
  }

  /** One full sync; resolves with what it did. */
  async sync(): Promise<SyncSummary> {
    this.replica.startRun();
    return syncOnce(this.replica, this.client, {
      device: this.state.device,
      conflictStamp: conflictStamp(new Date()),
      sha256: async (bytes) => sha256Hex(bytes),
      now: () => Date.now(),
      sleep: (ms) => new Promise((done) => setTimeout(done, ms)),
      ...(this.options.limitBytesPerSecond === undefined ? {} : { limitBytesPerSecond: this.options.limitBytesPerSecond }),
      ...(this.isIgnored === undefined ? {} : { isIgnored: this.isIgnored }),
      ...(this.options.onProgress === undefined ? {} : { onProgress: this.options.onProgress }),
      isCancelled: () => this.cancelled,
    });
  }

  /** Makes a running sync stop at its next step (what it finished is recorded). */
  cancel(): void {
    this.cancelled = true;
  }

  async close(): Promise<void> {
    await this.client.close();
    await this.state.close();
  }

  /**
   * Syncs now and then after every change, until `stop()` is called. `onSummary` hears of
   * each sync that did something; `onError` of each that failed (it is retried).
   */
  watch(onSummary: (summary: SyncSummary) => void, onError: (error: unknown) => void): { stop(): Promise<void> } {
    let timer: NodeJS.Timeout | undefined;
    let running: Promise<void> | null = null;
    let again = false;
    let stopped = false;
    let retryMs = retryMsMin;
    // Each event moves the sync later, up to a deadline set by the first event since the
    // last sync started: without it, a file changing every 100 ms would hold back every
    // other change, here and from the cluster, for as long as it kept changing.
    let deadline: number | null = null;
    const schedule = (delayMs: number): void => {
      if (stopped) return;
      const now = Date.now();
      deadline ??= now + Math.max(delayMs, debounceMaxMs);
      clearTimeout(timer);
      timer = setTimeout(() => void run(), Math.max(0, Math.min(delayMs, deadline - now)));
    };
    const run = async (): Promise<void> => {
      if (running !== null) {
        again = true;
        return;
      }
      deadline = null;
      again = false;
      running = this.sync().then(
        (summary) => {
          retryMs = retryMsMin;
          if (changedSomething(summary)) onSummary(summary);
        },
        (error: unknown) => {
          if (stopped) return;
          onError(error);
          again = true;
          retryMs = Math.min(retryMsMax, retryMs * 2);
        },
      );
      await running;
      running = null;
      if (again) schedule(retryMs === retryMsMin ? debounceMs : retryMs);
    };
    const watcher: FSWatcher = watch(this.root, { recursive: true }, (_event, name) => {
      const path = String(name ?? '');
      if (path === stateFolderName || path.startsWith(`${stateFolderName}/`)) return;
      schedule(debounceMs);
    });
    watcher.on('error', (error) => onError(error));
    const unwatch = this.client.watch(() => schedule(debounceMs));
    // File system events do not reliably tell of the watched folder itself being moved or
    // replaced (they come from its old inode, or not at all): look now and then, and let a
    // sync find out and fail.
    const placeCheck = setInterval(() => void this.state.checkInPlace().catch(() => schedule(0)), placeCheckMs);
    schedule(0);
    return {
      stop: async () => {
        stopped = true;
        clearInterval(placeCheck);
        clearTimeout(timer);
        watcher.close();
        unwatch();
        this.cancel();
        await running?.catch(() => undefined);
      },
    };
  }
}

/** Whether a sync moved anything, for watch mode's output. */
export function changedSomething(summary: SyncSummary): boolean {
  return summary.filesUp + summary.filesDown + summary.deleted + summary.moves + summary.conflicts.length > 0;
}

/** `YYYY-MM-DD HHMMSS` in local time, as conflict-copy names show it. */
export function conflictStamp(date: Date): string {
  const two = (value: number): string => String(value).padStart(2, '0');
  return `${date.getFullYear()}-${two(date.getMonth() + 1)}-${two(date.getDate())} ${two(date.getHours())}${two(date.getMinutes())}${two(date.getSeconds())}`;
}

/** Whether an error means "the cluster cannot be reached now" rather than "this went wrong". */
export function isUnreachable(error: unknown): boolean {
  return isRaftboxError(error, 'unavailable') || isRaftboxError(error, 'timeout') || isRaftboxError(error, 'not_leader');
}
