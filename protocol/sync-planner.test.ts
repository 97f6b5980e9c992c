// The planner on hand-made trees: the decisions a sync host cannot easily provoke, such
// as which of several identical files moved where, conflict-copy names, clocks that do
// or do not prove an edit was seen, and folders that must outlive a delete.

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { planSync, type SyncAction } from './sync-planner.ts';
import { remoteTreeOf, type BaseEntry, type LocalEntry, type RemoteEntry } from './sync-tree.ts';

const hash = (text: string): string => text.padEnd(64, '0').slice(0, 64);
const file = (content: string, extra: Partial<LocalEntry> = {}): LocalEntry => ({ kind: 'file', blocks: [{ hash: hash(content), size: content.length }], size: content.length, mtime: 1, executable: false, ...extra });
const dir = (): LocalEntry => ({ kind: 'dir', blocks: [], size: 0, mtime: 1, executable: false });
const remote = (entry: LocalEntry, version: number, clock: Record<string, number>, deleted = false): RemoteEntry => ({ ...entry, version, clock, deleted, device: 'x' });
const base = (entry: LocalEntry, version: number, clock: Record<string, number>): BaseEntry => ({ ...entry, version, clock });
const options = { device: 'laptop', conflictStamp: '2026-11-21 093000' };
const types = (actions: SyncAction[]): string[] => actions.map((action) => ('path' in action ? `${action.type} ${action.path}` : `${action.type} ${action.from}→${action.to}`));

test('identical files moved at once pair by the closest names', () => {
  const a = file('same');
  const plan = planSync(
    new Map([['photos/alpha-2024.jpg', a], ['photos/beta-2024.jpg', a]]),
    new Map([['alpha.jpg', remote(a, 1, { x: 1 })], ['beta.jpg', remote(a, 1, { x: 1 })]]),
    new Map([['alpha.jpg', base(a, 1, { x: 1 })], ['beta.jpg', base(a, 1, { x: 1 })]]),
    options,
  );
  assert.equal(types(plan.actions), ['move-remote alpha.jpg→photos/alpha-2024.jpg', 'move-remote beta.jpg→photos/beta-2024.jpg']);
});

test('conflict copies keep the extension, skip dotfile "extensions" and never reuse a name', () => {
  const mine = file('mine');
  const theirs = file('theirs');
  const taken = 'notes (conflicted copy from laptop 2026-11-21 093000).md';
  const plan = planSync(
    new Map([['notes.md', mine], ['.env', mine], [taken, file('older copy')]]),
    new Map([['notes.md', remote(theirs, 2, { phone: 1 })], ['.env', remote(theirs, 2, { phone: 1 })], [taken, remote(file('older copy'), 1, { laptop: 1 })]]),
    new Map([['notes.md', base(file('v1'), 1, {})], ['.env', base(file('v1'), 1, {})], [taken, base(file('older copy'), 1, { laptop: 1 })]]),
    options,
  );
  assert.equal(plan.conflicts.map((conflict) => conflict.copyPath).sort(), [
    '.env (conflicted copy from laptop 2026-11-21 093000)',
    'notes (conflicted copy from laptop 2026-11-21 093000 2).md',
  ]);
});

test('an explicit local clock that the remote dominates means the remote saw the edit', () => {
  const edit = file('edited offline', { clock: { browser: 2 } });
  const plan = planSync(
    new Map([['a.txt', edit]]),
    new Map([['a.txt', remote(file('edited later elsewhere'), 3, { browser: 2, phone: 1 })]]),
    new Map([['a.txt', base(file('v1'), 1, { browser: 1 })]]),
    options,
  );
  assert.equal(types(plan.actions), ['download a.txt']);
  assert.equal(plan.conflicts, []);
});

test('without a local clock the same trees are a conflict: a folder cannot prove its edit was seen', () => {
  const plan = planSync(
    new Map([['a.txt', file('edited offline')]]),
    new Map([['a.txt', remote(file('edited later elsewhere'), 3, { laptop: 2, phone: 1 })]]),
    new Map([['a.txt', base(file('v1'), 1, { laptop: 1 })]]),
    options,
  );
  assert.equal(plan.conflicts.map((conflict) => conflict.reason), ['both-edited']);
  assert.equal(types(plan.actions), ['conflict-copy a.txt', 'download a.txt', 'upload a (conflicted copy from laptop 2026-11-21 093000).txt']);
});

test('a folder deleted remotely survives while a new local file lives in it', () => {
  const plan = planSync(
    new Map<string, LocalEntry>([['docs', dir()], ['docs/new.txt', file('new')]]),
    new Map([['docs', remote(dir(), 2, { phone: 1 }, true)]]),
    new Map([['docs', base(dir(), 1, {})]]),
    options,
  );
  assert.equal(types(plan.actions), ['upload docs', 'upload docs/new.txt']);
});

test('downloads create folders before their files; local deletes remove files before folders', () => {
  const d = dir();
  const f = file('f');
  const plan = planSync(
    new Map<string, LocalEntry>([['old', d], ['old/f', f]]),
    new Map<string, RemoteEntry>([['new/f', remote(f, 1, { x: 1 })], ['new', remote(d, 1, { x: 1 })], ['old', remote(d, 2, { x: 2 }, true)], ['old/f', remote(f, 2, { x: 2 }, true)]]),
    new Map([['old', base(d, 1, {})], ['old/f', base(f, 1, {})]]),
    options,
  );
  assert.equal(types(plan.actions), ['move-local old/f→new/f', 'download new', 'delete-local old']);
});

test('a plan of agreeing trees is empty, and nothing changes for paths only the remote deleted long ago', () => {
  const f = file('same');
  const plan = planSync(
    new Map([['a', f]]),
    new Map([['a', remote(f, 4, { x: 4 })], ['gone', remote(file('old'), 2, { x: 2 }, true)]]),
    new Map([['a', base(f, 4, { x: 4 })]]),
    options,
  );
  assert.equal(plan.actions, []);
});

test('a path is a file or a folder: a file made where the other side keeps a folder with contents moves aside', () => {
  // Remote: notes/today.txt put with the CLI, no record for "notes", which it implies.
  const today = { path: 'notes/today.txt', version: 1, mtime: 1, mode: 0o644, device: 'cli', clock: { cli: 1 }, index: 5, size: 5, deleted: false, blocks: [{ hash: hash('today'), size: 5 }] };
  const implied = planSync(new Map([['notes', file('mine')]]), remoteTreeOf([today]), new Map(), options);
  assert.equal(types(implied.actions), ['conflict-copy notes', 'download notes', 'download notes/today.txt', 'upload notes (conflicted copy from laptop 2026-11-21 093000)']);
  // Here a folder with a new file in it; there the synced folder became a file meanwhile.
  const replaced = planSync(
    new Map([['plans', dir()], ['plans/new.txt', file('new')]]),
    new Map([['plans', remote(file('now a file'), 2, { phone: 1 })]]),
    new Map([['plans', base(dir(), 1, {})]]),
    options,
  );
  assert.equal(replaced.conflicts, [{ path: 'plans', reason: 'both-edited', copyPath: 'plans (conflicted copy from laptop 2026-11-21 093000)' }]);
  // But a folder made here over a file the remote left alone replaces it, contents and all.
  const mine = planSync(
    new Map([['plans', dir()], ['plans/new.txt', file('new')]]),
    new Map([['plans', remote(file('old file'), 1, {})]]),
    new Map([['plans', base(file('old file'), 1, {})]]),
    options,
  );
  assert.equal(mine.conflicts, []);
  assert.equal(types(mine.actions), ['upload plans', 'upload plans/new.txt']);
});

test('a folder only implied by files below it, once implied no more, goes here too', () => {
  const recorded = remoteTreeOf([{ path: 'notes/today.txt', version: 1, mtime: 1, mode: 0o644, device: 'cli', clock: {}, index: 5, size: 0, deleted: false, blocks: [] }]).get('notes')!;
  assert.equal([recorded.kind, recorded.version, recorded.deleted], ['dir', 0, false]);
  const gone = { path: 'notes/today.txt', version: 2, mtime: 1, mode: 0o644, device: 'cli', clock: {}, index: 6, size: 0, deleted: true, blocks: [] };
  const plan = planSync(new Map([['notes', dir()]]), remoteTreeOf([gone]), new Map([['notes', base(dir(), 0, {})]]), options);
  assert.equal(types(plan.actions), ['delete-local notes']);
});

test.run();
