// writeAll goes on after short writes, and a disk that fills up ends it with ENOSPC
// rather than with a file cut off as if it were whole.

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { open, type FileHandle } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fillDisk, withSmallDisk } from './disk-test-support.ts';
import { writeAll } from './write-all.ts';

test('short writes are continued from where they stopped, at the right file positions', async () => {
  const folder = mkdtempSync(join(tmpdir(), 'raftbox-write-all-'));
  try {
    const path = join(folder, 'file');
    writeFileSync(path, 'xxxxxxxxxx');
    const handle = await open(path, 'r+');
    const calls: [number, number, number | null][] = [];
    // At most 3 bytes per call, as a filling disk might take them.
    const stingy = new Proxy(handle, {
      get: (target, key) => (key === 'write' ? (bytes: Uint8Array, offset: number, length: number, position: number | null) => {
        calls.push([offset, length, position]);
        return target.write(bytes, offset, Math.min(length, 3), position);
      } : Reflect.get(target, key).bind(target)),
    }) as FileHandle;
    try {
      await writeAll(stingy, new TextEncoder().encode('abcdefgh'), 1);
    } finally {
      await handle.close();
    }
    assert.equal(calls, [[0, 8, 1], [3, 5, 4], [6, 2, 7]]);
    assert.is(readFileSync(path, 'utf8'), 'xabcdefghx');
  } finally {
    rmSync(folder, { recursive: true, force: true });
  }
});

test('on a disk that fills up, a plain write comes back short without an error; writeAll fails with ENOSPC', () =>
  withSmallDisk('256k', async (folder) => {
    writeFileSync(join(folder, 'a'), 'a');
    writeFileSync(join(folder, 'b'), 'b');
    fillDisk(folder);
    // Files a and b each have most of a page free.
    const plain = await open(join(folder, 'a'), 'a');
    const { bytesWritten } = await plain.write(Buffer.alloc(20_000, 2));
    await plain.close();
    assert.ok(bytesWritten > 0 && bytesWritten < 20_000, `a plain write took ${bytesWritten} of 20000 bytes and reported no error`);

    const handle = await open(join(folder, 'b'), 'a');
    const failure = await writeAll(handle, Buffer.alloc(20_000, 3)).then(() => null, (error: NodeJS.ErrnoException) => error);
    await handle.close();
    assert.is(failure?.code, 'ENOSPC');
  }));

test.run();
