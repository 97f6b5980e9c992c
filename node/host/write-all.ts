import type { FileHandle } from 'node:fs/promises';

/**
 * Writes all of `bytes` through `handle`, at `position` or (null) at the file's offset.
 * A write to a disk that is filling up first succeeds short, with no error (the kernel
 * wrote what fitted), and only the next one fails with ENOSPC: `FileHandle.write` alone
 * would report the short write as done and leave the file cut off.
 */
export async function writeAll(handle: FileHandle, bytes: Uint8Array, position: number | null = null): Promise<void> {
  for (let written = 0; written < bytes.length; ) {
    const { bytesWritten } = await handle.write(bytes, written, bytes.length - written, position === null ? null : position + written);
    if (bytesWritten === 0) throw Object.assign(new Error(`the file system took none of the last ${bytes.length - written} bytes of a write`), { code: 'EIO' });
    written += bytesWritten;
  }
}
