// Downloading a file to disk (or to stdout) block by block, for `raftbox get` and the
// upload benchmark: memory stays at a few blocks whatever the file's size.

import { once } from 'node:events';
import { open, rename, unlink } from 'node:fs/promises';
import type { Writable } from 'node:stream';
import { raftboxError } from '../protocol/errors.ts';
import { isFolderMode } from '../protocol/sync-tree.ts';
import type { FileInfo } from '../protocol/wire.ts';
import type { Client } from './sdk.ts';
import { writeAll } from './host/write-all.ts';

/**
 * The blocks of `remote` (or its `version`), each checked against its hash as it comes, or
 * null when there is no such file. A folder record is refused with `not_found`.
 */
async function openDownload(client: Client, remote: string, options: { version?: number }): Promise<{ info: FileInfo; blocks: AsyncGenerator<Uint8Array> } | null> {
  const found = await client.readFileBlocks(remote, options);
  if (found && isFolderMode(found.info.mode)) throw raftboxError('not_found', `${JSON.stringify(remote)} is a folder, not a file; raftbox ls ${remote}/ lists what it holds, and raftbox sync brings a whole folder`);
  return found;
}

/**
 * Writes `remote` (or its `version`) to `local`: into a temporary file beside it, then
 * renamed over it, so an interrupted or failed download never leaves half a file, nor the
 * temporary file. Every block is checked against its hash, and the whole against the
 * file's size. Returns the record downloaded, or null when there is no such file (nothing
 * is written then); a folder record is refused with `not_found`. Once `signal` aborts
 * (Ctrl-C), the download stops at once and throws its reason, leaving nothing.
 */
export async function downloadToFile(client: Client, remote: string, local: string, options: { version?: number; signal?: AbortSignal } = {}): Promise<FileInfo | null> {
  const found = await openDownload(client, remote, options);
  if (!found) return null;
  const { info, blocks } = found;
  const temporary = `${local}.raftbox-${process.pid}`;
  const handle = await open(temporary, 'w');
  let writing: Promise<unknown> = Promise.resolve();
  const iterator = blocks[Symbol.asyncIterator]();
  try {
    // One write in flight while the next block arrives: the disk and the network overlap.
    let size = 0;
    for (;;) {
      // Raced with the signal, so an abort is seen even while a block is late.
      const next = await unlessAborted(iterator.next(), options.signal);
      if (next.done) break;
      const block = next.value;
      await writing;
      writing = writeAll(handle, block, size);
      writing.catch(() => undefined); // observed at the next await; never an unhandled rejection meanwhile
      size += block.length;
    }
    await writing;
    options.signal?.throwIfAborted();
    await handle.close();
    await rename(temporary, local);
  } catch (error) {
    // As a for-await loop would on a throw: the blocks still being fetched are let go.
    void iterator.return?.(undefined).catch(() => undefined);
    await writing.catch(() => undefined);
    await handle.close().catch(() => undefined);
    await unlink(temporary).catch(() => undefined);
    throw error;
  }
  return info;
}

/**
 * Writes `remote` (or its `version`) to `stream` (stdout, for `raftbox get REMOTE -`),
 * block by block as each arrives checked, waiting whenever the stream asks to. Unlike a
 * file, a stream cannot take back what it was given: a bad block ends the download with
 * the blocks before it already written. Returns the record, or null when there is no such file.
 */
export async function downloadToStream(client: Client, remote: string, stream: Writable, options: { version?: number } = {}): Promise<FileInfo | null> {
  const found = await openDownload(client, remote, options);
  if (!found) return null;
  let failed: Error | null = null;
  const onError = (error: Error): void => {
    failed = error;
  };
  stream.on('error', onError);
  try {
    for await (const block of found.blocks) {
      if (failed) throw failed;
      // once() rejects should the stream fail while it waits.
      if (!stream.write(block)) await once(stream, 'drain');
    }
    if (failed) throw failed;
  } finally {
    stream.off('error', onError);
  }
  return found.info;
}

/**
 * `promise`, or its rejection with `signal`'s reason if that aborts first. Not
 * Promise.race against one promise of the abort: each race would stay attached to it, and
 * keep every block of the download reachable until the end.
 */
function unlessAborted<T>(promise: Promise<T>, signal: AbortSignal | undefined): Promise<T> {
  if (signal === undefined) return promise;
  return new Promise<T>((resolve, reject) => {
    const onAbort = (): void => reject(signal.reason);
    if (signal.aborted) return onAbort();
    signal.addEventListener('abort', onAbort, { once: true });
    promise.then(
      (value) => {
        signal.removeEventListener('abort', onAbort);
        resolve(value);
      },
      (error: unknown) => {
        signal.removeEventListener('abort', onAbort);
        reject(error);
      },
    );
  });
}
