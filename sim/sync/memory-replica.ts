// A sync replica held in memory: the device of the convergence test and of planner
// experiments. It behaves like a folder (files and folders, an executable bit, atomic
// replace) and keeps its base beside it, and it can be told to interfere with a sync in
// progress (edit a file between the engine's steps) to prove the engine never overwrites
// a local edit.

import { parentFolders } from '../../protocol/paths.ts';
import type { SyncReplica } from '../../protocol/sync-engine.ts';
import { sameContent, type BaseEntry, type BaseTree, type LocalEntry, type LocalTree, type RemoteEntry } from '../../protocol/sync-tree.ts';
import type { BlockRef, BlockUpload } from '../../protocol/wire.ts';
import { concatBytes } from '../../protocol/bytes.ts';

export interface MemoryItem {
  kind: 'file' | 'dir';
  data: Uint8Array;
  executable: boolean;
  mtime: number;
}

export interface MemoryReplicaOptions {
  /** Lowercase hex SHA-256, synchronous (the test passes node:crypto). */
  sha256: (bytes: Uint8Array) => string;
  /** Cuts file contents into blocks. */
  chunk: (data: Uint8Array) => Uint8Array[];
  /** Called before each change the engine makes, so a test can change files under it. */
  interfere?: (replica: MemoryReplica) => void;
}

export class MemoryReplica implements SyncReplica {
  readonly items = new Map<string, MemoryItem>();
  private base: BaseTree = new Map();
  private readonly entries = new WeakMap<MemoryItem, LocalEntry>();

  constructor(private readonly options: MemoryReplicaOptions) {}

  // ---------------------------------------------------------------- what a user does

  /** Writes a file, creating its parent folders like a user's editor would not (the test keeps folders explicit). */
  write(path: string, data: Uint8Array, executable = false, mtime = 0): void {
    this.items.set(path, { kind: 'file', data, executable, mtime });
  }

  makeDir(path: string): void {
    this.items.set(path, { kind: 'dir', data: new Uint8Array(0), executable: false, mtime: 0 });
  }

  /** Deletes a path and everything under it. */
  delete(path: string): void {
    for (const key of [...this.items.keys()]) if (key === path || key.startsWith(`${path}/`)) this.items.delete(key);
  }

  /** Moves a path and everything under it; false when `to` is taken. */
  move(from: string, to: string): boolean {
    if (this.items.has(to) || !this.items.has(from)) return false;
    for (const [key, item] of [...this.items]) {
      if (key !== from && !key.startsWith(`${from}/`)) continue;
      this.items.delete(key);
      this.items.set(to + key.slice(from.length), item);
    }
    return true;
  }

  // ---------------------------------------------------------------- SyncReplica

  /** Files hashed for the first time go to `early` too, as a folder's scan does. */
  async scan(early?: (path: string, blocks: BlockUpload[]) => Promise<void>): Promise<LocalTree> {
    const tree: LocalTree = new Map();
    for (const [path, item] of [...this.items]) {
      const fresh = !this.entries.has(item);
      const entry = this.entryOf(item);
      tree.set(path, entry);
      if (fresh && early !== undefined && item.kind === 'file') await early(path, this.options.chunk(item.data).map((data, index) => ({ hash: entry.blocks[index]!.hash, data: data.slice() })));
    }
    return tree;
  }

  async readBlock(path: string, offset: number, size: number): Promise<Uint8Array | null> {
    const item = this.items.get(path);
    if (item === undefined || item.kind !== 'file' || offset + size > item.data.length) return null;
    return item.data.slice(offset, offset + size);
  }

  async writeFile(path: string, remote: RemoteEntry, data: AsyncIterable<Uint8Array>, expect: LocalEntry | null): Promise<boolean> {
    const parts: Uint8Array[] = [];
    for await (const part of data) parts.push(part);
    this.options.interfere?.(this);
    // As on a disk: a folder still holding anything cannot become a file.
    if (!this.holds(path, expect) || this.hasChildren(path) || !this.makeParents(path)) return false;
    this.items.set(path, { kind: 'file', data: concatBytes(parts), executable: remote.executable, mtime: remote.mtime });
    return true;
  }

  async makeFolder(path: string, expect: LocalEntry | null): Promise<boolean> {
    this.options.interfere?.(this);
    if (!this.holds(path, expect) || !this.makeParents(path)) return false;
    this.makeDir(path);
    return true;
  }

  async remove(path: string, expect: LocalEntry): Promise<boolean> {
    this.options.interfere?.(this);
    if (!this.holds(path, expect)) return false;
    if (expect.kind === 'dir' && [...this.items.keys()].some((key) => key.startsWith(`${path}/`))) return false;
    this.items.delete(path);
    return true;
  }

  async rename(from: string, to: string, expect: LocalEntry): Promise<boolean> {
    this.options.interfere?.(this);
    if (!this.holds(from, expect) || this.items.has(to) || !this.makeParents(to)) return false;
    return this.move(from, to);
  }

  async loadBase(): Promise<BaseTree> {
    return new Map(this.base);
  }

  async saveBase(updates: Map<string, BaseEntry | null>): Promise<void> {
    for (const [path, entry] of updates) {
      if (entry === null) this.base.delete(path);
      else this.base.set(path, entry);
    }
  }

  // ---------------------------------------------------------------- helpers

  /** Makes the missing folders above `path`, as `mkdir -p` does; false when one of them is a file. */
  private makeParents(path: string): boolean {
    const parents = parentFolders(path);
    if (parents.some((parent) => this.items.get(parent)?.kind === 'file')) return false;
    for (const parent of parents) if (!this.items.has(parent)) this.makeDir(parent);
    return true;
  }

  private hasChildren(path: string): boolean {
    for (const key of this.items.keys()) if (key.startsWith(`${path}/`)) return true;
    return false;
  }

  /** Whether `path` holds what `expect` describes (nothing, for null). */
  private holds(path: string, expect: LocalEntry | null): boolean {
    const item = this.items.get(path);
    if (item === undefined || expect === null) return item === undefined && expect === null;
    return sameContent(this.entryOf(item), expect);
  }

  // Items are replaced, never mutated, so an item's entry can be cached.
  private entryOf(item: MemoryItem): LocalEntry {
    let entry = this.entries.get(item);
    if (entry === undefined) {
      const blocks: BlockRef[] = item.kind === 'dir' ? [] : this.options.chunk(item.data).map((piece) => ({ hash: this.options.sha256(piece), size: piece.length }));
      entry = { kind: item.kind, blocks, size: item.kind === 'dir' ? 0 : item.data.length, mtime: item.mtime, executable: item.kind === 'file' && item.executable };
      this.entries.set(item, entry);
    }
    return entry;
  }
}
