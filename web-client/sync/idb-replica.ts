// The browser's SyncReplica: the shared sync engine (protocol/sync-engine.ts) reads and
// changes the IndexedDB tree mirror through it. Every change checks, inside the same
// transaction that makes it, that the path still holds what the plan expected, so an
// edit the user made while a sync ran is never overwritten.

import { parentFolders } from '../../protocol/paths.ts';
import type { SyncReplica } from '../../protocol/sync-engine.ts';
import { sameContent, type BaseEntry, type BaseTree, type LocalEntry, type LocalTree, type RemoteEntry } from '../../protocol/sync-tree.ts';
import type { FileRecord, RaftboxDb } from '../store/schema.ts';

/** Downloaded bytes gathered in memory before they join the file's Blob (which the browser may keep on disk). */
export const blobPartBytesMax = 16 * 1024 * 1024;

function matches(record: FileRecord | undefined, expect: LocalEntry | null): boolean {
  if (record === undefined || expect === null) return record === undefined && expect === null;
  return sameContent(record.entry, expect) && record.entry.size === expect.size;
}

function entryOf(remote: RemoteEntry): LocalEntry {
  return { kind: remote.kind, blocks: remote.blocks, size: remote.size, mtime: remote.mtime, executable: remote.executable };
}

/** Gathers a stream of byte arrays into one Blob, a bounded part at a time. */
export async function blobOf(data: AsyncIterable<Uint8Array>, type = ''): Promise<Blob> {
  let blob = new Blob([], { type });
  let parts: Uint8Array<ArrayBuffer>[] = [];
  let partBytes = 0;
  for await (const chunk of data) {
    parts.push(chunk as Uint8Array<ArrayBuffer>);
    partBytes += chunk.length;
    if (partBytes >= blobPartBytesMax) {
      blob = new Blob([blob, ...parts], { type });
      parts = [];
      partBytes = 0;
    }
  }
  return parts.length === 0 ? blob : new Blob([blob, ...parts], { type });
}

/** The IndexedDB replica over an open store. */
export class IdbReplica implements SyncReplica {
  constructor(private readonly db: RaftboxDb) {}

  async scan(): Promise<LocalTree> {
    const records = await this.db.getAll('files');
    return new Map(records.map((record) => [record.path, record.entry]));
  }

  async readBlock(path: string, offset: number, size: number): Promise<Uint8Array | null> {
    const record = await this.db.get('files', path);
    if (record?.blob === undefined || offset + size > record.blob.size) return null;
    return new Uint8Array(await record.blob.slice(offset, offset + size).arrayBuffer());
  }

  async writeFile(path: string, remote: RemoteEntry, data: AsyncIterable<Uint8Array>, expect: LocalEntry | null): Promise<boolean> {
    // Gather first: an IndexedDB transaction closes while a non-IndexedDB promise is awaited.
    const blob = await blobOf(data);
    if (blob.size !== remote.size) return false;
    return this.replaceIf(path, expect, { path, entry: entryOf(remote), blob });
  }

  async makeFolder(path: string, expect: LocalEntry | null): Promise<boolean> {
    return this.replaceIf(path, expect, { path, entry: { kind: 'dir', blocks: [], size: 0, mtime: Date.now(), executable: false } });
  }

  async remove(path: string, expect: LocalEntry): Promise<boolean> {
    const tx = this.db.transaction('files', 'readwrite');
    if (!matches(await tx.store.get(path), expect)) return false;
    await tx.store.delete(path);
    await tx.done;
    return true;
  }

  async rename(from: string, to: string, expect: LocalEntry): Promise<boolean> {
    const tx = this.db.transaction('files', 'readwrite');
    const record = await tx.store.get(from);
    if (!matches(record, expect) || (await tx.store.get(to)) !== undefined) return false;
    // A folder moves with everything in it, as on disk: every key that starts `from/`
    // (they sort between `from/` and `from0`, as '0' follows '/').
    const inside = record!.entry.kind === 'dir' ? await tx.store.getAll(IDBKeyRange.bound(`${from}/`, `${from}0`, false, true)) : [];
    for (const moving of [record!, ...inside]) {
      await tx.store.delete(moving.path);
      await tx.store.put({ ...moving, path: to + moving.path.slice(from.length) });
    }
    await tx.done;
    return true;
  }

  async loadBase(): Promise<BaseTree> {
    const records = await this.db.getAll('base');
    return new Map(records.map((record) => [record.path, record.entry]));
  }

  /**
   * Applies the updates to the base in one transaction. A local entry that now equals its
   * base sheds its own clock: the base's clock (the cluster's) describes it from here on.
   */
  async saveBase(updates: Map<string, BaseEntry | null>): Promise<void> {
    const tx = this.db.transaction(['base', 'files'], 'readwrite');
    const base = tx.objectStore('base');
    const files = tx.objectStore('files');
    for (const [path, entry] of updates) {
      if (entry === null) {
        await base.delete(path);
        continue;
      }
      await base.put({ path, entry });
      const record = await files.get(path);
      if (record?.entry.clock !== undefined && sameContent(record.entry, entry)) {
        const { clock: _clock, ...rest } = record.entry;
        await files.put({ ...record, entry: rest });
      }
    }
    await tx.done;
  }

  private async replaceIf(path: string, expect: LocalEntry | null, next: FileRecord): Promise<boolean> {
    const tx = this.db.transaction('files', 'readwrite');
    if (!matches(await tx.store.get(path), expect)) return false;
    // As on a disk: nothing goes inside a file, and a folder holding anything stays a folder.
    for (const folder of parentFolders(path)) if ((await tx.store.get(folder))?.entry.kind === 'file') return false;
    if (next.entry.kind === 'file' && (await tx.store.getKey(IDBKeyRange.bound(`${path}/`, `${path}0`, false, true))) !== undefined) return false;
    await tx.store.put(next);
    await tx.done;
    return true;
  }
}
