// What `raftbox sync` keeps under DIR/.raftbox/: the device id, the base (what the folder
// and the cluster last agreed on), the scan cache (so unchanged files are not hashed
// again) and a lock. Every file is replaced atomically: written beside, synced, renamed,
// and the folder synced, so a crash leaves the old state or the new, never a torn one.
// Losing a state update is safe by design: the planner sees equal content on both sides
// and records it again.

import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { mkdir, open, readFile, rename, unlink } from 'node:fs/promises';
import { raftboxError } from '../../protocol/errors.ts';
import { isAlive } from '../host/data-dir.ts';
import type { BaseEntry, BaseTree, LocalEntry } from '../../protocol/sync-tree.ts';

export const stateFolderName = '.raftbox';
const stateFormat = 1;

/** A file's identity on disk: while these match, its scanned entry still holds. */
export interface FileStamp {
  size: number;
  mtimeMs: number;
  ino: number;
  mode: number;
}

export interface CachedScan {
  stamp: FileStamp;
  entry: LocalEntry;
}

interface StateFile {
  format: number;
  device: string;
  base: [string, BaseEntry][];
}

/** The state folder of one synced folder. */
export class FolderState {
  readonly folder: string;
  device = '';
  base: BaseTree = new Map();
  scanCache = new Map<string, CachedScan>();

  constructor(readonly root: string) {
    this.folder = join(root, stateFolderName);
  }

  get tempFolder(): string {
    return join(this.folder, 'tmp');
  }

  /**
   * Opens (creating on first use) the state of `root`, taking its lock. The device id is
   * chosen once per folder: two folders on one machine are two devices, or their vector
   * clocks would merge edits that never saw each other.
   */
  async open(deviceName?: string): Promise<void> {
    await mkdir(this.tempFolder, { recursive: true });
    await this.lock();
    const state = await readJson<StateFile>(join(this.folder, 'state.json'));
    if (state !== null && state.format !== stateFormat) {
      throw raftboxError('bad_message', `${join(this.folder, 'state.json')} has format ${state.format}, this raftbox reads ${stateFormat}; upgrade raftbox`);
    }
    this.device = state?.device ?? deviceName ?? `${hostname().split('.')[0]}-${randomBytes(3).toString('hex')}`;
    this.base = new Map(state?.base ?? []);
    const cache = await readJson<[string, CachedScan][]>(join(this.folder, 'scan.json'));
    this.scanCache = new Map(cache ?? []);
    if (state === null) await this.saveBase(new Map());
  }

  async saveBase(updates: Map<string, BaseEntry | null>): Promise<void> {
    for (const [path, entry] of updates) {
      if (entry === null) this.base.delete(path);
      else this.base.set(path, entry);
    }
    const state: StateFile = { format: stateFormat, device: this.device, base: [...this.base] };
    await writeAtomically(join(this.folder, 'state.json'), JSON.stringify(state), this.tempFolder);
  }

  async saveScanCache(): Promise<void> {
    await writeAtomically(join(this.folder, 'scan.json'), JSON.stringify([...this.scanCache]), this.tempFolder);
  }

  async close(): Promise<void> {
    await unlink(join(this.folder, 'LOCK')).catch(() => undefined);
  }

  // One sync per folder at a time; a lock left by a process that died is taken over.
  private async lock(): Promise<void> {
    const path = join(this.folder, 'LOCK');
    for (let attempt = 0; attempt < 2; attempt++) {
      try {
        const handle = await open(path, 'wx');
        await handle.writeFile(String(process.pid));
        await handle.close();
        return;
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
        const owner = Number((await readFile(path, 'utf8').catch(() => '')).trim());
        if (Number.isInteger(owner) && owner > 0 && owner !== process.pid && isAlive(owner)) {
          throw raftboxError('conflict', `another raftbox sync (pid ${owner}) is syncing ${this.root}; stop it first, or wait for it to finish`);
        }
        await unlink(path).catch(() => undefined);
      }
    }
    throw raftboxError('conflict', `could not take the lock ${path}; remove it if no raftbox sync is running`);
  }
}

async function readJson<T>(path: string): Promise<T | null> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw error;
  }
  try {
    return JSON.parse(text) as T;
  } catch {
    throw raftboxError('bad_message', `${path} is not valid JSON; delete it and sync again (the folder and the cluster are compared afresh)`);
  }
}

/** Writes `text` to `path` so that a crash leaves either the old file or the new one. */
export async function writeAtomically(path: string, text: string | Uint8Array, tempFolder: string): Promise<void> {
  const temporary = join(tempFolder, `${randomBytes(6).toString('hex')}.tmp`);
  const handle = await open(temporary, 'w');
  try {
    await handle.writeFile(text);
    await handle.sync();
  } finally {
    await handle.close();
  }
  await rename(temporary, path);
  await syncFolder(join(path, '..'));
}

/** fsync a folder, so a rename into it survives a crash. */
export async function syncFolder(folder: string): Promise<void> {
  const handle = await open(folder, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}
