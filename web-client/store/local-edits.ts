// Edits the user makes in the page: add or replace a file, make a folder, delete, rename.
// Each lands in the tree mirror at once (so it works offline), advances the path's vector
// clock for this device, and is listed in the outbox until a sync carries it. Contents
// stay in IndexedDB as Blobs until they are uploaded, and after, as the local replica.

import { incrementClock, mergeClocks } from '../../protocol/vector-clock.ts';
import { normalizePath } from '../../protocol/paths.ts';
import type { LocalEntry } from '../../protocol/sync-tree.ts';
import type { BlockRef, VectorClock } from '../../protocol/wire.ts';
import { recordEdit } from './outbox.ts';
import type { IDBPTransaction } from 'idb';
import type { FileRecord, RaftboxDb, RaftboxSchema } from './schema.ts';

export interface EditContext {
  db: RaftboxDb;
  device: string;
  now(): number;
}

type Tx = IDBPTransaction<RaftboxSchema, ('files' | 'base')[], 'readwrite'>;

// The clock of a new local version of `path`: whatever this replica saw there, plus one edit.
async function nextClock(tx: Tx, path: string, device: string): Promise<VectorClock> {
  const current = await tx.objectStore('files').get(path);
  const base = await tx.objectStore('base').get(path);
  return incrementClock(mergeClocks(current?.entry.clock ?? {}, base?.entry.clock ?? {}), device);
}

function parentsOf(path: string): string[] {
  const parts = path.split('/');
  return parts.slice(1).map((_, index) => parts.slice(0, index + 1).join('/'));
}

// Folders above a new path, made where missing, as a disk would have them.
async function ensureParents(tx: Tx, path: string, context: EditContext): Promise<void> {
  for (const folder of parentsOf(path)) {
    const existing = await tx.objectStore('files').get(folder);
    if (existing?.entry.kind === 'dir') continue;
    if (existing !== undefined) throw new Error(`"${folder}" is a file, so it cannot hold "${path}".`);
    const clock = await nextClock(tx, folder, context.device);
    await tx.objectStore('files').put({ path: folder, entry: { kind: 'dir', blocks: [], size: 0, mtime: context.now(), executable: false, clock } });
  }
}

/**
 * Stores `blob` at `path` (adding or replacing a file) with the blocks the hash pool
 * found for it. Returns the new entry.
 */
export async function putFile(context: EditContext, path: string, blob: Blob, blocks: BlockRef[], mtimeMs?: number): Promise<LocalEntry> {
  const normal = normalizePath(path);
  const size = blocks.reduce((sum, block) => sum + block.size, 0);
  if (size !== blob.size) throw new Error(`The blocks of "${normal}" add up to ${size} bytes, but the file has ${blob.size}.`);
  const tx = context.db.transaction(['files', 'base'], 'readwrite');
  await ensureParents(tx, normal, context);
  const existing = await tx.objectStore('files').get(normal);
  if (existing?.entry.kind === 'dir') throw new Error(`"${normal}" is a folder; a file cannot replace it.`);
  const clock = await nextClock(tx, normal, context.device);
  const entry: LocalEntry = { kind: 'file', blocks, size, mtime: mtimeMs ?? context.now(), executable: false, clock };
  await tx.objectStore('files').put({ path: normal, entry, blob });
  await tx.done;
  await recordEdit(context.db, existing === undefined ? 'add' : 'edit', normal, context.now());
  return entry;
}

/** Makes a folder at `path` (and its parents); nothing happens when it exists. */
export async function makeFolder(context: EditContext, path: string): Promise<void> {
  const normal = normalizePath(path);
  const tx = context.db.transaction(['files', 'base'], 'readwrite');
  await ensureParents(tx, `${normal}/x`, context);
  await tx.done;
  await recordEdit(context.db, 'folder', normal, context.now());
}

async function withChildren(tx: Tx, path: string): Promise<FileRecord[]> {
  const all = await tx.objectStore('files').getAll();
  return all.filter((record) => record.path === path || record.path.startsWith(`${path}/`));
}

/** Deletes `path`, and everything in it when it is a folder. */
export async function removePath(context: EditContext, path: string): Promise<void> {
  const normal = normalizePath(path);
  const tx = context.db.transaction(['files', 'base'], 'readwrite');
  const doomed = await withChildren(tx, normal);
  if (doomed.length === 0) throw new Error(`There is nothing at "${normal}" to delete.`);
  for (const record of doomed) await tx.objectStore('files').delete(record.path);
  await tx.done;
  await recordEdit(context.db, 'delete', normal, context.now());
}

/** Renames `from` to `to` (a folder with everything in it); `to` must not exist. */
export async function renamePath(context: EditContext, from: string, to: string): Promise<void> {
  const source = normalizePath(from);
  const target = normalizePath(to);
  if (target === source || target.startsWith(`${source}/`)) throw new Error(`"${source}" cannot be moved into itself.`);
  const tx = context.db.transaction(['files', 'base'], 'readwrite');
  const files = tx.objectStore('files');
  if ((await files.get(target)) !== undefined) throw new Error(`"${target}" already exists; pick another name.`);
  const moving = await withChildren(tx, source);
  if (moving.length === 0) throw new Error(`There is nothing at "${source}" to rename.`);
  await ensureParents(tx, target, context);
  for (const record of moving) {
    const path = target + record.path.slice(source.length);
    await files.delete(record.path);
    await files.put({ ...record, path });
  }
  await tx.done;
  await recordEdit(context.db, 'rename', source, context.now(), target);
}
