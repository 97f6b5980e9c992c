// The outbox: edits made in this browser and not yet synced, oldest first. The sync
// planner finds what to send by comparing the local tree with the base, so the outbox
// does not drive the sync; it tells the user what is pending (the "pending" state and
// the count on the page) and survives reloads. A sync that settles clears it.

import type { OutboxOperation, OutboxRecord, RaftboxDb } from './schema.ts';

/** Edits kept; past it the oldest are dropped from the list (the edits themselves stay in the tree). */
export const outboxLengthMax = 10_000;

/** Appends one edit. */
export async function recordEdit(db: RaftboxDb, operation: OutboxOperation, path: string, atMs: number, to?: string): Promise<void> {
  const tx = db.transaction('outbox', 'readwrite');
  await tx.store.add({ operation, path, atMs, ...(to === undefined ? {} : { to }) });
  const count = await tx.store.count();
  if (count > outboxLengthMax) {
    let cursor = await tx.store.openCursor();
    for (let excess = count - outboxLengthMax; cursor !== null && excess > 0; excess--) {
      await cursor.delete();
      cursor = await cursor.continue();
    }
  }
  await tx.done;
}

/** Every pending edit, oldest first. */
export async function pendingEdits(db: RaftboxDb): Promise<OutboxRecord[]> {
  return db.getAll('outbox');
}

/** Forgets the edits up to and including `seq`, once a sync carried them. */
export async function clearEditsThrough(db: RaftboxDb, seq: number): Promise<void> {
  await db.delete('outbox', IDBKeyRange.upperBound(seq));
}

/** The sequence number of the newest edit, or 0. */
export async function lastEditSeq(db: RaftboxDb): Promise<number> {
  const cursor = await db.transaction('outbox').store.openCursor(null, 'prev');
  return cursor?.key ?? 0;
}
