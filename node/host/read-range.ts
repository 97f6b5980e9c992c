import { closeSync, fstatSync, openSync, readSync, type Stats } from 'node:fs';
import { open } from 'node:fs/promises';

/**
 * Up to `length` bytes of the file at `path` from byte `offset` (fewer at its end), read
 * with synchronous calls: for small reads they cost less than a thread-pool round trip.
 * Throws the file system's error (ENOENT when there is no such file).
 */
export function readRangeSync(path: string, offset: number, length: number): Uint8Array {
  const fd = openSync(path, 'r');
  try {
    return readFd(fd, offset, length);
  } finally {
    closeSync(fd);
  }
}

/** `readRangeSync` on the thread pool, for reads that must not block the event loop. */
export async function readRangeAsync(path: string, offset: number, length: number): Promise<Uint8Array> {
  const handle = await open(path, 'r');
  try {
    const bytes = Buffer.allocUnsafe(length);
    let read = 0;
    for (let n = 1; n > 0 && read < length; read += n) n = (await handle.read(bytes, read, length - read, offset + read)).bytesRead;
    return bytes.subarray(0, read);
  } finally {
    await handle.close();
  }
}

/**
 * Like `readRangeSync` from byte 0, and the file's stat taken through the same descriptor
 * once the read is done: compared with a stat from before, it tells whether the bytes
 * read were written to meanwhile, without another lookup of the path.
 */
export function readStartAndStatSync(path: string, length: number): { data: Uint8Array; after: Stats } {
  const fd = openSync(path, 'r');
  try {
    const data = readFd(fd, 0, length);
    return { data, after: fstatSync(fd) };
  } finally {
    closeSync(fd);
  }
}

function readFd(fd: number, offset: number, length: number): Uint8Array {
  const bytes = Buffer.allocUnsafe(length);
  let read = 0;
  for (let n = 1; n > 0 && read < length; read += n) n = readSync(fd, bytes, read, length - read, offset + read);
  return bytes.subarray(0, read);
}
