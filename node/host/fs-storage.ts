import * as fs from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import type { StorageFailedMessage } from '../../protocol/wire.ts';
import type { Storage } from '../core/actor/env.ts';
import { readRangeAsync, readRangeSync } from './read-range.ts';

// The real disk behind an actor's Storage. Every file has its own queue of operations
// that run strictly in order on the libuv thread pool, so the event loop stays free and
// a sync's completion means exactly "every earlier append of this file is on disk".
// Appends are buffered in memory until the next sync, truncate or remove of the file,
// which writes them with one write call. Durability of names (a file created, renamed or
// removed) needs an fsync of the folder holding it; those folders are collected and
// synced before the next completion is delivered.
//
// Files the owner names as direct (block packs) take a batch that starts and ends on a
// multiple of directAlignment with O_DIRECT instead: the bytes are copied into one
// reused, page-aligned buffer and go from there to the disk. Copying them into page cache
// costs far more where the kernel must find fresh memory for it (on this project's VMs a
// third of the disk's direct rate). Any other batch, and every read, uses the page cache.

/** The few file system calls FsStorage makes, on file descriptors; injectable so tests can fail them. */
export interface FsOperations {
  open(path: string, flags: string): Promise<number>;
  /** Write `chunks` end to end at the current position; resolves with the bytes written (maybe fewer). */
  writev(fd: number, chunks: Uint8Array[]): Promise<number>;
  /** Open an existing file to write with O_DIRECT (no O_APPEND); EINVAL where its file system cannot. */
  openDirect(path: string): Promise<number>;
  /** Write the first `length` bytes of `buffer` at byte `position` of the file; resolves with the bytes written (maybe fewer). */
  pwrite(fd: number, buffer: Uint8Array, length: number, position: number): Promise<number>;
  fdatasync(fd: number): Promise<void>;
  fsync(fd: number): Promise<void>;
  ftruncate(fd: number, length: number): Promise<void>;
  size(fd: number): Promise<number>;
  close(fd: number): Promise<void>;
  rename(from: string, to: string): Promise<void>;
  unlink(path: string): Promise<void>;
  /** mkdir -p; resolves with the first folder it created, or undefined when all existed. */
  mkdir(path: string): Promise<string | undefined>;
}

type Callback<T> = (error: NodeJS.ErrnoException | null, value: T) => void;

function promise<T>(run: (callback: Callback<T>) => void): Promise<T> {
  return new Promise((resolvePromise, reject) => run((error, value) => (error ? reject(error) : resolvePromise(value))));
}

/** FsOperations on node:fs, through its callback API (each call runs on the thread pool). */
export const nodeFsOperations: FsOperations = {
  open: (path, flags) => promise((callback) => fs.open(path, flags, 0o644, callback)),
  writev: (fd, chunks) => promise((callback) => fs.writev(fd, chunks, callback)),
  openDirect: (path) => promise((callback) => fs.open(path, fs.constants.O_WRONLY | fs.constants.O_DIRECT, callback)),
  pwrite: (fd, buffer, length, position) => promise((callback) => fs.write(fd, buffer, 0, length, position, callback)),
  fdatasync: (fd) => promise<void>((callback) => fs.fdatasync(fd, (error) => callback(error, undefined))),
  fsync: (fd) => promise<void>((callback) => fs.fsync(fd, (error) => callback(error, undefined))),
  ftruncate: (fd, length) => promise<void>((callback) => fs.ftruncate(fd, length, (error) => callback(error, undefined))),
  size: (fd) => promise<fs.Stats>((callback) => fs.fstat(fd, callback)).then((stats) => stats.size),
  close: (fd) => promise<void>((callback) => fs.close(fd, (error) => callback(error, undefined))),
  rename: (from, to) => promise<void>((callback) => fs.rename(from, to, (error) => callback(error, undefined))),
  unlink: (path) => promise<void>((callback) => fs.unlink(path, (error) => callback(error, undefined))),
  mkdir: (path) => promise<string | undefined>((callback) => fs.mkdir(path, { recursive: true }, callback)),
};

export interface FsStorageOptions {
  fs?: FsOperations;
  /** File descriptors of log files kept open at once; the least recently used is closed past it. */
  openFilesMax?: number;
  /** Files whose batches that start and end on directAlignment are written with O_DIRECT. */
  direct?: (file: string) => boolean;
}

/** What a batch's offset and length must be multiples of to be written with O_DIRECT. */
export const directAlignment = 4096;
/** The aligned buffer direct writes go through, in 64 KiB WebAssembly pages: 8 MiB. */
const stagingPages = 128;

/** Marks temporary files of `put`; they are never listed, and names containing it are refused. */
const TEMPORARY_MARK = '.tmp-';
const defaultOpenFilesMax = 64;

interface Failure {
  code: StorageFailedMessage['code'];
  message: string;
}

interface FileState {
  name: string;
  path: string;
  /** Appends not yet handed to the queue. */
  buffer: Uint8Array[];
  operations: (() => Promise<void>)[];
  running: boolean;
  /** Whether the file exists once the queued operations ran; null when the disk already says. */
  exists: boolean | null;
  /** An earlier write without a completion failed; the next sync of the file reports it. */
  failure: Failure | null;
  /** A write could not be undone or an fdatasync failed: the file's content is unknown, every later sync fails. */
  poisoned: Failure | null;
}

interface OpenFile {
  fd: number;
  /** Its O_DIRECT descriptor: undefined until a direct write wants it, null when it could not be had. */
  direct: number | null | undefined;
  /** Bytes in the file as this process wrote them; a failed write is cut back to it. */
  length: number;
  busy: boolean;
}

/**
 * Storage on a real folder. File names are relative with '/' separators ('wal/000001',
 * 'packs/000000000001'); parent folders are created as needed. Completions (`done` of
 * sync and put) go to `deliver` once the bytes are durable; when a write, sync or rename
 * fails, a StorageFailedMessage carrying `done` is delivered instead. Reads and lists are
 * synchronous, for recovery at start-up, except `readRangeLater`, which goes through the
 * thread pool for reads made while serving; all see what was written to the disk, not
 * appends still buffered here.
 */
export class FsStorage implements Storage {
  readonly root: string;
  private readonly fs: FsOperations;
  private readonly openFilesMax: number;
  private readonly isDirect: (file: string) => boolean;
  /** False once the file system refused O_DIRECT (on open or on a write): every later write uses the page cache. */
  private directWorks = true;
  /** Page-aligned, as O_DIRECT needs: a WebAssembly memory's, made on the first direct write. */
  private staging: Uint8Array | null = null;
  /** Direct writes of different files take turns with the staging buffer. */
  private stagingTurn: Promise<unknown> = Promise.resolve();
  private readonly files = new Map<string, FileState>();
  /** Open log files, least recently used first. */
  private readonly handles = new Map<string, OpenFile>();
  private readonly knownFolders = new Set<string>();
  private readonly dirtyFolders = new Set<string>();
  private folderSync: Promise<void> = Promise.resolve();
  private nextTemporary = 1;
  private runningFiles = 0;
  private idleWaiters: (() => void)[] = [];
  private closed = false;

  constructor(root: string, private readonly deliver: (message: unknown) => void, options: FsStorageOptions = {}) {
    this.root = resolve(root);
    this.fs = options.fs ?? nodeFsOperations;
    this.openFilesMax = options.openFilesMax ?? defaultOpenFilesMax;
    this.isDirect = options.direct ?? (() => false);
    if (!Number.isInteger(this.openFilesMax) || this.openFilesMax < 1) throw new RangeError(`openFilesMax must be a positive integer, got ${this.openFilesMax}`);
    fs.mkdirSync(this.root, { recursive: true });
  }

  append(file: string, bytes: Uint8Array): void {
    const state = this.stateOf(file);
    if (bytes.byteLength > 0) state.buffer.push(bytes);
    state.exists = true;
  }

  sync(file: string, done: unknown): void {
    const state = this.stateOf(file);
    const batch = takeBuffer(state);
    state.exists = true;
    this.enqueue(state, async () => {
      let failure: Failure | null = state.poisoned ?? state.failure;
      state.failure = null;
      if (failure === null) {
        try {
          const handle = await this.acquire(state);
          try {
            if (batch) await this.writeBatch(state, handle, batch);
            await this.fdatasync(state, handle);
          } finally {
            handle.busy = false;
          }
          await this.syncDirtyFolders();
        } catch (error) {
          failure = state.poisoned ?? this.describe(error, file);
        }
      }
      this.complete(done, failure);
    });
  }

  truncate(file: string, length: number): void {
    if (!Number.isInteger(length) || length < 0) throw new RangeError(`truncate length must be a non-negative integer, got ${length}`);
    const state = this.stateOf(file);
    const batch = takeBuffer(state);
    state.exists = true;
    this.enqueue(state, () =>
      this.remembering(state, async () => {
        const handle = await this.acquire(state);
        try {
          if (batch) await this.writeBatch(state, handle, batch);
          await this.fs.ftruncate(handle.fd, length);
          handle.length = length;
        } finally {
          handle.busy = false;
        }
      }),
    );
  }

  put(file: string, bytes: Uint8Array | readonly Uint8Array[], done: unknown): void {
    const state = this.stateOf(file);
    // The whole file is replaced, so appends buffered before it would be overwritten anyway.
    takeBuffer(state);
    state.exists = null;
    this.enqueue(state, async () => {
      let failure: Failure | null = null;
      try {
        await this.replace(state, bytes instanceof Uint8Array ? [bytes] : bytes);
        // The replaced content is known now; an earlier failed append no longer matters.
        state.failure = null;
        state.poisoned = null;
      } catch (error) {
        failure = this.describe(error, file);
      }
      this.complete(done, failure);
    });
  }

  size(file: string): number | null {
    // Asked mostly of blocks about to be written, so absence is the common answer: no exception for it.
    return fs.statSync(this.pathOf(file), { throwIfNoEntry: false })?.size ?? null;
  }

  readRange(file: string, offset: number, length: number): Uint8Array | null {
    try {
      return readRangeSync(this.pathOf(file), offset, length);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return null;
      throw error;
    }
  }

  readRangeLater(file: string, offset: number, length: number, done: object): void {
    readRangeAsync(this.pathOf(file), offset, length).then(
      (data) => this.deliver({ ...done, data }),
      (error: NodeJS.ErrnoException) => this.deliver({ ...done, data: null, ...(error.code === 'ENOENT' ? {} : { error: `${error.code ?? 'error'} reading ${file}: ${error.message}` }) }),
    );
  }

  read(file: string): Uint8Array | null {
    const path = this.pathOf(file);
    try {
      const bytes = fs.readFileSync(path);
      return new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return null;
      throw error;
    }
  }

  remove(file: string): void {
    const state = this.stateOf(file);
    takeBuffer(state);
    state.exists = false;
    this.enqueue(state, () =>
      this.remembering(state, async () => {
        await this.closeHandle(file);
        try {
          await this.fs.unlink(state.path);
        } catch (error) {
          if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
          return;
        }
        this.dirtyFolders.add(dirname(state.path));
      }),
    );
  }

  list(prefix: string): string[] {
    this.checkOpen();
    checkPrefix(prefix);
    const slash = prefix.lastIndexOf('/');
    const folder = slash < 0 ? '' : prefix.slice(0, slash);
    const names = new Set(walk(this.root, folder).filter((name) => name.startsWith(prefix) && !name.includes(TEMPORARY_MARK)));
    // Queued work the disk does not show yet: a file appended to but not written, or removed but not unlinked.
    for (const state of this.files.values()) {
      if (!state.name.startsWith(prefix) || state.exists === null) continue;
      if (state.exists) names.add(state.name);
      else names.delete(state.name);
    }
    return [...names].sort();
  }

  /** Resolves once every queued operation has run (buffered appends without a sync are not queued). */
  idle(): Promise<void> {
    if (this.runningFiles === 0) return Promise.resolve();
    return new Promise((resolvePromise) => this.idleWaiters.push(resolvePromise));
  }

  /** Waits for queued operations, then closes every open file. Later calls are refused. */
  async close(): Promise<void> {
    await this.idle();
    this.closed = true;
    const handles = [...this.handles.values()];
    this.handles.clear();
    await Promise.all(handles.map((handle) => this.closeOpenFile(handle)));
  }

  // ---------------------------------------------------------------- queue

  private stateOf(file: string): FileState {
    this.checkOpen();
    let state = this.files.get(file);
    if (!state) {
      state = { name: file, path: this.pathOf(file), buffer: [], operations: [], running: false, exists: null, failure: null, poisoned: null };
      this.files.set(file, state);
    }
    return state;
  }

  private enqueue(state: FileState, operation: () => Promise<void>): void {
    state.operations.push(operation);
    if (!state.running) void this.run(state);
  }

  private async run(state: FileState): Promise<void> {
    state.running = true;
    this.runningFiles++;
    for (let operation = state.operations.shift(); operation; operation = state.operations.shift()) await operation();
    state.running = false;
    this.runningFiles--;
    // Forget idle files so the map stays as small as the work in progress; failures must be kept to be reported.
    if (state.buffer.length === 0 && state.failure === null && state.poisoned === null) this.files.delete(state.name);
    else if (state.buffer.length === 0) state.exists = null;
    if (this.runningFiles === 0) for (const wake of this.idleWaiters.splice(0)) wake();
  }

  /** Runs a queued operation that has no completion of its own; its failure is reported by the next sync of the file. */
  private async remembering(state: FileState, operation: () => Promise<void>): Promise<void> {
    try {
      await operation();
    } catch (error) {
      state.failure ??= this.describe(error, state.name);
    }
  }

  private complete(done: unknown, failure: Failure | null): void {
    if (this.closed) return;
    if (failure === null) return this.deliver(done);
    const message: StorageFailedMessage = { type: 'storage.failed', done, code: failure.code, message: failure.message };
    this.deliver(message);
  }

  // ---------------------------------------------------------------- disk work

  private async writeBatch(state: FileState, handle: OpenFile, batch: Uint8Array[]): Promise<void> {
    const before = handle.length;
    try {
      const rest = (await this.directDescriptor(state, handle, batch)) === null ? batch : await this.writeDirect(handle, batch);
      if (rest.length > 0) handle.length += await this.writeChunks(handle.fd, rest);
    } catch (error) {
      // Cut a partial write back, so later appends do not land behind garbage that recovery would cut off with them.
      try {
        await this.fs.ftruncate(handle.fd, before);
      } catch {
        state.poisoned = this.describe(error, state.name);
      }
      throw error;
    }
  }

  private async fdatasync(state: FileState, handle: OpenFile): Promise<void> {
    try {
      await this.fs.fdatasync(handle.fd);
    } catch (error) {
      // After a failed fdatasync the kernel may have dropped the dirty pages: nothing about the file can be trusted.
      state.poisoned = this.describe(error, state.name);
      throw error;
    }
  }

  /** The O_DIRECT descriptor to write `batch` with, or null when it goes through the page cache. */
  private async directDescriptor(state: FileState, handle: OpenFile, batch: readonly Uint8Array[]): Promise<number | null> {
    if (!this.directWorks || !this.isDirect(state.name) || handle.length % directAlignment !== 0) return null;
    if (byteLengthOf(batch) % directAlignment !== 0) return null;
    if (handle.direct === undefined) {
      try {
        handle.direct = await this.fs.openDirect(state.path);
      } catch (error) {
        handle.direct = null;
        if ((error as NodeJS.ErrnoException).code === 'EINVAL') this.directWorks = false;
      }
    }
    return handle.direct;
  }

  /**
   * Write `chunks` at the end of the file through the staging buffer and the O_DIRECT
   * descriptor; returns what is left when the disk took fewer bytes than asked (a full
   * disk, say), for the page-cache path to write or to fail on with the right error.
   */
  private writeDirect(handle: OpenFile, chunks: readonly Uint8Array[]): Promise<readonly Uint8Array[]> {
    const turn = this.stagingTurn.then(async () => {
      const staging = (this.staging ??= new Uint8Array(new WebAssembly.Memory({ initial: stagingPages }).buffer));
      let rest: readonly Uint8Array[] = chunks;
      while (rest.length > 0) {
        const filled = copyStart(rest, staging);
        let written: number;
        try {
          written = await this.fs.pwrite(handle.direct!, staging, filled, handle.length);
        } catch (error) {
          if ((error as NodeJS.ErrnoException).code !== 'EINVAL') throw error;
          // The file system opened the file for O_DIRECT but wants other alignment: use the page cache from now on.
          this.directWorks = false;
          return rest;
        }
        handle.length += written;
        rest = skipBytes(rest, written);
        if (written < filled) return rest;
      }
      return [];
    });
    this.stagingTurn = turn.catch(() => undefined);
    return turn;
  }

  /** Write the chunks end to end with as few calls as the kernel allows (no joined copy); returns the bytes written. */
  private async writeChunks(fd: number, chunks: readonly Uint8Array[]): Promise<number> {
    let total = 0;
    let rest = chunks.slice();
    while (rest.length > 0) {
      // Linux takes at most 1024 buffers per writev.
      let written = await this.fs.writev(fd, rest.slice(0, 1024));
      total += written;
      let index = 0;
      while (index < rest.length && written >= rest[index]!.byteLength) written -= rest[index++]!.byteLength;
      rest = rest.slice(index);
      if (written > 0) rest[0] = rest[0]!.subarray(written);
    }
    return total;
  }

  /** Write a temporary file, sync it, rename it over the file and sync the folder. */
  private async replace(state: FileState, chunks: readonly Uint8Array[]): Promise<void> {
    const folder = dirname(state.path);
    await this.ensureFolder(folder);
    const temporary = `${state.path}${TEMPORARY_MARK}${this.nextTemporary++}`;
    let fd: number | null = null;
    try {
      fd = await this.fs.open(temporary, 'wx');
      await this.writeChunks(fd, chunks);
      await this.fs.fsync(fd);
      await this.fs.close(fd);
      fd = null;
      // An open descriptor would keep writing to the replaced file.
      await this.closeHandle(state.name);
      await this.fs.rename(temporary, state.path);
      this.dirtyFolders.add(folder);
      await this.syncDirtyFolders();
    } catch (error) {
      if (fd !== null) await this.fs.close(fd).catch(() => undefined);
      await this.fs.unlink(temporary).catch(() => undefined);
      throw error;
    }
  }

  /** The file's descriptor, opened to append (and created) when not cached. Marked busy until released. */
  private async acquire(state: FileState): Promise<OpenFile> {
    const cached = this.handles.get(state.name);
    if (cached) {
      this.handles.delete(state.name);
      this.handles.set(state.name, cached);
      cached.busy = true;
      return cached;
    }
    await this.evictIfFull();
    const folder = dirname(state.path);
    await this.ensureFolder(folder);
    let fd: number;
    try {
      fd = await this.fs.open(state.path, 'ax');
      this.dirtyFolders.add(folder);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      fd = await this.fs.open(state.path, 'a');
    }
    const handle: OpenFile = { fd, direct: undefined, length: 0, busy: true };
    try {
      handle.length = await this.fs.size(fd);
    } catch (error) {
      await this.fs.close(fd).catch(() => undefined);
      throw error;
    }
    this.handles.set(state.name, handle);
    return handle;
  }

  private async evictIfFull(): Promise<void> {
    if (this.handles.size < this.openFilesMax) return;
    for (const [name, handle] of this.handles) {
      if (handle.busy) continue;
      this.handles.delete(name);
      await this.closeOpenFile(handle);
      return;
    }
    // Every cached file is in the middle of an operation: go over the limit briefly rather than wait.
  }

  private async closeHandle(name: string): Promise<void> {
    const handle = this.handles.get(name);
    if (!handle) return;
    this.handles.delete(name);
    await this.closeOpenFile(handle);
  }

  private async closeOpenFile(handle: OpenFile): Promise<void> {
    // A close error changes nothing for durability: written bytes were reported by write, synced ones by fdatasync.
    await this.fs.close(handle.fd).catch(() => undefined);
    if (typeof handle.direct === 'number') await this.fs.close(handle.direct).catch(() => undefined);
  }

  /** Create a folder and its parents; the folders holding new ones become dirty, so their names get synced. */
  private async ensureFolder(folder: string): Promise<void> {
    if (this.knownFolders.has(folder)) return;
    const first = await this.fs.mkdir(folder);
    if (first !== undefined) {
      for (let created = folder; ; created = dirname(created)) {
        this.dirtyFolders.add(dirname(created));
        if (created === first || created === dirname(created)) break;
      }
    }
    this.knownFolders.add(folder);
  }

  /**
   * Fsync every dirty folder. Calls chain, so a completion is delivered only after the
   * folders marked before it are synced, even by another file's operation; a folder whose
   * sync failed stays dirty and the next call retries it.
   */
  private syncDirtyFolders(): Promise<void> {
    const previous = this.folderSync;
    const current = (async () => {
      await previous.catch(() => undefined);
      const folders = [...this.dirtyFolders];
      this.dirtyFolders.clear();
      for (let i = 0; i < folders.length; i++) {
        try {
          await this.syncFolder(folders[i]!);
        } catch (error) {
          for (const folder of folders.slice(i)) this.dirtyFolders.add(folder);
          throw error;
        }
      }
    })();
    this.folderSync = current;
    return current;
  }

  private async syncFolder(folder: string): Promise<void> {
    const fd = await this.fs.open(folder, 'r');
    try {
      await this.fs.fsync(fd);
    } finally {
      await this.fs.close(fd).catch(() => undefined);
    }
  }

  // ---------------------------------------------------------------- names and errors

  private pathOf(file: string): string {
    checkName(file);
    return join(this.root, ...file.split('/'));
  }

  private checkOpen(): void {
    if (this.closed) throw new Error(`storage in "${this.root}" is closed`);
  }

  private describe(error: unknown, file: string): Failure {
    const code = (error as NodeJS.ErrnoException | undefined)?.code;
    if (code === 'ENOSPC' || code === 'EDQUOT') {
      return { code: 'disk_full', message: `the disk holding data folder "${this.root}" is full (${code} while writing "${file}"): free space on it or move the data folder to a larger disk, then restart the node` };
    }
    const reason = error instanceof Error ? error.message : String(error);
    return { code: 'internal', message: `writing "${file}" in data folder "${this.root}" failed: ${reason}` };
  }
}

function byteLengthOf(chunks: readonly Uint8Array[]): number {
  return chunks.reduce((total, chunk) => total + chunk.byteLength, 0);
}

/** Copies the first bytes of `chunks` (end to end) into `target`, as many as fit; returns how many. */
function copyStart(chunks: readonly Uint8Array[], target: Uint8Array): number {
  let filled = 0;
  for (const chunk of chunks) {
    const taken = Math.min(chunk.byteLength, target.byteLength - filled);
    target.set(taken === chunk.byteLength ? chunk : chunk.subarray(0, taken), filled);
    filled += taken;
    if (filled === target.byteLength) break;
  }
  return filled;
}

/** `chunks` without their first `bytes` bytes. */
function skipBytes(chunks: readonly Uint8Array[], bytes: number): Uint8Array[] {
  const rest: Uint8Array[] = [];
  for (const chunk of chunks) {
    if (bytes >= chunk.byteLength) bytes -= chunk.byteLength;
    else {
      rest.push(bytes > 0 ? chunk.subarray(bytes) : chunk);
      bytes = 0;
    }
  }
  return rest;
}

function takeBuffer(state: FileState): Uint8Array[] | null {
  if (state.buffer.length === 0) return null;
  const chunks = state.buffer;
  state.buffer = [];
  return chunks;
}

/** A file name is relative, '/'-separated, with no empty, '.' or '..' segment: anything else is a bug in the caller. */
function checkName(file: string): void {
  if (typeof file !== 'string' || file.length === 0) throw new Error('storage file name must be a non-empty string');
  if (file.startsWith('/') || file.includes('\\') || file.includes('\0') || /^[A-Za-z]:/.test(file)) throw new Error(`storage file name must be relative with '/' separators: "${file}"`);
  if (file.split('/').some((segment) => segment === '' || segment === '.' || segment === '..')) throw new Error(`storage file name must not have empty, '.' or '..' segments: "${file}"`);
  if (file.includes(TEMPORARY_MARK)) throw new Error(`storage file name must not contain "${TEMPORARY_MARK}", reserved for temporary files: "${file}"`);
}

function checkPrefix(prefix: string): void {
  if (prefix.startsWith('/') || prefix.includes('\\') || prefix.includes('\0')) throw new Error(`storage list prefix must be relative with '/' separators: "${prefix}"`);
  if (prefix.split('/').some((segment) => segment === '..' || segment === '.')) throw new Error(`storage list prefix must not have '.' or '..' segments: "${prefix}"`);
}

/** Relative names ('a/b/c') of the files under `folder` of `root`, recursively; [] when it does not exist. */
function walk(root: string, folder: string): string[] {
  let entries: fs.Dirent[];
  try {
    entries = fs.readdirSync(folder === '' ? root : join(root, ...folder.split('/')), { withFileTypes: true });
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') return [];
    throw error;
  }
  return entries.flatMap((entry) => {
    const name = folder === '' ? entry.name : `${folder}/${entry.name}`;
    if (entry.isDirectory()) return walk(root, name);
    return entry.isFile() ? [name] : [];
  });
}
