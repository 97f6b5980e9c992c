// Downloading a file to disk block by block, for `raftbox get` and the upload benchmark:
// memory stays at a few blocks whatever the file's size.

import { open, rename, unlink } from 'node:fs/promises';
import { raftboxError } from '../protocol/errors.ts';
import { isFolderMode } from '../protocol/sync-tree.ts';
import type { FileInfo } from '../protocol/wire.ts';
import type { Client } from './sdk.ts';
import { writeAll } from './host/write-all.ts';

/**
 * Writes `remote` (or its `version`) to `local`: into a temporary file beside it, then
 * renamed over it, so an interrupted or failed download never leaves half a file. Every
 * block is checked against its hash, and the whole against the file's size. Returns the
 * record downloaded, or null when there is no such file (nothing is written then); a
 * folder record is refused with `not_found`.
 */
export async function downloadToFile(client: Client, remote: string, local: string, options: { version?: number } = {}): Promise<FileInfo | null> {
  const found = await client.readFileBlocks(remote, options);
  if (!found) return null;
  const { info, blocks } = found;
  if (isFolderMode(info.mode)) throw raftboxError('not_found', `${JSON.stringify(remote)} is a folder, not a file; raftbox ls ${remote}/ lists what it holds, and raftbox sync brings a whole folder`);
  const temporary = `${local}.raftbox-${process.pid}`;
  const handle = await open(temporary, 'w');
  let writing: Promise<unknown> = Promise.resolve();
  try {
    // One write in flight while the next block arrives: the disk and the network overlap.
    let size = 0;
    for await (const block of blocks) {
      await writing;
      writing = writeAll(handle, block, size);
      writing.catch(() => undefined); // observed at the next await; never an unhandled rejection meanwhile
      size += block.length;
    }
    await writing;
    await handle.close();
  } catch (error) {
    await writing.catch(() => undefined);
    await handle.close().catch(() => undefined);
    await unlink(temporary).catch(() => undefined);
    throw error;
  }
  await rename(temporary, local);
  return info;
}
