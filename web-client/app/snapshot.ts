// One consistent read of the replica for drawing the page: every path with its local
// entry, what it last agreed with the cluster, and its state (synced, pending, conflict).

import { sameContent, type BaseEntry, type LocalEntry } from '../../protocol/sync-tree.ts';
import { dismissedConflicts } from '../store/meta.ts';
import { pendingEdits } from '../store/outbox.ts';
import type { RaftboxDb } from '../store/schema.ts';
import { originalOfCopy } from '../sync/conflict-stamp.ts';

export type FileState = 'synced' | 'pending' | 'conflict';

export interface Row {
  path: string;
  entry: LocalEntry;
  base: BaseEntry | null;
  state: FileState;
}

/** A conflict still waiting for the user: the cluster's version and this device's copy. */
export interface OpenConflict {
  original: string;
  copy: string;
}

export interface Snapshot {
  rows: Map<string, Row>;
  conflicts: OpenConflict[];
  pendingEdits: number;
}

/** Reads the replica and works out each path's state. */
export async function readSnapshot(db: RaftboxDb): Promise<Snapshot> {
  const [files, bases, dismissed, edits] = await Promise.all([db.getAll('files'), db.getAll('base'), dismissedConflicts(db), pendingEdits(db)]);
  const base = new Map(bases.map((record) => [record.path, record.entry]));
  const present = new Set(files.map((record) => record.path));
  const conflicts: OpenConflict[] = [];
  for (const path of present) {
    const original = originalOfCopy(path);
    if (original !== null && present.has(original) && !dismissed.has(path)) conflicts.push({ original, copy: path });
  }
  const conflicted = new Set(conflicts.flatMap((conflict) => [conflict.original, conflict.copy]));
  const rows = new Map<string, Row>();
  for (const record of files) {
    const agreed = base.get(record.path) ?? null;
    const synced = agreed !== null && sameContent(record.entry, agreed);
    const state: FileState = conflicted.has(record.path) ? 'conflict' : synced ? 'synced' : 'pending';
    rows.set(record.path, { path: record.path, entry: record.entry, base: agreed, state });
  }
  addImplicitFolders(rows);
  return { rows, conflicts, pendingEdits: edits.length };
}

const stateRank: Record<FileState, number> = { synced: 0, pending: 1, conflict: 2 };

// A file written by another client may sit in a folder that has no record of its own;
// such folders are shown anyway, with the most pressing state of what they hold.
function addImplicitFolders(rows: Map<string, Row>): void {
  for (const row of [...rows.values()]) {
    const parts = row.path.split('/');
    for (let depth = parts.length - 1; depth > 0; depth--) {
      const folder = parts.slice(0, depth).join('/');
      const existing = rows.get(folder);
      if (existing === undefined) {
        rows.set(folder, { path: folder, entry: { kind: 'dir', blocks: [], size: 0, mtime: 0, executable: false }, base: null, state: row.state });
      } else if (existing.base === null && existing.entry.mtime === 0 && stateRank[row.state] > stateRank[existing.state]) {
        existing.state = row.state;
      }
    }
  }
}
