// A folder on disk as a sync replica. Scanning walks the folder, skipping ignored paths
// and symlinks (with a warning), and hashes only files whose size, mtime, inode or mode
// changed since the last scan. Every change the engine asks for first re-checks the path
// against the entry the plan expected, so a file edited after the scan is left alone and
// picked up by the next pass. Downloads go to a temporary file, synced, then renamed over
// the target, so a reader never sees half a file. Paths in the cluster are NFC; a name
// in another form here (NFD, as macOS has written accented letters) syncs under its NFC
// path and keeps its own name on this disk.

import { randomBytes } from 'node:crypto';
import { chmod, copyFile, mkdir, open, readdir, rename, rmdir, unlink, utimes } from 'node:fs/promises';
import { lstatSync, type Stats } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { Chunker, cutPoints } from '../../protocol/fastcdc.ts';
import { forEachLimited } from '../../protocol/client-blocks.ts';
import { isNormalPath, parentFolders, pathProblem } from '../../protocol/paths.ts';
import type { SyncReplica } from '../../protocol/sync-engine.ts';
import { sameContent, type BaseEntry, type BaseTree, type LocalEntry, type LocalTree, type RemoteEntry } from '../../protocol/sync-tree.ts';
import type { BlockRef, BlockUpload } from '../../protocol/wire.ts';
import { readRangeSync, readStartAndStatSync } from '../host/read-range.ts';
import { sha256Hex } from '../host/sha256.ts';
import { writeAll } from '../host/write-all.ts';
import { crossDeviceSuffix, FolderState, isSyncedFolder, stateFolderName, type FileStamp } from './folder-state.ts';
import type { IgnoreTest } from './ignore-rules.ts';

/** Bytes read from a file at a time while hashing it. */
const readSliceBytes = 4 * 1024 * 1024;
/**
 * Files and blocks up to this size are read with synchronous calls: for a small file the
 * thread-pool round trips and promise of each async call cost more than the read itself,
 * and a folder of many small files is where that adds up.
 */
const smallReadBytes = 256 * 1024;
/** Files hashed at once during a scan. */
const hashesInFlightMax = 16;
/**
 * lstat calls made in one go while walking a folder, before other work gets a turn. They
 * are synchronous: an lstat of a cached entry costs less than a thread-pool round trip.
 */
const statsPerTurnMax = 256;

export interface FolderReplicaOptions {
  ignore: IgnoreTest;
  /** Told about paths skipped for a reason the user should know (symlinks, odd names). */
  warn: (message: string) => void;
}

export class FolderReplica implements SyncReplica {
  /** Every warning given, so each is given once (each names its path). */
  private readonly warned = new Set<string>();
  /** Files and folders the last scan was not allowed to read: left out, with all they hold. */
  private unreadable = new Set<string>();
  /** Files and folders this run was not allowed to change: left out, with all they hold, until the next run. */
  private unwritable = new Set<string>();
  /**
   * Synced path → its name on this disk, for the paths whose names here are not in NFC
   * form (as macOS has written accented letters) or lie in such a folder. Paths in the
   * cluster are NFC; a file named `cafe\u0301.txt` here syncs as `caf\u00e9.txt` and keeps
   * its own name on this disk. Built by each scan; usually empty.
   */
  private onDisk = new Map<string, string>();

  constructor(
    readonly root: string,
    readonly state: FolderState,
    private readonly options: FolderReplicaOptions,
  ) {}

  // ---------------------------------------------------------------- scan

  async scan(early?: (path: string, blocks: BlockUpload[]) => Promise<void>): Promise<LocalTree> {
    await this.state.checkInPlace();
    this.unreadable = new Set();
    this.onDisk = new Map();
    const found: [string, Stats][] = [];
    await this.walk('', found);
    const tree: LocalTree = new Map();
    const cache = this.state.scanCache;
    const seen = new Set<string>();
    await forEachLimited(found, hashesInFlightMax, async ([path, stats]) => {
      seen.add(path);
      try {
        tree.set(path, await this.entryFor(path, stats, early));
      } catch (error) {
        if (!isDenied(error)) throw error;
        this.leaveOut(path);
      }
    });
    for (const path of tree.keys()) if (this.isLeftOut(path)) tree.delete(path);
    for (const path of cache.keys()) if (!seen.has(path)) cache.delete(path);
    await this.state.saveScanCache();
    // Map order follows completion; the planner sorts, but a stable order reads better in traces.
    return new Map([...tree].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
  }

  private async walk(folder: string, found: [string, Stats][]): Promise<void> {
    let raw: Buffer[];
    try {
      raw = await readdir(this.abs(folder), { encoding: 'buffer' });
    } catch (error) {
      if (isGone(error)) {
        // The synced folder itself gone is not an empty folder: nothing may be taken for deleted.
        if (folder === '') await this.state.checkInPlace();
        return;
      }
      // The synced folder itself unreadable: nothing can be told of it, so no sync at all.
      if (!isDenied(error) || folder === '') throw error;
      this.leaveOut(folder);
      return;
    }
    // A folder synced on its own syncs the whole cluster: taken in here too, each sync would
    // copy the other into itself, deeper every round.
    if (folder !== '' && raw.some((name) => name.toString() === stateFolderName) && isSyncedFolder(this.abs(folder))) {
      this.leaveOut(folder, `${quoted(folder)} is synced on its own (it holds ${stateFolderName}/); it is left out of this sync, and nothing of it is deleted in the cluster. A synced folder cannot hold another: remove ${join(folder, stateFolderName)} to sync it as part of this one`);
      return;
    }
    const names = this.namesOf(folder, raw);
    const diskFolder = this.diskPath(folder);
    const listed = new Set(names);
    const subfolders: string[] = [];
    for (let start = 0; start < names.length; start += statsPerTurnMax) {
      if (start > 0) await new Promise((resolve) => setImmediate(resolve));
      for (const name of names.slice(start, start + statsPerTurnMax)) {
        const stats = lstatIfThere(join(this.root, diskFolder, name));
        const path = this.admit(folder, name, stats, listed);
        if (path === null) continue;
        const diskName = diskFolder === '' ? name : `${diskFolder}/${name}`;
        if (diskName !== path) this.onDisk.set(path, diskName);
        found.push([path, stats!]);
        if (stats!.isDirectory()) subfolders.push(path);
      }
    }
    for (const path of subfolders) await this.walk(path, found);
  }

  /**
   * The names in `folder` as text. A name that is not valid UTF-8 (possible on Linux) has
   * no path in the cluster, and Node would hand it over with U+FFFD in place of its bad
   * bytes, a name no file has: it is left out with a warning, never silently.
   */
  private namesOf(folder: string, raw: Buffer[]): string[] {
    const names: string[] = [];
    for (const bytes of raw) {
      const name = utf8OrNull(bytes);
      if (name !== null) {
        names.push(name);
        continue;
      }
      const shown = folder === '' ? bytes.toString('utf8') : `${folder}/${bytes.toString('utf8')}`;
      this.warnOnce(`${quoted(shown)} has a name that is not valid UTF-8 text (shown with � for its bad bytes); rename it to sync it`);
    }
    return names;
  }

  /** The synced path of `name` in `folder`, or null when it is gone, ignored or cannot be synced (with a warning). */
  private admit(folder: string, name: string, stats: Stats | null, listed: Set<string>): string | null {
    if (stats === null) return null;
    const nfc = name.normalize('NFC');
    const path = folder === '' ? nfc : `${folder}/${nfc}`;
    if (this.options.ignore(path, stats.isDirectory() ? 'dir' : 'file')) return null;
    // Left out on every side: a synced file replaced by a link must not read as deleted here
    // and so be deleted everywhere, nor a file in the cluster be written over the link.
    if (!stats.isDirectory() && !stats.isFile()) {
      this.leaveOut(path, `${quoted(path)} is ${stats.isSymbolicLink() ? 'a symbolic link' : 'not a regular file'}; it is not synced, and nothing at that path is changed in the cluster`);
      return null;
    }
    // Two names here that are one path in the cluster (Linux tells NFC and NFD apart): the NFC one syncs.
    if (nfc !== name && listed.has(nfc)) {
      this.warnOnce(`${quoted(path)} is here twice, under its NFC name and under a different (NFD) form of it; only the NFC one is synced, so rename the other to sync it too`);
      return null;
    }
    const problem = isNormalPath(path) ? null : (pathProblem(path) ?? 'must be in Unicode NFC form');
    if (problem !== null) {
      this.warnOnce(`${quoted(path)} cannot be synced as it is named (a path ${problem}); rename it to sync it`);
      return null;
    }
    return path;
  }

  /**
   * The entry of a file or folder, from the scan cache while its stamp holds. A file read
   * whole that held still while it was read goes to `early` with its blocks.
   */
  private async entryFor(path: string, stats: Stats, early?: (path: string, blocks: BlockUpload[]) => Promise<void>): Promise<LocalEntry> {
    if (stats.isDirectory()) return { kind: 'dir', blocks: [], size: 0, mtime: Math.floor(stats.mtimeMs), executable: false };
    const stamp = stampOf(stats);
    const cached = this.state.scanCache.get(path);
    if (cached !== undefined && sameStamp(cached.stamp, stamp)) return cached.entry;
    const hashStartedMs = Date.now();
    const hashed = await hashFile(this.abs(path), stats.size);
    const entry: LocalEntry = {
      kind: 'file',
      blocks: hashed.refs,
      size: hashed.size,
      mtime: Math.floor(stats.mtimeMs),
      executable: (stats.mode & 0o111) !== 0,
    };
    // A file written to while it was read is hashed again at the next scan. (One replaced
    // meanwhile was read whole as it was; the next scan sees the new file's stamp.)
    if (!sameStamp(stampOf(hashed.after), stamp)) return entry;
    if (settledBefore(stamp, hashStartedMs)) this.state.scanCache.set(path, { stamp, entry });
    if (early !== undefined && hashed.blocks !== undefined) await early(path, hashed.blocks);
    return entry;
  }

  /** What `path` holds now: null for nothing, undefined for something the planner cannot describe (a symlink). */
  private async current(path: string): Promise<LocalEntry | null | undefined> {
    const stats = lstatIfThere(this.abs(path));
    if (stats === null) return null;
    if (!stats.isDirectory() && !stats.isFile()) return undefined;
    return this.entryFor(path, stats);
  }

  private async holds(path: string, expect: LocalEntry | null): Promise<boolean> {
    return isExpected(await this.current(path), expect);
  }

  // ---------------------------------------------------------------- SyncReplica

  async readBlock(path: string, offset: number, size: number): Promise<Uint8Array | null> {
    if (size <= smallReadBytes) {
      try {
        const data = readRangeSync(this.abs(path), offset, size);
        return data.byteLength === size ? data : null;
      } catch (error) {
        if (isGone(error)) return null;
        throw error;
      }
    }
    let handle;
    try {
      handle = await open(this.abs(path), 'r');
    } catch (error) {
      if (isGone(error)) return null;
      throw error;
    }
    try {
      const data = Buffer.allocUnsafe(size);
      const { bytesRead } = await handle.read(data, 0, size, offset);
      return bytesRead === size ? data : null;
    } finally {
      await handle.close();
    }
  }

  async writeFile(path: string, remote: RemoteEntry, data: AsyncIterable<Uint8Array>, expect: LocalEntry | null): Promise<boolean> {
    const temporary = join(this.state.tempFolder, `${randomBytes(6).toString('hex')}.part`);
    const handle = await open(temporary, 'w', remote.executable ? 0o755 : 0o644);
    try {
      for await (const part of data) await writeAll(handle, part);
      await handle.sync();
    } catch (error) {
      await handle.close();
      await unlink(temporary).catch(() => undefined);
      throw error;
    }
    await handle.close();
    // Re-checked after the download, just before the rename: the window in which an
    // edit could still be overwritten is one rename wide.
    if (!(await this.holds(path, expect)) || !(await this.makeParents(path))) {
      await unlink(temporary).catch(() => undefined);
      return false;
    }
    await chmod(temporary, remote.executable ? 0o755 : 0o644);
    const mtime = new Date(remote.mtime);
    await utimes(temporary, mtime, mtime);
    try {
      // A folder the remote replaced by a file goes first; rmdir refuses one that still holds anything.
      if (expect?.kind === 'dir') await rmdir(this.abs(path));
      await this.moveInto(temporary, this.abs(path), mtime);
    } catch (error) {
      await unlink(temporary).catch(() => undefined);
      // A folder appeared there meanwhile (another download of this pass made it the
      // parent of its file): refused like an edit would be, and planned again next pass.
      if (!isInTheWay(error) && !this.refusedHere(error, path)) throw error;
      return false;
    }
    this.remember(path, { kind: 'file', blocks: remote.blocks, size: remote.size, mtime: remote.mtime, executable: remote.executable });
    return true;
  }

  async makeFolder(path: string, expect: LocalEntry | null): Promise<boolean> {
    const now = await this.current(path);
    if (now?.kind === 'dir') return true;
    if (isExpected(now, expect) && (await this.makeParents(path))) {
      try {
        // A file the remote replaced by a folder goes first (the plan checked it is the synced one).
        if (expect?.kind === 'file') await unlink(this.abs(path));
        await mkdir(this.abs(path));
        return true;
      } catch (error) {
        if (this.refusedHere(error, path)) return false;
        if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      }
    }
    // Downloads run side by side, and one into this folder makes it as its parent: a
    // folder here now is what was asked for. Anything else is a local edit to keep.
    return (await this.current(path))?.kind === 'dir';
  }

  async remove(path: string, expect: LocalEntry): Promise<boolean> {
    if (!(await this.holds(path, expect))) return false;
    try {
      if (expect.kind === 'dir') await rmdir(this.abs(path));
      else await unlink(this.abs(path));
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (code === 'ENOTEMPTY' || code === 'EEXIST' || this.refusedHere(error, path)) return false;
      if (isGone(error)) return true;
      throw error;
    }
    this.state.scanCache.delete(path);
    return true;
  }

  async rename(from: string, to: string, expect: LocalEntry): Promise<boolean> {
    if (!(await this.holds(from, expect)) || (await this.current(to)) !== null || !(await this.makeParents(to))) return false;
    try {
      await rename(this.abs(from), this.abs(to));
    } catch (error) {
      // `from` went or something appeared at `to` since they were checked: a local change, left to the next pass.
      const code = (error as NodeJS.ErrnoException).code;
      if (isGone(error) || code === 'ENOTEMPTY' || code === 'EEXIST' || code === 'EISDIR' || this.refusedHere(error, from, to)) return false;
      throw error;
    }
    // A folder's files keep their inodes and times, so their cached hashes stay good.
    const cache = this.state.scanCache;
    const moved = expect.kind === 'dir' ? [...cache.keys()].filter((path) => path === from || path.startsWith(`${from}/`)) : [from];
    for (const path of moved) {
      const cached = cache.get(path);
      if (cached === undefined) continue;
      cache.delete(path);
      cache.set(to + path.slice(from.length), cached);
    }
    return true;
  }

  async loadBase(): Promise<BaseTree> {
    return new Map(this.state.base);
  }

  async saveBase(updates: Map<string, BaseEntry | null>): Promise<void> {
    await this.state.saveBase(updates);
  }

  // ---------------------------------------------------------------- helpers

  /** Where synced `path` is on this disk, relative to the root: `path` itself unless a name on the way is not NFC here. */
  private diskPath(path: string): string {
    if (this.onDisk.size === 0 || path === '') return path;
    const known = this.onDisk.get(path);
    if (known !== undefined) return known;
    const slash = path.lastIndexOf('/');
    if (slash === -1) return path;
    const parent = this.diskPath(path.slice(0, slash));
    return parent === path.slice(0, slash) ? path : `${parent}${path.slice(slash)}`;
  }

  /** The absolute file name of synced `path` on this disk. */
  private abs(path: string): string {
    return join(this.root, this.diskPath(path));
  }

  /**
   * Renames the finished download `temporary` over `target`. A target on another file
   * system than the state folder (a mount inside the synced folder) cannot take a rename
   * from there: the file is copied beside the target first, synced, then renamed, so a
   * reader still never sees half a file.
   */
  private async moveInto(temporary: string, target: string, mtime: Date): Promise<void> {
    try {
      await rename(temporary, target);
      return;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EXDEV') throw error;
    }
    const beside = join(dirname(target), `.${basename(target)}.${randomBytes(6).toString('hex')}${crossDeviceSuffix}`);
    try {
      await copyFile(temporary, beside);
      const handle = await open(beside, 'r+');
      try {
        await handle.sync();
      } finally {
        await handle.close();
      }
      await utimes(beside, mtime, mtime);
      await rename(beside, target);
    } catch (error) {
      await unlink(beside).catch(() => undefined);
      throw error;
    }
    await unlink(temporary);
  }

  /** Creates the folders above `path`; false when one of them is a file. */
  private async makeParents(path: string): Promise<boolean> {
    const slash = path.lastIndexOf('/');
    if (slash === -1) return true;
    try {
      await mkdir(this.abs(path.slice(0, slash)), { recursive: true });
      return true;
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (code === 'EEXIST' || code === 'ENOTDIR' || this.refusedHere(error, path)) return false;
      throw error;
    }
  }

  /** Records a file just written, so the next scan trusts it without hashing (unless it was edited since, within the racy window). */
  private remember(path: string, entry: LocalEntry): void {
    const stats = lstatIfThere(this.abs(path));
    if (stats === null) return;
    const stamp = stampOf(stats);
    if (settledBefore(stamp, Date.now())) this.state.scanCache.set(path, { stamp, entry });
  }

  /**
   * Whether the last scan could not read `path` or a folder holding it, or found it in a
   * folder synced on its own, or this run was not allowed to change it. Such a path is
   * left out on every side, as if ignored: what the scan did not take is not taken for
   * deleted here, so nothing is deleted there, and what could not be written here is not
   * tried again and again within one run.
   */
  isLeftOut(path: string): boolean {
    for (const set of [this.unreadable, this.unwritable]) {
      if (set.size === 0) continue;
      if (set.has(path) || parentFolders(path).some((folder) => set.has(folder))) return true;
    }
    return false;
  }

  /** A new run of passes: paths this device refused to let change are tried again. */
  startRun(): void {
    this.unwritable = new Set();
  }

  // A change this device does not allow (a read-only folder, say): left out for the rest
  // of this run with a warning, rather than failing the whole sync every time.
  private refusedHere(error: unknown, ...paths: string[]): boolean {
    if (!isDenied(error)) return false;
    for (const path of paths) {
      this.unwritable.add(path);
      this.warnOnce(`${quoted(path)} cannot be changed here (permission denied); it is left as it is, and as it is in the cluster, until it can be written`);
    }
    return true;
  }

  private leaveOut(path: string, why = `${quoted(path)} cannot be read here (permission denied); it is left out of this sync, and nothing of it is deleted in the cluster, until it can be read`): void {
    this.unreadable.add(path);
    this.warnOnce(why);
  }

  private warnOnce(message: string): void {
    if (this.warned.has(message)) return;
    this.warned.add(message);
    this.options.warn(message);
  }
}

/**
 * Cuts a file into FastCDC blocks and names each by its SHA-256. A file up to one read
 * slice is read whole and cut in place, and its blocks come back with their bytes
 * (`blocks`, views of the one read); a larger one streams through a Chunker, slice by
 * slice, so memory stays bounded whatever the file's size. `after` is the file's stat
 * once read, through the descriptor it was read from.
 */
export async function hashFile(path: string, sizeHint = Infinity): Promise<{ refs: BlockRef[]; size: number; blocks?: BlockUpload[]; after: Stats }> {
  const whole = (data: Uint8Array): { refs: BlockRef[]; size: number; blocks: BlockUpload[] } => {
    const blocks: BlockUpload[] = [];
    let start = 0;
    for (const end of cutPoints(data)) {
      const piece = data.subarray(start, end);
      blocks.push({ hash: sha256Hex(piece), data: piece });
      start = end;
    }
    return { refs: blocks.map(({ hash, data: piece }) => ({ hash, size: piece.length })), size: data.byteLength, blocks };
  };
  if (sizeHint < smallReadBytes) {
    // One byte of room proves the end; a file that grew past it since its stat takes the streaming path.
    const { data, after } = readStartAndStatSync(path, sizeHint + 1);
    if (data.byteLength <= sizeHint) return { ...whole(data), after };
  }
  const handle = await open(path, 'r');
  const refs: BlockRef[] = [];
  const name = (chunk: Uint8Array): void => {
    refs.push({ hash: sha256Hex(chunk), size: chunk.length });
  };
  let size = 0;
  try {
    const { size: statSize } = await handle.stat();
    const slice = Buffer.allocUnsafe(Math.min(readSliceBytes, statSize + 1));
    let { bytesRead } = await handle.read(slice, 0, slice.length, null);
    // The whole file fit (one byte of room proves the end): no streaming state needed.
    if (bytesRead < slice.length) return { ...whole(slice.subarray(0, bytesRead)), after: await handle.stat() };
    const chunker = new Chunker();
    while (bytesRead > 0) {
      size += bytesRead;
      // Chunks may be views of `slice`; each is hashed before the next read reuses it.
      for (const chunk of chunker.push(slice.subarray(0, bytesRead))) name(chunk);
      ({ bytesRead } = await handle.read(slice, 0, slice.length, null));
    }
    for (const chunk of chunker.finish()) name(chunk);
    return { refs, size, after: await handle.stat() };
  } finally {
    await handle.close();
  }
}

/**
 * File systems keep modification times coarsely: Linux stamps writes with a clock that
 * ticks every few milliseconds, ext3 and HFS+ by the second, FAT by two. A file modified
 * within that grain of being hashed may change again, to the same size, without its stamp
 * changing, and a cache entry would then hide the edit for good (the next remote change
 * to that path would even overwrite it). So, as git does with "racily clean" entries, a
 * stamp is only trusted once its time is this far behind the moment the file was read.
 */
const racyWindowMs = 2000;

function settledBefore(stamp: FileStamp, readAtMs: number): boolean {
  return stamp.mtimeMs < readAtMs - racyWindowMs;
}

function stampOf(stats: Stats): FileStamp {
  return { size: stats.size, mtimeMs: stats.mtimeMs, ino: stats.ino, mode: stats.mode };
}

function sameStamp(a: FileStamp, b: FileStamp): boolean {
  return a.size === b.size && a.mtimeMs === b.mtimeMs && a.ino === b.ino && a.mode === b.mode;
}

/** A rename refused because a folder (or a file where a folder should be) holds the target. */
function isInTheWay(error: unknown): boolean {
  const code = (error as NodeJS.ErrnoException).code;
  return code === 'EISDIR' || code === 'ENOTDIR' || code === 'ENOTEMPTY' || code === 'EEXIST';
}

/** A read refused for want of permission. */
function isDenied(error: unknown): boolean {
  const code = (error as NodeJS.ErrnoException).code;
  return code === 'EACCES' || code === 'EPERM';
}

/** Whether what a path holds (`current`'s answer) is still `expect`, so it may be replaced. */
function isExpected(now: LocalEntry | null | undefined, expect: LocalEntry | null): boolean {
  if (now === undefined) return false;
  if (now === null || expect === null) return now === expect;
  return sameContent(now, expect);
}

const strictUtf8 = new TextDecoder('utf-8', { fatal: true });

/** `bytes` as text, or null when they are not valid UTF-8. */
function utf8OrNull(bytes: Uint8Array): string | null {
  try {
    return strictUtf8.decode(bytes);
  } catch {
    return null;
  }
}

/** A path as a warning shows it: JSON-quoted when it holds control characters (a newline in a name would split the message). */
function quoted(path: string): string {
  return /[\u0000-\u001f\u007f]/.test(path) ? JSON.stringify(path) : path;
}

/** The lstat of `path`, or null when nothing is there (any more). */
function lstatIfThere(path: string): Stats | null {
  try {
    return lstatSync(path, { throwIfNoEntry: false }) ?? null;
  } catch (error) {
    if (isGone(error)) return null;
    throw error;
  }
}

function isGone(error: unknown): boolean {
  const code = (error as NodeJS.ErrnoException).code;
  return code === 'ENOENT' || code === 'ENOTDIR';
}
