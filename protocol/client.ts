// The isomorphic Raftbox client: files in and out of a cluster over WebSockets, in any
// JavaScript host that supplies a `ClientRuntime`. Routing, retries and failover live in
// client-router.ts, block transfer in client-blocks.ts, live changes in client-watch.ts;
// this file is the API that puts them together.

import { blocksInOrder, downloadBlocks, eachBlock, fetchBlock, getsInFlightMax, missingBlocks, uploadBlocks, type PreparedBlock } from './client-blocks.ts';
import { ClusterRouter } from './client-router.ts';
import type { ClientRuntime } from './client-runtime.ts';
import { ChangeWatcher } from './client-watch.ts';
import { Chunker } from './fastcdc.ts';
import { isRaftboxError, raftboxError, type RaftboxError } from './errors.ts';
import { normalizePath, normalizePrefix } from './paths.ts';
import type { BlockHash, BlockRef, BlockUpload, ClusterMap, ClusterStatus, FileChange, FileInfo } from './wire.ts';

export { ConflictError } from './client-errors.ts';
export type { ClientRuntime, WebSocketLike } from './client-runtime.ts';
export type { ClusterMap, ClusterStatus, FileInfo } from './wire.ts';

/** How long one request may wait for its answer before it is retried elsewhere. */
export const requestTimeoutMsDefault = 10_000;
/** Most commits waiting for this client's commit in flight (commits of one session go one at a time). */
export const commitsWaitingMax = 1024;
/** The device a client names as the author of its writes when it is given none. */
export const deviceDefault = 'unknown-device';
/** Permission bits of files written through `writeFile`. */
export const fileModeDefault = 0o644;
/** `writeFileFrom` sends blocks in groups of about this many bytes… */
const streamGroupBytes = 16 * 1024 * 1024;
/** …with at most this many groups uploading at once, so a streamed file holds about 32 MiB of blocks. */
const streamGroupsInFlight = 2;

export interface ClientOptions {
  /** ws:// URLs of one or more nodes; the client learns the rest from the cluster map. */
  servers: string[];
  token?: string;
  /** Recorded as the author of this client's writes. */
  device?: string;
  runtime: ClientRuntime;
  requestTimeoutMs?: number;
}

/** Hashes of blocks this client remembers as stored in the cluster. */
const knownBlocksMax = 4096;

/** A set that forgets its oldest members past `sizeMax`. */
class BoundedSet<T> {
  private readonly items = new Set<T>();
  constructor(private readonly sizeMax: number) {}
  has(item: T): boolean {
    return this.items.has(item);
  }
  add(item: T): void {
    this.items.delete(item);
    this.items.add(item);
    if (this.items.size > this.sizeMax) this.items.delete(this.items.values().next().value as T);
  }
}

/** Creates a client; no connection is opened until the first request. */
export function createClient(options: ClientOptions): RaftboxClient {
  return new RaftboxClient(options);
}

/**
 * A connection to one Raftbox cluster. Metadata requests go to any node (followers
 * forward to the leader), blocks to their ring owners; failures are retried with backoff
 * on other nodes, and commits carry a session id and sequence number so a retried commit
 * is applied once. Non-retryable errors are thrown as `RaftboxError`; a refused
 * compare-and-set as a `ConflictError` whose `current` is the current record.
 */
export class RaftboxClient {
  /** This client's session id: random, so two clients never share one. */
  readonly sessionId: string;
  readonly device: string;
  private readonly runtime: ClientRuntime;
  private readonly router: ClusterRouter;
  private readonly watcher: ChangeWatcher;
  private seq = 0;
  private readonly knownBlocks = new BoundedSet<BlockHash>(knownBlocksMax);
  private commitChain: Promise<void> = Promise.resolve();
  /** Whether this client has not seen `hash` stored: only such blocks are asked about and sent. */
  private readonly unseen = (hash: BlockHash): boolean => !this.knownBlocks.has(hash);
  private commitsWaiting = 0;

  constructor(options: ClientOptions) {
    this.runtime = options.runtime;
    this.device = options.device ?? deviceDefault;
    this.sessionId = randomSessionId(options.runtime);
    this.router = new ClusterRouter({
      servers: options.servers,
      runtime: options.runtime,
      device: this.device,
      requestTimeoutMs: options.requestTimeoutMs ?? requestTimeoutMsDefault,
      ...(options.token === undefined ? {} : { token: options.token }),
    });
    this.watcher = new ChangeWatcher(this.router);
  }

  /** Reaches a node (retrying over the servers given) and returns the cluster map it knows. */
  cluster(): Promise<ClusterMap> {
    return this.router.refreshMap();
  }

  /**
   * Stores `data` at `path` as a new version and returns its number. Only blocks the
   * cluster lacks are uploaded. With `ifVersion`, the write happens only if the current
   * version is that one (0: only if the path does not exist or is deleted); otherwise it
   * throws a `ConflictError`. Throws `bad_path` before sending anything for a bad path.
   */
  async writeFile(path: string, data: Uint8Array, options: { ifVersion?: number } = {}): Promise<{ version: number }> {
    const normal = normalizePath(path);
    if (!(data instanceof Uint8Array)) throw raftboxError('bad_message', `writeFile needs the contents of ${normal} as a Uint8Array, got ${typeof data}`);
    checkVersion('ifVersion', options.ifVersion, 0);
    const refs: BlockRef[] = [];
    await this.sendInGroups(eachBlock(data), (ref) => refs.push(ref), this.unseen, (group) => this.storeBlocks(group), (block) => block);
    const change = this.contentChange(normal, refs, data.length, options.ifVersion);
    const written = await this.commitRepairing([change], async (lost) => {
      const again: PreparedBlock[] = [];
      let offset = 0;
      for (const ref of refs) {
        if (lost.has(ref.hash)) again.push({ ...ref, data: data.subarray(offset, offset + ref.size) });
        offset += ref.size;
      }
      await this.putBlocks(again);
    });
    return { version: versionOf(written, normal) };
  }

  /**
   * Stores what `read()` yields at `path` as a new version, as `writeFile` does, without
   * ever holding the whole file: the pieces are cut into blocks as they come, and at most
   * `streamGroupsInFlight` groups of about `streamGroupBytes` wait for their upload at a
   * time. The pieces may be reused by the caller once the next one is asked for. `read` is
   * called once more only if the cluster lost some blocks between their upload and the
   * commit, to send those again. Returns the version and the size written.
   */
  async writeFileFrom(path: string, read: () => AsyncIterable<Uint8Array>, options: { ifVersion?: number } = {}): Promise<{ version: number; size: number }> {
    const normal = normalizePath(path);
    checkVersion('ifVersion', options.ifVersion, 0);
    const refs: BlockRef[] = [];
    const size = await this.streamBlocks(read, (ref) => refs.push(ref), this.unseen, (group) => this.storeBlocks(group));
    const change = this.contentChange(normal, refs, size, options.ifVersion);
    const written = await this.commitRepairing([change], async (lost) => {
      const again = await this.streamBlocks(read, () => undefined, (hash) => lost.has(hash), (group) => this.putBlocks(group));
      if (again !== size) throw raftboxError('conflict', `${normal} changed while it was being stored (${size} bytes, then ${again}); store it again`);
    });
    return { version: versionOf(written, normal), size };
  }

  // Uploads those of `blocks` the cluster lacks and remembers them all as stored. Blocks
  // this client saw stored need no `blocks.has` round trip; should one have vanished
  // since, the commit names it and commitRepairing uploads it again.
  private async storeBlocks(blocks: PreparedBlock[]): Promise<void> {
    const missing = await this.missingBlocks(blocks.map((block) => block.hash));
    if (missing.size > 0) await this.putBlocks(blocks.filter((block) => missing.has(block.hash)));
    for (const block of blocks) this.knownBlocks.add(block.hash);
  }

  // A new version of `path` with these blocks, compare-and-set on `ifVersion` when given.
  private contentChange(path: string, blocks: BlockRef[], size: number, ifVersion: number | undefined): FileChange {
    return {
      path,
      ...(ifVersion === undefined ? {} : { ifVersion }),
      deleted: false,
      blocks,
      size,
      mtime: this.runtime.now(),
      mode: fileModeDefault,
    };
  }

  // Cuts what `read()` yields into blocks and hands them to sendInGroups. Returns the bytes read.
  private async streamBlocks(
    read: () => AsyncIterable<Uint8Array>,
    named: (ref: BlockRef) => void,
    wanted: (hash: BlockHash) => boolean,
    send: (group: PreparedBlock[]) => Promise<void>,
  ): Promise<number> {
    const chunker = new Chunker();
    let size = 0;
    async function* chunks(): AsyncGenerator<Uint8Array> {
      for await (const piece of read()) {
        size += piece.length;
        yield* chunker.push(piece);
      }
      yield* chunker.finish();
    }
    // A chunk may be a view of the caller's piece, which it may reuse: the group keeps a
    // copy (made by the constructor: a Node Buffer's slice() would be another view).
    await this.sendInGroups(chunks(), named, wanted, send, (chunk) => new Uint8Array(chunk));
    return size;
  }

  // Names each of `chunks` (`named`, in order) and hands those `wanted` picks to `send`,
  // each once, in groups of about streamGroupBytes with at most streamGroupsInFlight
  // unsettled: the next chunks are cut and hashed while earlier groups upload. A group
  // holds `keep(chunk)`.
  private async sendInGroups(
    chunks: Iterable<Uint8Array> | AsyncIterable<Uint8Array>,
    named: (ref: BlockRef) => void,
    wanted: (hash: BlockHash) => boolean,
    send: (group: PreparedBlock[]) => Promise<void>,
    keep: (chunk: Uint8Array) => Uint8Array,
  ): Promise<void> {
    const inFlight = new Set<Promise<void>>();
    const grouped = new Set<BlockHash>();
    let group: PreparedBlock[] = [];
    let groupBytes = 0;
    const flush = async (): Promise<void> => {
      const sending = send(group);
      group = [];
      groupBytes = 0;
      const settled = sending.finally(() => inFlight.delete(settled));
      settled.catch(() => undefined); // observed below or by a race; never an unhandled rejection meanwhile
      inFlight.add(settled);
      while (inFlight.size >= streamGroupsInFlight) await Promise.race(inFlight);
    };
    try {
      for await (const chunk of chunks) {
        const hash = await this.runtime.sha256(chunk);
        named({ hash, size: chunk.length });
        if (!wanted(hash) || grouped.has(hash)) continue;
        grouped.add(hash);
        group.push({ hash, size: chunk.length, data: keep(chunk) });
        groupBytes += chunk.length;
        if (groupBytes >= streamGroupBytes) await flush();
      }
      if (group.length > 0) await flush();
    } catch (error) {
      // The groups already sent settle before the error is passed on, so nothing runs on after it.
      await Promise.allSettled(inFlight);
      throw error;
    }
    await Promise.all(inFlight);
  }

  /**
   * Reads the current version of `path`, or the given `version`, with every block's hash
   * checked; null when the path does not exist or that version is a delete.
   */
  async readFile(path: string, options: { version?: number } = {}): Promise<{ version: number; data: Uint8Array } | null> {
    const info = await this.stat(path, options);
    if (info === null || info.deleted) return null;
    const data = await downloadBlocks(this.router, info.blocks);
    if (data.length !== info.size) throw sizeMismatch(info, data.length);
    return { version: info.version, data };
  }

  /**
   * Like `readFile`, but the content comes as its blocks, in order and each checked,
   * fetched `getsInFlightMax` ahead: a file of any size can be written out with only a
   * few blocks in memory. Null when the path does not exist or that version is a delete.
   * Like `readFile`, the stream throws `hash_mismatch` at its end if the blocks do not add
   * up to the file's size.
   */
  async readFileBlocks(path: string, options: { version?: number } = {}): Promise<{ info: FileInfo; blocks: AsyncGenerator<Uint8Array> } | null> {
    const info = await this.stat(path, options);
    if (info === null || info.deleted) return null;
    return { info, blocks: this.checkedBlocks(info) };
  }

  private async *checkedBlocks(info: FileInfo): AsyncGenerator<Uint8Array> {
    let size = 0;
    for await (const block of blocksInOrder(info.blocks, getsInFlightMax, (ref) => fetchBlock(this.router, ref))) {
      size += block.length;
      yield block;
    }
    if (size !== info.size) throw sizeMismatch(info, size);
  }

  /** The record of `path` (of `version`, if given), or null when it does not exist. Linearizable: served through the leader. */
  async stat(path: string, options: { version?: number } = {}): Promise<FileInfo | null> {
    const normal = normalizePath(path);
    checkVersion('version', options.version, 1);
    const { result } = await this.router.metadata({ op: 'stat', path: normal, version: options.version });
    return result;
  }

  /** Files whose path starts with `prefix`, live ones only unless `includeDeleted`. */
  async list(prefix = '', options: { includeDeleted?: boolean } = {}): Promise<FileInfo[]> {
    const includeDeleted = options.includeDeleted ?? false;
    const files: FileInfo[] = [];
    let after: string | undefined;
    // Page by page: one frame holds only so many records. Pages are separate reads, so a
    // path committed meanwhile may be missed or a deleted one still listed, as with any
    // paged listing; sync plans from the result and its compare-and-set catches the rest.
    for (;;) {
      const request = { op: 'list' as const, prefix: normalizePrefix(prefix), includeDeleted, ...(after === undefined ? {} : { after }) };
      const { result } = await this.router.metadata(request);
      files.push(...result.files);
      const last = result.files[result.files.length - 1];
      if (result.more !== true || last === undefined) break;
      after = last.path;
    }
    return includeDeleted ? files : files.filter((file) => !file.deleted);
  }

  /** Deletes `path` (a tombstone version), with the same `ifVersion` rule as `writeFile`. */
  async remove(path: string, options: { ifVersion?: number } = {}): Promise<{ version: number }> {
    const normal = normalizePath(path);
    checkVersion('ifVersion', options.ifVersion, 0);
    const change: FileChange = {
      path: normal,
      ...(options.ifVersion === undefined ? {} : { ifVersion: options.ifVersion }),
      deleted: true,
      blocks: [],
      size: 0,
      mtime: this.runtime.now(),
      mode: fileModeDefault,
    };
    return { version: versionOf(await this.commit([change]), normal) };
  }

  /**
   * Makes `version` of `path` current again as a new version with that version's blocks,
   * size, mode and kind (a folder record stays a folder, the executable bit is kept).
   * Nothing is downloaded or uploaded: the cluster keeps the blocks of every retained
   * version. Takes `ifVersion` like `writeFile`. Throws `unknown_version` when that version
   * is not retained or is a deletion.
   */
  async restore(path: string, version: number, options: { ifVersion?: number } = {}): Promise<{ version: number }> {
    const normal = normalizePath(path);
    checkVersion('version', version, 1);
    checkVersion('ifVersion', options.ifVersion, 0);
    const old = await this.stat(normal, { version });
    if (old === null) throw raftboxError('unknown_version', `${normal} has no version ${version}; raftbox history ${normal} lists the versions`, { path: normal });
    if (old.deleted) throw raftboxError('unknown_version', `version ${version} of ${normal} is a deletion; restore a version that has content (raftbox history ${normal} lists them)`, { path: normal });
    const change: FileChange = {
      path: normal,
      ...(options.ifVersion === undefined ? {} : { ifVersion: options.ifVersion }),
      deleted: false,
      blocks: old.blocks,
      size: old.size,
      mtime: this.runtime.now(),
      mode: old.mode,
    };
    try {
      return { version: versionOf(await this.commit([change]), normal) };
    } catch (error) {
      const missing = missingBlocksOf(error);
      if (missing === null) throw error;
      throw raftboxError('not_found', `version ${version} of ${normal} cannot be restored: ${missing.length} of its blocks are no longer stored on any node`, { path: normal, missing });
    }
  }

  /** Every retained version of `path`, newest first. */
  async history(path: string): Promise<FileInfo[]> {
    const { result } = await this.router.metadata({ op: 'history', path: normalizePath(path) });
    return [...result.versions].sort((a, b) => b.version - a.version);
  }

  /**
   * Changes after `cursor` (0: from the start of the feed) and the cursor to ask from
   * next. `reset` means the feed no longer reaches back to `cursor`: list everything, then
   * continue from the returned cursor.
   */
  async changes(cursor = 0, options: { limit?: number } = {}): Promise<{ changes: FileInfo[]; cursor: number; reset: boolean }> {
    checkVersion('cursor', cursor, 0);
    const { result } = await this.router.metadata({ op: 'changes', cursor, limit: options.limit });
    this.watcher.noteCursor(result.cursor);
    return result;
  }

  /**
   * Calls `onChange` with every file version committed from now on (or after the last
   * cursor this client saw), surviving node failures without missing any. Returns the
   * function that stops it.
   */
  watch(onChange: (info: FileInfo) => void): () => void {
    if (this.router.isClosed) throw raftboxError('unavailable', 'the client is closed; create a new one to watch');
    return this.watcher.subscribe(onChange);
  }

  /** The cluster's state, as `raftbox status --json` prints it. */
  async status(): Promise<ClusterStatus> {
    return (await this.router.metadata({ op: 'status' })).result;
  }

  /**
   * Commits `changes` atomically as one command of this client's session and returns the
   * versions written. Commits go one at a time, each with the next sequence number, so
   * the cluster applies each exactly once however often it is retried.
   */
  async commit(changes: FileChange[]): Promise<FileInfo[]> {
    const normal = changes.map((change) => ({ ...change, path: normalizePath(change.path) }));
    if (this.commitsWaiting >= commitsWaitingMax) {
      throw raftboxError('overloaded', `${commitsWaitingMax} commits already wait on this client; wait for some to finish`);
    }
    this.commitsWaiting++;
    const previous = this.commitChain;
    let release = (): void => undefined;
    this.commitChain = new Promise<void>((resolve) => (release = resolve));
    try {
      await previous;
      const seq = ++this.seq;
      const { result } = await this.router.metadata({ op: 'commit', client: this.sessionId, seq, device: this.device, changes: normal });
      return result.files;
    } finally {
      this.commitsWaiting--;
      release();
    }
  }

  /** Which of `hashes` the cluster does not hold (asked in batches; hashes this client saw stored are not asked again). */
  async missingBlocks(hashes: BlockHash[]): Promise<Set<BlockHash>> {
    const unknown = hashes.filter((hash) => !this.knownBlocks.has(hash));
    return unknown.length === 0 ? new Set() : missingBlocks(this.router, unknown);
  }

  /**
   * Stores blocks on their ring owners, small ones several to a request. The caller names
   * each: a block whose bytes do not hash to its name is refused with `hash_mismatch`.
   */
  async putBlocks(blocks: BlockUpload[]): Promise<void> {
    await uploadBlocks(this.router, blocks);
    for (const block of blocks) this.knownBlocks.add(block.hash);
  }

  /** Reads one block, with its hash and size checked. */
  async getBlock(ref: BlockRef): Promise<Uint8Array> {
    return fetchBlock(this.router, ref);
  }

  /** Closes every connection and stops every timer and watch; pending requests fail with `unavailable`. */
  async close(): Promise<void> {
    this.router.close();
  }

  // A block can vanish between `blocks.has` and the commit (collected, or its nodes lost);
  // the node then refuses with the missing hashes, which are uploaded again once.
  // `resend` uploads the lost blocks from wherever the caller has them.
  private async commitRepairing(changes: FileChange[], resend: (lost: Set<BlockHash>) => Promise<void>): Promise<FileInfo[]> {
    try {
      return await this.commit(changes);
    } catch (error) {
      const missing = missingBlocksOf(error);
      if (missing === null) throw error;
      await resend(new Set<BlockHash>(missing));
      return this.commit(changes);
    }
  }
}

/** The hashes a commit was refused for naming unstored blocks; null for any other error. */
function missingBlocksOf(error: unknown): BlockHash[] | null {
  const missing = isRaftboxError(error, 'not_found') ? error.details?.missing : undefined;
  return Array.isArray(missing) ? missing.filter((hash): hash is string => typeof hash === 'string') : null;
}

function sizeMismatch(info: FileInfo, actual: number): RaftboxError {
  return raftboxError('hash_mismatch', `${info.path} version ${info.version} should be ${info.size} bytes, but its blocks add up to ${actual}`, { path: info.path, version: info.version });
}

function versionOf(files: FileInfo[], path: string): number {
  const file = files.find((candidate) => candidate.path === path) ?? files[0];
  if (file === undefined) throw raftboxError('internal', `the commit of ${path} was acknowledged without the version it wrote`);
  return file.version;
}

function checkVersion(name: string, value: number | undefined, min: number): void {
  if (value === undefined || (Number.isSafeInteger(value) && value >= min)) return;
  throw raftboxError('bad_message', `${name} must be an integer of at least ${min}, got ${String(value)}`);
}

// 128 random bits as hex; the runtime's random() may be seeded (tests, simulator), which is fine for an id.
function randomSessionId(runtime: ClientRuntime): string {
  let id = '';
  for (let i = 0; i < 8; i++) id += Math.floor(runtime.random() * 0x10000).toString(16).padStart(4, '0');
  return id;
}
