// The three trees the sync planner compares, and how a remote file record becomes a
// tree entry. Every sync host (the CLI on a folder, the browser on IndexedDB, the
// in-memory replicas of the convergence test) describes its files in these terms.
//
// A tree maps a normalized path (protocol/paths.ts) to what is there. Content identity
// is the list of block hashes plus the kind and the executable bit; mtime is carried
// along for display but never decides anything, because clocks on different devices
// disagree and copying a file changes it.

import { parentFolders } from './paths.ts';
import type { BlockRef, FileChange, FileInfo, VectorClock } from './wire.ts';

/** Mode bits of a folder record (S_IFDIR | rwxr-xr-x); a folder has no blocks. */
export const folderMode = 0o040755;
/** Mode of a plain file and of an executable one. */
export const fileMode = 0o644;
export const executableMode = 0o755;
const typeBitsMask = 0o170000;
const folderTypeBits = 0o040000;

export type EntryKind = 'file' | 'dir';

/** What one replica holds at one path. */
export interface SyncEntry {
  kind: EntryKind;
  /** File contents as blocks in order; empty for folders and 0-byte files. */
  blocks: BlockRef[];
  size: number;
  /** Milliseconds since the epoch; informative only. */
  mtime: number;
  /** Any execute bit set (always false for folders). */
  executable: boolean;
}

/**
 * A local entry. `clock` is the entry's vector clock when the host tracks one per edit
 * (the browser does, for edits made offline); without it the planner takes the base
 * clock advanced by this device whenever the entry differs from the base.
 */
export interface LocalEntry extends SyncEntry {
  clock?: VectorClock;
}

/** The cluster's current record of a path; `deleted` is a tombstone. */
export interface RemoteEntry extends SyncEntry {
  version: number;
  clock: VectorClock;
  deleted: boolean;
  device: string;
}

/** What local and remote last agreed on for a path: the version both had then. */
export interface BaseEntry extends SyncEntry {
  version: number;
  clock: VectorClock;
}

export type LocalTree = Map<string, LocalEntry>;
export type RemoteTree = Map<string, RemoteEntry>;
export type BaseTree = Map<string, BaseEntry>;

/** Whether `mode` (as stored in a file record) is a folder. */
export function isFolderMode(mode: number): boolean {
  return (mode & typeBitsMask) === folderTypeBits;
}

/** The mode a record of `entry` carries on the wire. */
export function modeOf(entry: SyncEntry): number {
  if (entry.kind === 'dir') return folderMode;
  return entry.executable ? executableMode : fileMode;
}

/** A file record as the planner sees it. */
export function remoteEntryOf(info: FileInfo): RemoteEntry {
  const kind: EntryKind = isFolderMode(info.mode) ? 'dir' : 'file';
  return {
    kind,
    blocks: kind === 'dir' ? [] : info.blocks,
    size: kind === 'dir' ? 0 : info.size,
    mtime: info.mtime,
    executable: kind === 'file' && (info.mode & 0o111) !== 0,
    version: info.version,
    clock: info.clock,
    deleted: info.deleted,
    device: info.device,
  };
}

/** The remote tree of a listing that includes tombstones. */
export function remoteTreeOf(files: readonly FileInfo[]): RemoteTree {
  const tree: RemoteTree = new Map(files.map((info) => [info.path, remoteEntryOf(info)]));
  // A record at a/b/c implies folders a and a/b even where no record names them (files
  // written with the SDK or `raftbox put` carry no folder records) or only a tombstone
  // does: to every replica they are folders, so the planner must see them as such. An
  // implied folder is at version 0, which no record has: a replica that recorded it sees
  // a change once the folder is implied no more, and a commit there expects "nothing or a
  // tombstone", which is what the cluster holds.
  for (const info of files) {
    if (info.deleted) continue;
    for (const parent of parentFolders(info.path).reverse()) {
      const there = tree.get(parent);
      if (there !== undefined && !there.deleted) break;
      tree.set(parent, { kind: 'dir', blocks: [], size: 0, mtime: 0, executable: false, version: 0, clock: {}, deleted: false, device: '' });
    }
  }
  return tree;
}

/** The base entry recorded once a replica holds the same content as `info`. */
export function baseEntryOf(info: FileInfo): BaseEntry {
  const { deleted: _deleted, device: _device, ...entry } = remoteEntryOf(info);
  return entry;
}

/** Same content: kind, executable bit and block list (sizes follow from the hashes). */
export function sameContent(a: SyncEntry, b: SyncEntry): boolean {
  if (a.kind !== b.kind || a.executable !== b.executable || a.blocks.length !== b.blocks.length) return false;
  for (let index = 0; index < a.blocks.length; index++) {
    if (a.blocks[index]!.hash !== b.blocks[index]!.hash) return false;
  }
  return true;
}

/** A key equal for two entries exactly when they hold the same bytes; used to match moves. */
export function contentKey(entry: Pick<SyncEntry, 'blocks'>): string {
  return entry.blocks.map((block) => block.hash).join(',');
}

/** The change that writes `entry` at `path`. */
export function changeOf(path: string, entry: SyncEntry, ifVersion: number, clock: VectorClock): FileChange {
  return { path, ifVersion, deleted: false, blocks: entry.blocks, size: entry.size, mtime: entry.mtime, mode: modeOf(entry), clock };
}

/** The tombstone change that deletes `path`. */
export function deletionOf(path: string, entry: SyncEntry, ifVersion: number, clock: VectorClock): FileChange {
  return { path, ifVersion, deleted: true, blocks: [], size: 0, mtime: entry.mtime, mode: modeOf(entry), clock };
}
