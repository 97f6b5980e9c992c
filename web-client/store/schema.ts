// The IndexedDB schema of the browser replica. One database per cluster user holds the
// whole replica, so a reload (or a restart with no network) finds everything it needs:
//
//   files   path → the local entry and its bytes as a Blob (the tree mirror; a Blob stays
//           on disk in the browser's blob store, so a 4 GiB file is never in memory)
//   base    path → what local and remote last agreed on (the sync planner's third tree)
//   blocks  hash → a cached block, with its last use time for LRU eviction
//   outbox  the edits made here and not yet synced, in order, for display and recovery
//   meta    device id, clock counter, change cursor, block cache size, dismissed conflicts

import { openDB, type DBSchema, type IDBPDatabase } from 'idb';
import type { BaseEntry, LocalEntry } from '../../protocol/sync-tree.ts';

/** One path of the tree mirror. `blob` is absent for folders. */
export interface FileRecord {
  path: string;
  entry: LocalEntry;
  blob?: Blob;
}

export interface BaseRecord {
  path: string;
  entry: BaseEntry;
}

export interface CachedBlock {
  hash: string;
  data: Uint8Array;
  usedAtMs: number;
}

export type OutboxOperation = 'add' | 'edit' | 'delete' | 'rename' | 'folder';

/** One local edit waiting for a sync; `seq` orders them. */
export interface OutboxRecord {
  seq?: number;
  operation: OutboxOperation;
  path: string;
  /** The new path of a rename. */
  to?: string;
  atMs: number;
}

export interface RaftboxSchema extends DBSchema {
  files: { key: string; value: FileRecord };
  base: { key: string; value: BaseRecord };
  blocks: { key: string; value: CachedBlock; indexes: { usedAtMs: number } };
  outbox: { key: number; value: OutboxRecord };
  meta: { key: string; value: unknown };
}

export type RaftboxDb = IDBPDatabase<RaftboxSchema>;

export const schemaVersion = 1;

/** Opens (creating or upgrading) the replica database called `name`; tests use fake-indexeddb's global. */
export function openStore(name: string): Promise<RaftboxDb> {
  return openDB<RaftboxSchema>(name, schemaVersion, {
    upgrade(db) {
      db.createObjectStore('files', { keyPath: 'path' });
      db.createObjectStore('base', { keyPath: 'path' });
      const blocks = db.createObjectStore('blocks', { keyPath: 'hash' });
      blocks.createIndex('usedAtMs', 'usedAtMs');
      db.createObjectStore('outbox', { keyPath: 'seq', autoIncrement: true });
      db.createObjectStore('meta');
    },
  });
}

/** Asks the browser to keep this origin's storage under pressure; returns whether it agreed. */
export async function requestPersistentStorage(): Promise<boolean> {
  if (typeof navigator === 'undefined' || navigator.storage?.persist === undefined) return false;
  if (await navigator.storage.persisted()) return true;
  return navigator.storage.persist();
}
