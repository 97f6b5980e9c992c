import { randomUUID } from 'node:crypto';
import * as fs from 'node:fs';
import { join, resolve } from 'node:path';

// A node's data folder: one process at a time (the LOCK file holds its pid), and one
// node for its whole life (node.json names the node and its cluster). Starting a second
// node on the same folder, or a node with another id on it, would interleave two logs
// into one and silently corrupt both, so both are refused with a sentence to act on.

const LOCK_FILE = 'LOCK';
const IDENTITY_FILE = 'node.json';

/** Why a data folder cannot be opened: `locked` — another live process holds it; `identity` — it belongs to another node or cluster. */
export class DataDirError extends Error {
  override readonly name = 'DataDirError';
  constructor(readonly code: 'locked' | 'identity', message: string) {
    super(message);
  }
}

export interface DataDir {
  /** Absolute path of the folder. */
  readonly dir: string;
  /** The cluster this folder belongs to: the stored one, or the one given or generated on first open. */
  readonly clusterId: string;
  /** Give the folder up (removes the lock). Safe to call more than once. */
  release(): void;
}

interface Identity {
  nodeId: string;
  clusterId: string;
  createdAt: string;
}

/**
 * Opens (creating it if needed) the data folder of node `identity.nodeId` and locks it
 * for this process. A lock left by a process that is gone is taken over. On first open
 * the identity is written, with `identity.clusterId` or a fresh UUID; later opens must
 * name the same node (and, when given, the same cluster) and get the stored cluster id.
 * Throws DataDirError when another live process holds the folder or it belongs to
 * another node or cluster.
 */
export function openDataDir(dir: string, identity: { nodeId: string; clusterId?: string }): DataDir {
  const folder = resolve(dir);
  fs.mkdirSync(folder, { recursive: true });
  const lock = takeLock(folder);
  const release = (): void => releaseLock(folder, lock);
  try {
    const stored = readIdentity(folder) ?? writeIdentity(folder, { nodeId: identity.nodeId, clusterId: identity.clusterId ?? randomUUID(), createdAt: new Date().toISOString() });
    if (stored.nodeId !== identity.nodeId) {
      throw new DataDirError('identity', `data folder "${folder}" belongs to node ${stored.nodeId}, not ${identity.nodeId}; start it with --id ${stored.nodeId} or pass another --data`);
    }
    if (identity.clusterId !== undefined && stored.clusterId !== identity.clusterId) {
      throw new DataDirError('identity', `data folder "${folder}" belongs to cluster ${stored.clusterId}, not ${identity.clusterId}; pass another --data for a node of that cluster`);
    }
    return { dir: folder, clusterId: stored.clusterId, release };
  } catch (error) {
    release();
    throw error;
  }
}

/**
 * Creates LOCK holding our pid, atomically: the content is written to a private file
 * first and linked into place, so nobody ever reads a half-written lock. Returns a token
 * that identifies our lock for release.
 */
function takeLock(folder: string): string {
  const lockPath = join(folder, LOCK_FILE);
  const content = `${process.pid}\n`;
  const temporary = join(folder, `${LOCK_FILE}.${process.pid}.${randomUUID()}`);
  fs.writeFileSync(temporary, content);
  try {
    // Two rounds at most: a stale lock is removed once, then the link must succeed.
    for (let attempt = 0; attempt < 2; attempt++) {
      try {
        fs.linkSync(temporary, lockPath);
        return content;
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      }
      const holder = readLock(lockPath);
      if (holder === null) continue;
      if (holder.pid !== null && isAlive(holder.pid)) {
        throw new DataDirError('locked', `data folder "${folder}" is in use by process ${holder.pid}; stop that node or pass another --data`);
      }
      // The holder is gone (killed, or crashed): take over, unless someone replaced the lock meanwhile.
      if (readLock(lockPath)?.content === holder.content) fs.rmSync(lockPath, { force: true });
    }
    const holder = readLock(lockPath);
    throw new DataDirError('locked', `data folder "${folder}" is in use by process ${holder?.pid ?? 'unknown'}; stop that node or pass another --data`);
  } finally {
    fs.rmSync(temporary, { force: true });
  }
}

function readLock(lockPath: string): { content: string; pid: number | null } | null {
  let content: string;
  try {
    content = fs.readFileSync(lockPath, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw error;
  }
  const pid = Number(content.trim());
  return { content, pid: Number.isInteger(pid) && pid > 0 ? pid : null };
}

/** Whether process `pid` exists (on this machine), whoever owns it. */
export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    // EPERM: the process exists but belongs to another user.
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function releaseLock(folder: string, content: string): void {
  const lockPath = join(folder, LOCK_FILE);
  // Only our own lock: after a takeover by another process, LOCK is theirs.
  if (readLock(lockPath)?.content === content) fs.rmSync(lockPath, { force: true });
}

/** The cluster id stored in the data folder `folder`, or null when no node has used it yet. */
export function storedClusterId(folder: string): string | null {
  return readIdentity(folder)?.clusterId ?? null;
}

function readIdentity(folder: string): Identity | null {
  let text: string;
  try {
    text = fs.readFileSync(join(folder, IDENTITY_FILE), 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw error;
  }
  let parsed: Partial<Identity>;
  try {
    parsed = JSON.parse(text) as Partial<Identity>;
  } catch {
    parsed = {};
  }
  if (typeof parsed.nodeId !== 'string' || typeof parsed.clusterId !== 'string') {
    throw new DataDirError('identity', `data folder "${folder}" has a damaged ${IDENTITY_FILE}; restore it, or wipe the folder so the node rejoins from its peers`);
  }
  return { nodeId: parsed.nodeId, clusterId: parsed.clusterId, createdAt: String(parsed.createdAt ?? '') };
}

/** Writes node.json atomically and durably (temporary file, fsync, rename, fsync of the folder). */
function writeIdentity(folder: string, identity: Identity): Identity {
  const path = join(folder, IDENTITY_FILE);
  const temporary = `${path}.tmp-${process.pid}`;
  const fd = fs.openSync(temporary, 'w');
  try {
    fs.writeSync(fd, `${JSON.stringify(identity, null, 2)}\n`);
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
  fs.renameSync(temporary, path);
  const folderFd = fs.openSync(folder, 'r');
  try {
    fs.fsyncSync(folderFd);
  } finally {
    fs.closeSync(folderFd);
  }
  return identity;
}
