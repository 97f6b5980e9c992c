// Drop a folder: a drop event whose DataTransfer holds a folder tree (nested folders, an
// empty folder, a file spanning several blocks, read in several readEntries batches) is
// added through the page, and the cluster, read through the Node SDK, then holds every
// file byte for byte. Chromium cannot put a real folder into a DataTransfer from a
// script, so the entries are built the way webkitGetAsEntry hands them out, around real
// File objects.

import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { eventually, startHarness, waitUntilSynced, type Harness } from './test-support/browser-harness.ts';
import { seededBytes as bytesOf } from './test-support/seeded-bytes.ts';

const files: Record<string, [number, number]> = {
  'photos/readme.txt': [120, 1],
  'photos/2026/beach.jpg': [3 * 1024 * 1024 + 333, 2],
  'photos/2026/sunset.jpg': [70_000, 3],
  'photos/2026/notes/a.txt': [5, 4],
  'photos/2026/notes/b.txt': [0, 5],
  'photos/2026/notes/c.txt': [9, 6],
};

let harness: Harness;

test.before(async () => {
  harness = await startHarness();
});

test.after(async () => {
  await harness?.stop();
});

test('a dropped folder tree reaches the cluster byte for byte', async () => {
  const { page, sdk } = harness;
  await page.evaluate(({ files, generator }) => {
    const bytesOf = new Function(`return ${generator}`)() as (length: number, seed: number) => Uint8Array;
    type Node = { name: string; children?: Node[]; file?: File };
    const rootNode: Node = { name: 'photos', children: [] };
    const folderAt = (path: string[]): Node => {
      let node = rootNode;
      for (const name of path) {
        let child = node.children!.find((item) => item.name === name);
        if (child === undefined) node.children!.push((child = { name, children: [] }));
        node = child;
      }
      return node;
    };
    folderAt(['empty']);
    for (const [path, [length, seed]] of Object.entries(files)) {
      const parts = path.split('/').slice(1);
      const name = parts.pop()!;
      folderAt(parts).children!.push({ name, file: new File([bytesOf(length, seed) as Uint8Array<ArrayBuffer>], name) });
    }
    // An entry as webkitGetAsEntry returns it; readEntries hands a folder out two at a time.
    const entryOf = (node: Node): unknown => node.file !== undefined
      ? { isFile: true, isDirectory: false, name: node.name, file: (done: (file: File) => void) => done(node.file!) }
      : { isFile: false, isDirectory: true, name: node.name, createReader: () => {
          let next = 0;
          return { readEntries: (done: (entries: unknown[]) => void) => {
            const batch = node.children!.slice(next, next + 2).map(entryOf);
            next += 2;
            setTimeout(() => done(batch), 0);
          } };
        } };
    const transfer = { items: [{ kind: 'file', webkitGetAsEntry: () => entryOf(rootNode), getAsFile: () => null }], files: [], types: ['Files'] };
    const drop = new Event('drop', { bubbles: true, cancelable: true });
    Object.defineProperty(drop, 'dataTransfer', { value: transfer });
    document.body.dispatchEvent(drop);
  }, { files, generator: bytesOf.toString() });

  for (const [path, [length, seed]] of Object.entries(files)) {
    const stored = await eventually(`${path} in the cluster`, async () => (await sdk.readFile(path)) ?? undefined);
    assert.equal(stored.data, bytesOf(length, seed), `${path} is byte-identical`);
  }
  const empty = await eventually('the empty folder in the cluster', async () => (await sdk.stat('photos/empty')) ?? undefined);
  assert.is(empty.deleted, false);
  await waitUntilSynced(page);
  // Each file's transfer row follows it to the cluster: hashed, added, sent, synced.
  for (const path of Object.keys(files)) {
    const row = await page.waitForSelector(`#transfers li[data-path="${path}"][data-state="synced"]`);
    assert.match((await row.textContent()) ?? '', /Synced/);
  }
  await page.click('#tree button:text-is("photos")');
  await page.waitForSelector('#files tr[data-path="photos/readme.txt"][data-state="synced"]');
  const version = await page.textContent('#files tr[data-path="photos/readme.txt"] td:nth-child(4)');
  assert.is(version, '1');
});

test('"Add a folder" picks a folder from disk and syncs its whole tree', async () => {
  const { page, sdk } = harness;
  const work = mkdtempSync(join(tmpdir(), 'raftbox-add-folder-'));
  try {
    const picked: Record<string, [number, number]> = { 'albums/cover.png': [40_000, 11], 'albums/2025/track.ogg': [1_300_000, 12], 'albums/2025/liner/notes.txt': [77, 13] };
    for (const [path, [length, seed]] of Object.entries(picked)) {
      mkdirSync(join(work, path, '..'), { recursive: true });
      writeFileSync(join(work, path), bytesOf(length, seed));
    }
    // A fresh load shows the top folder, where the picked folder lands.
    await page.reload();
    await page.waitForSelector('body[data-ready="true"]');
    await page.setInputFiles('#add-folder', join(work, 'albums'));
    for (const [path, [length, seed]] of Object.entries(picked)) {
      const stored = await eventually(`${path} in the cluster`, async () => (await sdk.readFile(path)) ?? undefined);
      assert.equal(stored.data, bytesOf(length, seed), `${path} is byte-identical`);
      await page.waitForSelector(`#transfers li[data-path="${path}"][data-state="synced"]`);
    }
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
});

test.run();
