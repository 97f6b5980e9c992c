import { closeSync, openSync, readSync } from 'node:fs';

/**
 * Up to `length` bytes of the file at `path` from byte `offset` (fewer at its end), read
 * with synchronous calls: for small reads they cost less than a thread-pool round trip.
 * Throws the file system's error (ENOENT when there is no such file).
 */
export function readRangeSync(path: string, offset: number, length: number): Uint8Array {
  const fd = openSync(path, 'r');
  try {
    const bytes = Buffer.allocUnsafe(length);
    let read = 0;
    for (let n = 1; n > 0 && read < length; read += n) n = readSync(fd, bytes, read, length - read, offset + read);
    return bytes.subarray(0, read);
  } finally {
    closeSync(fd);
  }
}
