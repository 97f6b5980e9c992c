// What the buttons on a file do: download, rename, delete, edit text, history and
// restore, and settling a conflict. Local changes go through the same local-edit path as
// a drop (so they work offline), then ask for a sync.

import { fileModeDefault } from '../../protocol/client.ts';
import type { FileInfo } from '../../protocol/wire.ts';
import { blobOf } from '../sync/idb-replica.ts';
import { putFile, removePath, renamePath } from '../store/local-edits.ts';
import { dismissConflict } from '../store/meta.ts';
import type { Services } from './services.ts';

function context(services: Services) {
  return { db: services.db, device: services.device, now: () => Date.now() };
}

/** Saves a Blob under `name` through the browser's download, without reading it into memory. */
export function saveBlob(blob: Blob, name: string): void {
  const url = URL.createObjectURL(blob);
  const link = Object.assign(document.createElement('a'), { href: url, download: name });
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(url), 60_000);
}

/** The local bytes of `path`, or null for a folder or a path that is gone. */
export async function localBlob(services: Services, path: string): Promise<Blob | null> {
  return (await services.db.get('files', path))?.blob ?? null;
}

async function* blocksOf(services: Services, info: FileInfo): AsyncGenerator<Uint8Array> {
  for (const block of info.blocks) yield services.remote.getBlock(block);
}

type SavePicker = (options: { suggestedName: string }) => Promise<FileSystemFileHandle>;

/**
 * Downloads one version of a file from the cluster (through the block cache). Where the
 * browser can write straight to a file the user picks, blocks stream to disk one by one.
 */
export async function downloadVersion(services: Services, info: FileInfo, name: string): Promise<void> {
  const picker = (window as { showSaveFilePicker?: SavePicker }).showSaveFilePicker;
  if (picker !== undefined && info.size > 64 * 1024 * 1024) {
    const writable = await (await picker({ suggestedName: name })).createWritable();
    for await (const block of blocksOf(services, info)) await writable.write(block as Uint8Array<ArrayBuffer>);
    await writable.close();
    return;
  }
  saveBlob(await blobOf(blocksOf(services, info)), name);
}

/** Reads a version's bytes as a Blob (for previews of history). */
export function versionBlob(services: Services, info: FileInfo): Promise<Blob> {
  return blobOf(blocksOf(services, info));
}

/** Replaces the text of `path` with `text`, hashed in the pool like any added file. */
export async function saveText(services: Services, path: string, text: string): Promise<void> {
  const blob = new Blob([text], { type: 'text/plain' });
  await putFile(context(services), path, blob, await services.pool.hashFile(blob));
  services.sync.requestSync();
}

export async function renameFile(services: Services, from: string, to: string): Promise<void> {
  await renamePath(context(services), from, to);
  services.sync.requestSync();
}

export async function deleteFile(services: Services, path: string): Promise<void> {
  await removePath(context(services), path);
  services.sync.requestSync();
}

/**
 * Makes an old version current again: a new version with the old blocks, which the
 * cluster still holds because history keeps them. Refused if the file changed meanwhile.
 */
export async function restoreVersion(services: Services, info: FileInfo, currentVersion: number): Promise<void> {
  await services.client.commit([
    { path: info.path, ifVersion: currentVersion, deleted: false, blocks: info.blocks, size: info.size, mtime: Date.now(), mode: info.mode || fileModeDefault },
  ]);
  services.sync.requestSync();
}

/** Settles a conflict between `original` (the version the cluster kept) and `copy` (this device's). */
export async function settleConflict(services: Services, original: string, copy: string, choice: 'both' | 'mine' | 'theirs'): Promise<void> {
  if (choice === 'both') return dismissConflict(services.db, copy);
  if (choice === 'mine') {
    const record = await services.db.get('files', copy);
    if (record?.blob === undefined) throw new Error(`Your copy "${copy}" is no longer here.`);
    await putFile(context(services), original, record.blob, record.entry.blocks);
  }
  await removePath(context(services), copy);
  services.sync.requestSync();
}
