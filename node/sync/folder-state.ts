// What `raftbox sync` keeps under DIR/.raftbox/: the device id, the base (what the folder
// and the cluster last agreed on), the scan cache (so unchanged files are not hashed
// again) and a lock. Whole files are replaced atomically: written beside, synced,
// renamed, and the folder synced, so a crash leaves the old state or the new, never a
// torn one.
//
// The base is a snapshot (state.json) plus a journal of the updates saved since it
// (journal-N.log, N being the snapshot's generation). A save appends one record of
// updates (length, CRC-32C, JSON) and syncs it, so its cost follows the size of the
// update, not of the folder: a first sync of 100,000 files saves a hundred batches
// without rewriting a growing state.json a hundred times, and `--watch` saves one edit
// as one small record. Once the journal outgrows the snapshot, the next save writes a
// new snapshot (generation N+1) and drops the old journal, so the state on disk stays
// within about twice the base. Opening replays the journal of the snapshot's generation
// and cuts a torn or corrupt tail off it; a journal of any other generation is left
// over from a crash during that switch and is already inside the snapshot.
// Losing a state update is safe by design: the planner sees equal content on both sides
// and records it again.

import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { mkdir, open, readdir, readFile, rename, stat, unlink, type FileHandle } from 'node:fs/promises';
import { raftboxError } from '../../protocol/errors.ts';
import { recordBytesMax } from '../../protocol/limits.ts';
import { decodeRecords, encodeRecord } from '../../protocol/record.ts';
import { isAlive } from '../host/data-dir.ts';
import { writeAll } from '../host/write-all.ts';
import type { BaseEntry, BaseTree, LocalEntry } from '../../protocol/sync-tree.ts';

export const stateFolderName = '.raftbox';
/** The ending of a download's copy beside its target, made when the target is on another file system than the state folder. */
export const crossDeviceSuffix = '.raftbox-part';

/** Whether `dir` is a synced folder: it holds the state `raftbox sync` keeps there. */
export function isSyncedFolder(dir: string): boolean {
  return existsSync(join(dir, stateFolderName, 'state.json'));
}

/** The nearest folder above `dir` that is synced, or null. */
export function syncedFolderAbove(dir: string): string | null {
  for (let folder = dirname(dir); folder !== dir; dir = folder, folder = dirname(folder)) {
    if (isSyncedFolder(folder)) return folder;
  }
  return null;
}
const stateFormat = 1;

/** A file's identity on disk: while these match, its scanned entry still holds. */
export interface FileStamp {
  size: number;
  mtimeMs: number;
  ino: number;
  mode: number;
}

export interface CachedScan {
  stamp: FileStamp;
  entry: LocalEntry;
}

interface StateFile {
  format: number;
  device: string;
  base: [string, BaseEntry][];
  /** Generation of the snapshot: journal-N.log holds the updates saved after it. Absent (0) in folders synced before the journal. */
  journal?: number;
}

/** Journal bytes allowed before a save writes a new snapshot instead, whatever the snapshot's size. */
export const journalBytesMin = 1024 * 1024;

const journalPattern = /^journal-(\d+)\.log$/;

/** The scan cache, which notes whether anything was set or deleted since it was last saved. */
export class ScanCache extends Map<string, CachedScan> {
  changed = false;

  constructor(entries: Iterable<readonly [string, CachedScan]> = []) {
    super(entries);
    // Map's constructor adds the entries through set(): loading is not a change.
    this.changed = false;
  }

  override set(path: string, cached: CachedScan): this {
    this.changed = true;
    return super.set(path, cached);
  }

  override delete(path: string): boolean {
    const deleted = super.delete(path);
    if (deleted) this.changed = true;
    return deleted;
  }
}

/** The state folder of one synced folder. */
export class FolderState {
  readonly folder: string;
  device = '';
  base: BaseTree = new Map();
  scanCache = new ScanCache();
  private generation = 0;
  private snapshotBytes = 0;
  private journalBytes = 0;
  /** The lock file this process made, by device and inode: see checkInPlace. */
  private lockIdentity: { dev: number; ino: number } | null = null;
  private journal: FileHandle | null = null;
  /** A journal write failed: the next save starts a new snapshot rather than append after what it left. */
  private journalSpoiled = false;

  constructor(readonly root: string) {
    this.folder = join(root, stateFolderName);
  }

  get tempFolder(): string {
    return join(this.folder, 'tmp');
  }

  /**
   * Opens (creating on first use) the state of `root`, taking its lock. The device id is
   * chosen once per folder: two folders on one machine are two devices, or their vector
   * clocks would merge edits that never saw each other.
   */
  async open(deviceName?: string): Promise<void> {
    await mkdir(this.tempFolder, { recursive: true });
    await this.lock();
    const state = await readJson<StateFile>(join(this.folder, 'state.json'));
    if (state !== null && state.format !== stateFormat) {
      throw raftboxError('bad_message', `${join(this.folder, 'state.json')} has format ${state.format}, this raftbox reads ${stateFormat}; upgrade raftbox`);
    }
    this.device = state?.device ?? deviceName ?? `${hostname().split('.')[0]}-${randomBytes(3).toString('hex')}`;
    this.base = new Map(state?.base ?? []);
    const cache = await readJson<[string, CachedScan][]>(join(this.folder, 'scan.json'));
    this.scanCache = new ScanCache(cache ?? []);
    if (state === null) {
      // A journal without its snapshot (state.json deleted to start afresh) must not come back.
      await this.removeJournals(null);
      return this.writeSnapshot(0);
    }
    this.generation = state.journal ?? 0;
    this.snapshotBytes = (await stat(join(this.folder, 'state.json'))).size;
    await this.replayJournal();
    await this.removeJournals(this.generation);
  }

  /** Applies `updates` (null deletes) to the base and makes them durable before returning. */
  async saveBase(updates: Map<string, BaseEntry | null>): Promise<void> {
    this.applyToBase(updates);
    if (updates.size === 0) return;
    const record = encodeUpdates(updates);
    if (record === null || this.journalSpoiled || this.journalBytes + record.length > Math.max(this.snapshotBytes, journalBytesMin)) {
      return this.writeSnapshot(this.generation + 1);
    }
    try {
      this.journal ??= await open(this.journalPath(this.generation), 'a');
      await writeAll(this.journal, record);
      await this.journal.datasync();
    } catch (error) {
      // A part of the record may be on disk (a full disk, say): nothing may be appended after it.
      this.journalSpoiled = true;
      throw error;
    }
    this.journalBytes += record.length;
  }

  /** Writes the scan cache if it changed since it was loaded or last written: a pass over a quiet folder writes nothing. */
  async saveScanCache(): Promise<void> {
    if (!this.scanCache.changed) return;
    this.scanCache.changed = false;
    try {
      await writeAtomically(join(this.folder, 'scan.json'), JSON.stringify([...this.scanCache]), this.tempFolder);
    } catch (error) {
      this.scanCache.changed = true;
      throw error;
    }
  }

  async close(): Promise<void> {
    // Every save was synced when it returned, so a failing close loses nothing; the lock must go regardless.
    await this.journal?.close().catch(() => undefined);
    this.journal = null;
    // Only our own lock: the folder may have been moved away, and another put in its place.
    if (await this.ownsLock()) await unlink(join(this.folder, 'LOCK')).catch(() => undefined);
  }

  private applyToBase(updates: Iterable<[string, BaseEntry | null]>): void {
    for (const [path, entry] of updates) {
      if (entry === null) this.base.delete(path);
      else this.base.set(path, entry);
    }
  }

  private journalPath(generation: number): string {
    return join(this.folder, `journal-${generation}.log`);
  }

  // The whole base as snapshot `generation`, whose journal starts empty. Until the rename
  // lands, the old snapshot and its journal still hold everything.
  private async writeSnapshot(generation: number): Promise<void> {
    const text = JSON.stringify({ format: stateFormat, device: this.device, base: [...this.base], journal: generation } satisfies StateFile);
    await writeAtomically(join(this.folder, 'state.json'), text, this.tempFolder);
    const previous = this.generation;
    await this.journal?.close().catch(() => undefined);
    this.journal = null;
    this.journalSpoiled = false;
    this.generation = generation;
    this.snapshotBytes = Buffer.byteLength(text);
    this.journalBytes = 0;
    if (previous !== generation) await unlink(this.journalPath(previous)).catch(() => undefined);
  }

  private async replayJournal(): Promise<void> {
    const path = this.journalPath(this.generation);
    let bytes: Uint8Array;
    try {
      bytes = await readFile(path);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return;
      throw error;
    }
    const { records, validBytes } = decodeRecords(bytes);
    for (const payload of records) this.applyToBase(decodeUpdates(payload, path));
    // A save cut short by a crash was never reported done: drop it, so later saves append after good records.
    if (validBytes < bytes.length) {
      const handle = await open(path, 'r+');
      try {
        await handle.truncate(validBytes);
        await handle.sync();
      } finally {
        await handle.close();
      }
    }
    this.journalBytes = validBytes;
  }

  // Every journal but the one of generation `keep`.
  private async removeJournals(keep: number | null): Promise<void> {
    for (const name of await readdir(this.folder)) {
      const match = journalPattern.exec(name);
      if (match && Number(match[1]) !== keep) await unlink(join(this.folder, name));
    }
  }

  /**
   * Throws unless the folder opened is still at its path: its lock file is there, and is
   * the one this process made. A folder moved away (or deleted, or replaced by another)
   * under a running sync would otherwise scan as empty, and every file in it would be
   * deleted in the cluster.
   */
  async checkInPlace(): Promise<void> {
    if (await this.ownsLock()) return;
    throw raftboxError(
      'not_found',
      `${this.root} is no longer the folder this sync opened (it was moved, deleted or replaced); nothing was changed in the cluster. Run raftbox sync on the folder where it is now`,
      { folderGone: true },
    );
  }

  /** Whether the lock file at this folder's path is the one this process made. */
  private async ownsLock(): Promise<boolean> {
    const held = this.lockIdentity;
    const now = await stat(join(this.folder, 'LOCK')).catch(() => null);
    return held !== null && now !== null && now.dev === held.dev && now.ino === held.ino;
  }

  // One sync per folder at a time; a lock left by a process that died is taken over.
  private async lock(): Promise<void> {
    const path = join(this.folder, 'LOCK');
    for (let attempt = 0; attempt < 2; attempt++) {
      try {
        const handle = await open(path, 'wx');
        await handle.writeFile(String(process.pid));
        const { dev, ino } = await handle.stat();
        this.lockIdentity = { dev, ino };
        await handle.close();
        return;
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
        const owner = Number((await readFile(path, 'utf8').catch(() => '')).trim());
        if (Number.isInteger(owner) && owner > 0 && owner !== process.pid && isAlive(owner)) {
          throw raftboxError('conflict', `another raftbox sync (pid ${owner}) is syncing ${this.root}; stop it first, or wait for it to finish`);
        }
        await unlink(path).catch(() => undefined);
      }
    }
    throw raftboxError('conflict', `could not take the lock ${path}; remove it if no raftbox sync is running`);
  }
}

// One journal record; null when the updates are too large for a record (a snapshot holds them instead).
function encodeUpdates(updates: Map<string, BaseEntry | null>): Uint8Array | null {
  const payload = new TextEncoder().encode(JSON.stringify([...updates]));
  return payload.length > recordBytesMax ? null : encodeRecord(payload);
}

function decodeUpdates(payload: Uint8Array, path: string): [string, BaseEntry | null][] {
  try {
    return JSON.parse(new TextDecoder().decode(payload)) as [string, BaseEntry | null][];
  } catch {
    throw raftboxError('bad_message', `${path} holds a record that is not valid JSON; delete it and sync again (the folder and the cluster are compared afresh)`);
  }
}

async function readJson<T>(path: string): Promise<T | null> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw error;
  }
  try {
    return JSON.parse(text) as T;
  } catch {
    throw raftboxError('bad_message', `${path} is not valid JSON; delete it and sync again (the folder and the cluster are compared afresh)`);
  }
}

/** Writes `text` to `path` so that a crash leaves either the old file or the new one. */
export async function writeAtomically(path: string, text: string | Uint8Array, tempFolder: string): Promise<void> {
  const temporary = join(tempFolder, `${randomBytes(6).toString('hex')}.tmp`);
  const handle = await open(temporary, 'w');
  try {
    await handle.writeFile(text);
    await handle.sync();
  } finally {
    await handle.close();
  }
  await rename(temporary, path);
  await syncFolder(join(path, '..'));
}

/** fsync a folder, so a rename into it survives a crash. */
export async function syncFolder(folder: string): Promise<void> {
  const handle = await open(folder, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}
