// FolderReplica's scan against a real folder: which files it hands over to be sent while
// it scans, and that what it hands over is exactly what it hashed.

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import fsPromises, { mkdir } from 'node:fs/promises';
import { syncBuiltinESMExports } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { BlockUpload } from '../../protocol/wire.ts';
import { fillDisk, withSmallDisk } from '../host/disk-test-support.ts';
import { FolderReplica } from './folder-replica.ts';
import { FolderState } from './folder-state.ts';
import { loadIgnoreRules } from './ignore-rules.ts';

const sha256 = (bytes: Uint8Array): string => createHash('sha256').update(bytes).digest('hex');

/** Runs `body` with a replica of a fresh temporary folder, then closes its state and removes the folder. */
async function withReplica(body: (root: string, replica: FolderReplica) => Promise<void>): Promise<void> {
  const root = mkdtempSync(join(tmpdir(), 'raftbox-replica-'));
  const state = new FolderState(root);
  try {
    await state.open('test-device');
    await body(root, new FolderReplica(root, state, { ignore: await loadIgnoreRules(root), warn: () => undefined }));
  } finally {
    await state.close();
    rmSync(root, { recursive: true, force: true });
  }
}

/** Dates a file an hour back: older than the racy window, so a scan may trust its stamp. */
function age(path: string): void {
  const hourAgo = Date.now() / 1000 - 3600;
  utimesSync(path, hourAgo, hourAgo);
}

test('the scan hands over files it read whole, block by block, once; a file streamed in slices goes up later', () =>
  withReplica(async (root, replica) => {
    const content = {
      'small.txt': randomBytes(100 * 1024),
      'three-mib.bin': randomBytes(3 * 1024 * 1024),
      'big.bin': randomBytes(9 * 1024 * 1024),
    };
    for (const [name, data] of Object.entries(content)) {
      writeFileSync(join(root, name), data);
      age(join(root, name));
    }
    const handed = new Map<string, BlockUpload[]>();
    const early = async (path: string, blocks: BlockUpload[]): Promise<void> => {
      assert.not.ok(handed.has(path), `${path} is handed over once`);
      // Copies: the test holds them past the scan.
      handed.set(path, blocks.map(({ hash, data }) => ({ hash, data: data.slice() })));
    };
    const local = await replica.scan(early);
    assert.equal([...handed.keys()].sort(), ['small.txt', 'three-mib.bin']);
    assert.ok(handed.get('three-mib.bin')!.length > 1, 'a file of several blocks comes as its blocks');
    for (const [path, blocks] of handed) {
      assert.equal(blocks.map(({ hash, data }) => ({ hash, size: data.length })), local.get(path)!.blocks, `${path}: the blocks of its entry`);
      for (const { hash, data } of blocks) assert.is(sha256(data), hash);
      assert.equal(Buffer.concat(blocks.map(({ data }) => data)), content[path as keyof typeof content], `${path}: its bytes in order`);
    }
    assert.ok(local.get('big.bin')!.blocks.length > 1);

    handed.clear();
    await replica.scan(early);
    assert.is(handed.size, 0, 'files unchanged since the last scan are not read again');
  }),
);

test('a scan writes the scan cache only when it changed: a pass over a quiet folder writes nothing', () =>
  withReplica(async (root, replica) => {
    writeFileSync(join(root, 'a.txt'), 'first');
    writeFileSync(join(root, 'b.txt'), 'second');
    for (const name of ['a.txt', 'b.txt']) age(join(root, name));
    const cacheFile = join(root, '.raftbox', 'scan.json');
    // Each write is a new file renamed into place: one that predates the scan was not written by it.
    const stampOld = (): void => utimesSync(cacheFile, 1000, 1000);
    const writtenByScan = (): boolean => statSync(cacheFile).mtimeMs !== 1_000_000;
    await replica.scan();
    stampOld();
    await replica.scan();
    assert.is(writtenByScan(), false, 'nothing changed, nothing written');

    writeFileSync(join(root, 'a.txt'), 'edited');
    age(join(root, 'a.txt'));
    await replica.scan();
    assert.is(writtenByScan(), true, 'an edited file is hashed again and its entry saved');
    stampOld();
    rmSync(join(root, 'b.txt'));
    await replica.scan();
    assert.is(writtenByScan(), true, 'a removed file leaves the cache');
    assert.equal(Object.fromEntries(JSON.parse(readFileSync(cacheFile, 'utf8'))).hasOwnProperty('b.txt'), false);
  }),
);

test('an edit to the same size in the same timestamp tick as the scan before it is not missed', () =>
  withReplica(async (root, replica) => {
    const path = join(root, 'tick.txt');
    // Two writes a coarse file-system clock stamps alike: same size, same modification time.
    const tick = new Date();
    writeFileSync(path, 'version one');
    utimesSync(path, tick, tick);
    const first = (await replica.scan()).get('tick.txt')!;
    writeFileSync(path, 'version two');
    utimesSync(path, tick, tick);
    const second = (await replica.scan()).get('tick.txt')!;
    assert.is(second.blocks[0]!.hash, sha256(Buffer.from('version two')), 'the second scan hashed the file again');
    assert.is.not(second.blocks[0]!.hash, first.blocks[0]!.hash);
    // Once its time is well behind the scan, the same file is trusted without reading it.
    age(path);
    await replica.scan();
    const handed: string[] = [];
    await replica.scan(async (handedPath) => void handed.push(handedPath));
    assert.equal(handed, [], 'a settled file is not read again');
  }),
);

test('a download onto a disk that fills up fails with ENOSPC and leaves neither a cut-off file nor a temporary one', () =>
  withSmallDisk('256k', async (root) => {
    const state = new FolderState(root);
    try {
      await state.open('test-device');
      const replica = new FolderReplica(root, state, { ignore: await loadIgnoreRules(root), warn: () => undefined });
      writeFileSync(join(root, 'started.bin'), 'x');
      fillDisk(root);
      // Room for a page or so: the one write of this 64 KiB file comes back short.
      rmSync(join(root, 'started.bin'));
      const data = randomBytes(64 * 1024);
      const remote = { kind: 'file' as const, blocks: [{ hash: sha256(data), size: data.length }], size: data.length, mtime: 1_700_000_000_000, executable: false, version: 1, clock: { other: 1 }, deleted: false, device: 'other' };
      async function* parts(): AsyncGenerator<Uint8Array> {
        yield data;
      }
      const failure = await replica.writeFile('photo.bin', remote, parts(), null).then(() => null, (error: NodeJS.ErrnoException) => error);
      assert.is(failure?.code, 'ENOSPC');
      assert.is(existsSync(join(root, 'photo.bin')), false, 'no cut-off file takes the name');
      assert.equal(readdirSync(state.tempFolder), [], 'the temporary file is removed');
    } finally {
      await state.close();
    }
  }));

test('making a folder that appears meanwhile (a download into it made it) succeeds', () =>
  withReplica(async (root, replica) => {
    // Downloads run side by side: a file's download makes its parents while the folder's
    // own entry is being made. Many pairs, so some land between makeFolder's check and mkdir.
    const names = Array.from({ length: 200 }, (_, i) => `folder-${i}`);
    const made = await Promise.all(names.map((name) => Promise.all([replica.makeFolder(name, null), mkdir(join(root, name), { recursive: true })])));
    assert.ok(made.every(([done]) => done), 'every folder is reported made');
    for (const name of names) assert.ok(statSync(join(root, name)).isDirectory());
  }),
);

test('renaming a folder onto a name taken after the check refuses and loses nothing', () =>
  withReplica(async (root, replica) => {
    const realRename = fsPromises.rename;
    const folder = { kind: 'dir' as const, blocks: [], size: 0, mtime: 0, executable: false };
    mkdirSync(join(root, 'photos'));
    writeFileSync(join(root, 'photos/synced.jpg'), 'synced');
    // The user makes a folder with a file in it at the target after the replica checked
    // that nothing was there, just before the rename itself.
    fsPromises.rename = async (from, to) => {
      mkdirSync(to);
      writeFileSync(join(String(to), 'mine.txt'), 'mine');
      return realRename(from, to);
    };
    syncBuiltinESMExports();
    try {
      assert.is(await replica.rename('photos', 'pictures', folder), false);
    } finally {
      fsPromises.rename = realRename;
      syncBuiltinESMExports();
    }
    assert.is(readFileSync(join(root, 'photos/synced.jpg'), 'utf8'), 'synced');
    assert.is(readFileSync(join(root, 'pictures/mine.txt'), 'utf8'), 'mine');
  }),
);

test.run();
