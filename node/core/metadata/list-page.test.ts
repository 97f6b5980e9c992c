// Listings come in pages that each fit in a frame: by count, and by the size of the
// records (a large file's block list makes its record large).

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { encodeCommand, type MetadataCommand } from './commands.ts';
import { MetadataStateMachine } from './state-machine.ts';

const hash = (n: number): string => n.toString(16).padStart(64, '0');

function machineWith(files: number, blocksPerFile: (index: number) => number): MetadataStateMachine {
  const sm = new MetadataStateMachine();
  let index = 0;
  const apply = (command: MetadataCommand): void => {
    const result = sm.apply({ term: 1, index: ++index, type: 'normal', data: encodeCommand(command) });
    assert.ok(result.ok, JSON.stringify(result));
  };
  apply({ kind: 'register', client: 'c', seq: 1, blocks: Array.from({ length: 600 }, (_, n) => ({ hash: hash(n), size: 1, owners: ['n1'] })) });
  const changes = Array.from({ length: files }, (_, n) => {
    const blocks = Array.from({ length: blocksPerFile(n) }, (_, b) => ({ hash: hash(b), size: 1 }));
    return { path: `dir/file-${String(n).padStart(6, '0')}`, deleted: false, blocks, size: blocks.length, mtime: 0, mode: 0o644 };
  });
  for (let start = 0, seq = 2; start < changes.length; start += 1000) apply({ kind: 'commit', namespace: 'default', client: 'c', seq: seq++, device: 'd', changes: changes.slice(start, start + 1000) });
  return sm;
}

function pageThrough(sm: MetadataStateMachine, limit: number, bytesMax: number): { pages: number; paths: string[] } {
  const paths: string[] = [];
  let after: string | undefined;
  let pages = 0;
  for (;;) {
    const page = sm.listPage('default', '', { includeDeleted: true, ...(after === undefined ? {} : { after }), limit, bytesMax });
    pages++;
    paths.push(...page.files.map((file) => file.path));
    if (!page.more) return { pages, paths };
    after = page.files[page.files.length - 1]!.path;
  }
}

test('12,000 files page through in order, each once, by count', () => {
  const sm = machineWith(12_000, () => 1);
  const { pages, paths } = pageThrough(sm, 5000, 64 * 1024 * 1024);
  assert.is(pages, 3);
  assert.equal(paths, sm.list('default', '', true).map((file) => file.path));
});

test('files with long block lists make smaller pages', () => {
  const sm = machineWith(300, (n) => (n % 3 === 0 ? 500 : 1));
  const { pages, paths } = pageThrough(sm, 5000, 200 * 1024);
  assert.ok(pages > 3, `${pages} pages`);
  assert.is(new Set(paths).size, 300);
});

test('a page after the last path is empty and says no more', () => {
  const sm = machineWith(3, () => 1);
  const page = sm.listPage('default', '', { includeDeleted: false, after: 'zzz', limit: 10, bytesMax: 1024 });
  assert.equal(page, { files: [], more: false });
});

test.run();
