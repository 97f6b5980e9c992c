// Small named values of the replica: who this device is, the change cursor, and which
// conflicts the user already settled. Kept in the `meta` store as one key each.

import type { RaftboxDb } from './schema.ts';

const deviceKey = 'device';
const cursorKey = 'cursor';
const dismissedKey = 'dismissedConflicts';
/** Conflict copies the user chose to keep both of; older ones are forgotten past this. */
export const dismissedConflictsMax = 1000;

/**
 * This browser's device id, created on first use: `web-` and 8 random hex digits. It
 * names the author of every version written here and the device in vector clocks.
 */
export async function deviceId(db: RaftboxDb, random: () => number = Math.random): Promise<string> {
  const stored = await db.get('meta', deviceKey);
  if (typeof stored === 'string') return stored;
  const id = `web-${Math.floor(random() * 0x1_0000_0000).toString(16).padStart(8, '0')}`;
  await db.put('meta', id, deviceKey);
  return id;
}

/** The last change-feed cursor this replica applied (0: none yet). */
export async function loadCursor(db: RaftboxDb): Promise<number> {
  const stored = await db.get('meta', cursorKey);
  return typeof stored === 'number' ? stored : 0;
}

/** Remembers the change-feed cursor; it only moves forward. */
export async function saveCursor(db: RaftboxDb, cursor: number): Promise<void> {
  const tx = db.transaction('meta', 'readwrite');
  const stored = await tx.store.get(cursorKey);
  if (typeof stored !== 'number' || stored < cursor) await tx.store.put(cursor, cursorKey);
  await tx.done;
}

/** Conflict copies whose conflict the user settled by keeping both. */
export async function dismissedConflicts(db: RaftboxDb): Promise<Set<string>> {
  const stored = await db.get('meta', dismissedKey);
  return new Set(Array.isArray(stored) ? stored.filter((item): item is string => typeof item === 'string') : []);
}

export async function dismissConflict(db: RaftboxDb, copyPath: string): Promise<void> {
  const current = [...(await dismissedConflicts(db))].filter((path) => path !== copyPath);
  current.push(copyPath);
  await db.put('meta', current.slice(-dismissedConflictsMax), dismissedKey);
}
