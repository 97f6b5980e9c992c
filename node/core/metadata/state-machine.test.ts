import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { encode } from '@msgpack/msgpack';
import { isRaftboxError } from '../../../protocol/errors.ts';
import type { FileChange, FileInfo } from '../../../protocol/wire.ts';
import { encodeCommand, type ApplyResult, type MetadataCommand } from './commands.ts';
import { MetadataStateMachine, type MetadataStateMachineOptions } from './state-machine.ts';

const ns = 'default';
const h = (n: number): string => n.toString(16).padStart(64, '0');

/** A state machine plus a fake log: each command becomes the next entry. */
class Log {
  sm: MetadataStateMachine;
  index = 0;
  seq = 0;
  commits: { namespace: string; index: number; files: FileInfo[] }[] = [];

  constructor(options: Partial<MetadataStateMachineOptions> = {}) {
    this.sm = new MetadataStateMachine(options);
    this.sm.onCommit = (namespace, index, files) => this.commits.push({ namespace, index, files });
  }

  applyRaw(data: Uint8Array): ApplyResult {
    return this.sm.apply({ term: 1, index: ++this.index, type: 'normal', data });
  }

  apply(command: MetadataCommand): ApplyResult {
    return this.applyRaw(encodeCommand(command));
  }

  register(...blocks: [number, number][]): ApplyResult {
    return this.apply({ kind: 'register', client: 'c', seq: ++this.seq, blocks: blocks.map(([n, size]) => ({ hash: h(n), size, owners: ['n1'] })) });
  }

  commit(changes: Partial<FileChange>[], device = 'd1', namespace = ns): ApplyResult {
    return this.apply({ kind: 'commit', namespace, client: 'c', seq: ++this.seq, device, changes: changes.map(change), pathRules: 1 });
  }

  ok(changes: Partial<FileChange>[], device = 'd1'): FileInfo[] {
    const result = this.commit(changes, device);
    if (!result.ok) throw new Error(`expected the commit to apply: ${result.error.code} ${result.error.message}`);
    return (result.result as { files: FileInfo[] }).files;
  }
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && a.every((byte, i) => byte === b[i]);
}

function change(partial: Partial<FileChange>): FileChange {
  return { path: 'a.txt', deleted: false, blocks: [], size: 0, mtime: 1000, mode: 0o644, ...partial };
}

function error(result: ApplyResult): { code: string; message: string; details?: Record<string, unknown> } {
  if (result.ok) throw new Error('expected the command to be refused');
  return result.error;
}

test('a new file is version 1; each change and a delete add one; the tombstone is empty', () => {
  const log = new Log();
  log.register([1, 10], [2, 5]);
  const [v1] = log.ok([{ path: 'a.txt', blocks: [{ hash: h(1), size: 10 }], size: 10 }]);
  assert.is(v1!.version, 1);
  assert.is(v1!.index, 2);
  assert.is(v1!.device, 'd1');
  assert.equal(v1!.clock, { d1: 1 });
  const [v2] = log.ok([{ path: 'a.txt', blocks: [{ hash: h(1), size: 10 }, { hash: h(2), size: 5 }], size: 15, ifVersion: 1 }], 'd2');
  assert.is(v2!.version, 2);
  assert.equal(v2!.clock, { d1: 1, d2: 1 });
  const [v3] = log.ok([{ path: 'a.txt', deleted: true, ifVersion: 2 }]);
  assert.equal({ version: v3!.version, deleted: v3!.deleted, size: v3!.size, blocks: v3!.blocks }, { version: 3, deleted: true, size: 0, blocks: [] });
  assert.equal(v3!.clock, { d1: 2, d2: 1 });
  assert.is(log.sm.stat(ns, 'a.txt')!.version, 3);
  assert.equal(log.sm.list(ns, ''), []);
  assert.equal(log.sm.list(ns, '', true).map((f) => f.version), [3]);
  assert.equal(log.sm.history(ns, 'a.txt').map((f) => f.version), [3, 2, 1]);
  assert.is(log.sm.stat(ns, 'a.txt', 2)!.size, 15);
  assert.is(log.sm.stat(ns, 'never.txt'), null);
  assert.equal(log.sm.history(ns, 'never.txt'), []);
});

test('the writer clock is merged in, then the device counter raised', () => {
  const log = new Log();
  log.ok([{ clock: { d9: 4, d1: 7 } }]);
  assert.equal(log.sm.stat(ns, 'a.txt')!.clock, { d1: 8, d9: 4 });
});

test('compare-and-set: ifVersion 0 refuses an existing file, accepts a new path or a tombstone', () => {
  const log = new Log();
  log.ok([{ ifVersion: 0 }]);
  const refused = error(log.commit([{ ifVersion: 0 }]));
  assert.is(refused.code, 'conflict');
  assert.match(refused.message, '"a.txt" is at version 1');
  assert.is((refused.details!.current as FileInfo).version, 1);
  assert.is(refused.details!.path, 'a.txt');
  log.ok([{ deleted: true }]);
  const [again] = log.ok([{ ifVersion: 0 }]);
  assert.is(again!.version, 3, 'recreating over a tombstone continues the version count');
});

test('compare-and-set: ifVersion N must be the current version exactly', () => {
  const log = new Log();
  const missing = error(log.commit([{ ifVersion: 1 }]));
  assert.is(missing.code, 'conflict');
  assert.is(missing.details!.current, null);
  assert.match(missing.message, 'does not exist');
  log.ok([{}]);
  log.ok([{ ifVersion: 1 }]);
  const stale = error(log.commit([{ ifVersion: 1 }]));
  assert.is(stale.code, 'conflict');
  assert.match(stale.message, 'version 2');
  assert.match(stale.message, 'expected version 1');
  log.ok([{}]);
  assert.is(log.sm.stat(ns, 'a.txt')!.version, 3, 'no ifVersion writes unconditionally');
});

test('a commit is all or nothing: one conflicting change refuses it and changes nothing', () => {
  const log = new Log();
  log.ok([{ path: 'x' }, { path: 'y' }]);
  const feedBefore = log.sm.changes(ns, 0);
  const commitsBefore = log.commits.length;
  const refused = error(log.commit([{ path: 'x', ifVersion: 1 }, { path: 'new' }, { path: 'y', ifVersion: 5 }]));
  assert.is(refused.code, 'conflict');
  assert.is(refused.details!.path, 'y');
  assert.is(log.sm.stat(ns, 'x')!.version, 1);
  assert.is(log.sm.stat(ns, 'new'), null);
  assert.equal(log.sm.changes(ns, 0).changes, feedBefore.changes);
  assert.is(log.commits.length, commitsBefore, 'no watcher hears of a refused commit');
});

test('deleting what does not exist, or is deleted, is not_found', () => {
  const log = new Log();
  assert.is(error(log.commit([{ deleted: true }])).code, 'not_found');
  log.ok([{}]);
  log.ok([{ deleted: true }]);
  assert.is(error(log.commit([{ deleted: true }])).code, 'not_found');
});

test('blocks must be registered, with the registered size, and sizes must add up', () => {
  const log = new Log();
  log.register([1, 100]);
  const refused = error(log.commit([{ blocks: [{ hash: h(1), size: 100 }, { hash: h(2), size: 7 }, { hash: h(3), size: 1 }], size: 108 }]));
  assert.is(refused.code, 'not_found');
  assert.equal(refused.details!.missing, [h(2), h(3)]);
  assert.is(log.sm.stat(ns, 'a.txt'), null);
  assert.is(error(log.commit([{ blocks: [{ hash: h(1), size: 100 }], size: 99 }])).code, 'bad_message');
  assert.is(error(log.commit([{ blocks: [{ hash: h(1), size: 50 }], size: 50 }])).code, 'bad_message');
  log.register([2, 7], [3, 1]);
  log.ok([{ blocks: [{ hash: h(1), size: 100 }, { hash: h(2), size: 7 }, { hash: h(3), size: 1 }], size: 108 }]);
  assert.equal(log.sm.missingBlocks([h(1), h(4), h(4), h(2)]), [h(4)]);
});

test('the registry merges owners and counts under-replicated blocks against the live nodes', () => {
  const log = new Log({ ringMembers: ['n1', 'n2', 'n3'] });
  log.apply({ kind: 'register', client: 'c', seq: 1, blocks: [{ hash: h(1), size: 3, owners: ['n1'] }, { hash: h(2), size: 3, owners: ['n1', 'n2', 'n3'] }] });
  log.apply({ kind: 'register', client: 'c', seq: 2, blocks: [{ hash: h(1), size: 3, owners: ['n2', 'n1'] }] });
  assert.equal(log.sm.block(h(1)), { size: 3, owners: ['n1', 'n2'] });
  assert.equal(log.sm.registryCounts(3), { blocks: 2, underReplicated: 1 });
  assert.ok(log.apply({ kind: 'node', client: 'fd', seq: 1, node: 'n3', change: 'down' }).ok);
  assert.equal(log.sm.liveNodes(), ['n1', 'n2']);
  assert.equal(log.sm.registryCounts(3), { blocks: 2, underReplicated: 0 }, 'two live nodes can hold two copies, and both blocks have them');
  assert.ok(log.apply({ kind: 'node', client: 'fd', seq: 2, node: 'n1', change: 'down' }).ok);
  assert.equal(log.sm.registryCounts(3), { blocks: 2, underReplicated: 0 });
  assert.ok(log.apply({ kind: 'node', client: 'fd', seq: 3, node: 'n1', change: 'up' }).ok);
  assert.ok(log.apply({ kind: 'node', client: 'fd', seq: 4, node: 'n3', change: 'up' }).ok);
  assert.is(log.sm.ringEpoch, 4);
  assert.equal(log.sm.registryCounts(3), { blocks: 2, underReplicated: 1 });
  const conflicting = error(log.apply({ kind: 'register', client: 'c', seq: 3, blocks: [{ hash: h(1), size: 4, owners: ['n3'] }] }));
  assert.is(conflicting.code, 'bad_message');
  assert.equal(log.sm.block(h(1))!.owners, ['n1', 'n2'], 'a refused register changes nothing');
});

test('hostile paths and malformed commands are refused without touching the state', () => {
  const log = new Log();
  for (const path of ['/etc/passwd', '../x', 'a//b', 'a/./b', 'a\u0000b', 'a\\b', '', 'C:/x', 'cafe\u0301']) {
    const refused = error(log.commit([{ path }]));
    assert.is(refused.code, 'bad_path', `${JSON.stringify(path)}: ${refused.message}`);
  }
  assert.is(error(log.commit([{ path: 'x' }, { path: 'x' }])).code, 'bad_message');
  assert.is(error(log.commit([])).code, 'bad_message');
  assert.is(error(log.applyRaw(new Uint8Array([0xc1]))).code, 'bad_message');
  assert.is(error(log.applyRaw(encode({ kind: 'drop-table', client: 'c', seq: 1 }))).code, 'bad_message');
  assert.is(error(log.applyRaw(encode({ kind: 'commit', namespace: ns, client: 'c', seq: 99, device: 'd', changes: [{ path: 'a', deleted: false, blocks: [{ hash: 'zz', size: 1 }], size: 1, mtime: 0, mode: 0 }] }))).code, 'bad_message');
  assert.is(error(log.applyRaw(encode({ kind: 'commit', namespace: ns, client: 'c', seq: 100, device: 'd', changes: [{ path: 'a', deleted: false, blocks: [], size: 0, mtime: 0, mode: 0, clock: { d: -1 } }] }))).code, 'bad_message');
  // Ids are limited in UTF-8 bytes, not characters: 129 two-byte characters are 258 bytes.
  assert.match(error(log.commit([{ path: 'a' }], 'é'.repeat(129))).message, 'at most 256 UTF-8 bytes');
  assert.is(error(log.applyRaw(encode({ kind: 'register', client: 'c', seq: 101, blocks: [{ hash: h(1), size: 1, owners: ['é'.repeat(33)] }] }))).code, 'bad_message', 'a node id of 66 bytes');
  assert.equal(log.sm.list(ns, '', true), []);
  assert.is(log.sm.appliedIndex, log.index, 'refused entries still advance the applied index');
  assert.throws(() => log.sm.stat(ns, '../x'), (e: unknown) => isRaftboxError(e, 'bad_path'));
  assert.throws(() => log.sm.list(ns, '/'), (e: unknown) => isRaftboxError(e, 'bad_path'));
});

test('history keeps the newest historyVersionsMax versions', () => {
  const log = new Log({ historyVersionsMax: 3 });
  for (let i = 0; i < 5; i++) log.ok([{ mtime: i }]);
  assert.equal(log.sm.history(ns, 'a.txt').map((f) => f.version), [5, 4, 3]);
  assert.is(log.sm.stat(ns, 'a.txt', 3)!.mtime, 2);
  assert.throws(() => log.sm.stat(ns, 'a.txt', 2), (e: unknown) => isRaftboxError(e, 'unknown_version') && /versions 3 to 5/.test((e as Error).message));
  assert.throws(() => log.sm.stat(ns, 'a.txt', 9), (e: unknown) => isRaftboxError(e, 'unknown_version'));
});

test('list filters by prefix and sorts by path', () => {
  const log = new Log();
  log.ok([{ path: 'docs/b' }, { path: 'docs/a' }, { path: 'docsx' }, { path: 'z' }]);
  assert.equal(log.sm.list(ns, 'docs/').map((f) => f.path), ['docs/a', 'docs/b']);
  assert.equal(log.sm.list(ns, 'docs').map((f) => f.path), ['docs/a', 'docs/b', 'docsx']);
  assert.equal(log.sm.list(ns, '').map((f) => f.path), ['docs/a', 'docs/b', 'docsx', 'z']);
  assert.equal(log.sm.list('other', ''), []);
});

test('namespaces are separate', () => {
  const log = new Log();
  log.commit([{ path: 'same' }], 'd1', 'alice');
  log.commit([{ path: 'same', ifVersion: 0 }], 'd1', 'bob');
  assert.is(log.sm.stat('alice', 'same')!.version, 1);
  assert.is(log.sm.stat('bob', 'same')!.version, 1);
  assert.equal(log.sm.changes('bob', 0).changes.map((f) => f.path), ['same']);
});

test('the change feed lists versions after a cursor, per namespace, in order', () => {
  const log = new Log();
  log.ok([{ path: 'a' }, { path: 'b' }]); // index 1
  log.commit([{ path: 'other' }], 'd1', 'elsewhere'); // index 2
  log.ok([{ path: 'a' }]); // index 3
  const all = log.sm.changes(ns, 0);
  assert.equal(all.changes.map((f) => [f.path, f.version, f.index]), [['a', 1, 1], ['b', 1, 1], ['a', 2, 3]]);
  assert.is(all.cursor, 3);
  assert.is(all.reset, false);
  assert.equal(log.sm.changes(ns, 1).changes.map((f) => f.index), [3]);
  const none = log.sm.changes(ns, 3);
  assert.equal(none, { changes: [], cursor: 3, reset: false });
  const paged = log.sm.changes(ns, 0, 1);
  assert.equal(paged.changes.map((f) => f.path), ['a', 'b'], 'a commit is not split across pages');
  assert.is(paged.cursor, 1);
  assert.equal(log.sm.changes(ns, paged.cursor, 1).changes.map((f) => f.index), [3]);
});

test('the feed is bounded; a cursor older than what was dropped gets reset', () => {
  const log = new Log({ feedEntriesMax: 3 });
  for (let i = 0; i < 6; i++) log.ok([{ path: `f${i}` }]); // indexes 1..6, records 4..6 retained
  const old = log.sm.changes(ns, 1);
  assert.equal(old, { changes: [], cursor: 6, reset: true });
  const edge = log.sm.changes(ns, 3);
  assert.is(edge.reset, false, 'a cursor at the last dropped record missed nothing');
  assert.equal(edge.changes.map((f) => f.path), ['f3', 'f4', 'f5']);
  assert.is(log.sm.changes(ns, 6).reset, false);
  assert.is(log.sm.changes(ns, 60).reset, true, 'a cursor from the future starts over');
});

test('the feed skips versions dropped from history; the newer ones follow', () => {
  const log = new Log({ historyVersionsMax: 2 });
  for (let i = 0; i < 4; i++) log.ok([{}]);
  assert.equal(log.sm.changes(ns, 0).changes.map((f) => f.version), [3, 4]);
});

test('onCommit hears each applied commit with its files', () => {
  const log = new Log();
  log.ok([{ path: 'a' }, { path: 'b' }]);
  error(log.commit([{ path: 'a', ifVersion: 0 }]));
  assert.equal(log.commits.map((c) => [c.namespace, c.index, c.files.map((f) => f.path)]), [[ns, 1, ['a', 'b']]]);
});

test('sessions: a duplicate gets the recorded result without applying again; stale is refused', () => {
  const log = new Log();
  const command: MetadataCommand = { kind: 'commit', namespace: ns, client: 'phone', seq: 5, device: 'd', changes: [change({})] };
  const first = log.apply(command);
  const again = log.apply(command);
  assert.equal(again, first);
  assert.is(log.sm.stat(ns, 'a.txt')!.version, 1, 'applied once');
  assert.is(log.commits.length, 1);
  const refusedCommand: MetadataCommand = { ...command, seq: 6, changes: [change({ ifVersion: 7 })] };
  const refused = log.apply(refusedCommand);
  assert.equal(log.apply(refusedCommand), refused, 'error results are recorded too');
  const stale = error(log.apply({ ...command, seq: 4 }));
  assert.is(stale.code, 'bad_message');
  assert.match(stale.message, 'already applied');
  assert.is(log.sm.stat(ns, 'a.txt')!.version, 1);
});

test('a path is a file or a folder, never both: a commit that would make it both is refused whole', () => {
  const folder = 0o040755;
  const log = new Log();
  log.ok([{ path: 'a' }, { path: 'b/c' }, { path: 'd', mode: folder }]);
  const under = error(log.commit([{ path: 'x' }, { path: 'a/inner' }]));
  assert.is(under.code, 'path_conflict');
  assert.match(under.message, /"a\/inner" cannot be written: "a" is a file/);
  assert.equal(under.details, { kind: 'under-file', path: 'a/inner', file: 'a' });
  assert.is(log.sm.stat(ns, 'x'), null, 'nothing of the refused commit applied');
  const deep = error(log.commit([{ path: 'a/b/c/d' }]));
  assert.equal(deep.details, { kind: 'under-file', path: 'a/b/c/d', file: 'a' });
  const over = error(log.commit([{ path: 'b' }]));
  assert.equal(over.details, { kind: 'has-children', path: 'b' });
  assert.match(over.message, /"b" cannot be a file: it is a folder that still holds files/);
  // Folder records and implied folders (b, from b/c) take files below them.
  log.ok([{ path: 'd/e' }, { path: 'b/f', mode: folder }, { path: 'b/f/g' }]);
  // Judged on the tree after the whole commit: the folder emptied and replaced by a file at once is fine.
  log.ok([{ path: 'b/c', deleted: true }, { path: 'b/f/g', deleted: true }, { path: 'b/f', deleted: true }, { path: 'b' }]);
  log.ok([{ path: 'a', deleted: true }, { path: 'a/now-a-folder' }]);
  assert.is(error(log.commit([{ path: 'b/under-new-file' }])).code, 'path_conflict');
  // A tombstone is no file: writing below a deleted one is fine, and so is reviving one whose folder emptied.
  log.ok([{ path: 'a/now-a-folder', deleted: true }, { path: 'a' }]);
  assert.is(log.sm.stat(ns, 'a')?.version, 3);
});

test('after a snapshot is installed, commits that would make a path a file and a folder are still refused', () => {
  const log = new Log();
  log.ok([{ path: 'a' }, { path: 'b/c' }]);
  const copy = new MetadataStateMachine();
  copy.restore(log.sm.snapshot());
  const apply = (changes: Partial<FileChange>[], seq: number) =>
    copy.apply({ term: 1, index: log.index + seq, type: 'normal', data: encodeCommand({ kind: 'commit', namespace: ns, client: 'c2', seq, device: 'd', changes: changes.map(change), pathRules: 1 }) });
  assert.is(error(apply([{ path: 'a/x' }], 1)).code, 'path_conflict');
  assert.is(error(apply([{ path: 'b' }], 2)).code, 'path_conflict');
  assert.ok(apply([{ path: 'b/d' }], 3).ok);
});

test('a commit logged before the file-or-folder rule (no pathRules) replays as it was first applied', () => {
  const log = new Log();
  log.ok([{ path: 'a' }]);
  const old = log.applyRaw(encode({ kind: 'commit', namespace: ns, client: 'older-build', seq: 1, device: 'd', changes: [change({ path: 'a/b' })] }));
  assert.ok(old.ok, 'applied without the rule, as the build that logged it did');
  assert.is(log.sm.stat(ns, 'a/b')?.version, 1);
  assert.is(error(log.applyRaw(encode({ kind: 'commit', namespace: ns, client: 'older-build', seq: 2, device: 'd', changes: [change({ path: 'a/c' })], pathRules: 2 }))).code, 'bad_message');
});

test('snapshot and restore carry files, history, registry, feed, sessions and the applied index', () => {
  const log = new Log({ feedEntriesMax: 4 });
  log.register([1, 4]);
  for (let i = 0; i < 3; i++) log.ok([{ path: `f${i}`, blocks: [{ hash: h(1), size: 4 }], size: 4, clock: { z: i } }, { path: 'shared' }]);
  log.ok([{ path: 'shared', deleted: true }]);
  const lastCommand: MetadataCommand = { kind: 'commit', namespace: ns, client: 'tablet', seq: 1, device: 'd', changes: [change({ path: 'g' })] };
  const lastResult = log.apply(lastCommand);
  const copy = new MetadataStateMachine({ feedEntriesMax: 4 });
  copy.restore(log.sm.snapshot());
  assert.equal(copy.snapshot(), log.sm.snapshot());
  assert.is(copy.appliedIndex, log.sm.appliedIndex);
  assert.equal(copy.list(ns, '', true), log.sm.list(ns, '', true));
  assert.equal(copy.history(ns, 'shared'), log.sm.history(ns, 'shared'));
  assert.equal(copy.changes(ns, 0), log.sm.changes(ns, 0));
  assert.equal(copy.changes(ns, 4), log.sm.changes(ns, 4));
  assert.equal(copy.registryCounts(3), log.sm.registryCounts(3));
  assert.equal(copy.apply({ term: 2, index: log.index + 1, type: 'normal', data: encodeCommand(lastCommand) }), lastResult, 'the session survived');
  const next = copy.apply({ term: 2, index: log.index + 2, type: 'normal', data: encodeCommand({ ...lastCommand, seq: 2, changes: [change({ path: 'shared', ifVersion: 4 })] }) });
  assert.ok(next.ok, 'the restored copy continues from the same versions');
});

test('a snapshot holds the state of when it began, whatever is applied between its steps', () => {
  const options = { historyVersionsMax: 3, feedEntriesMax: 50 };
  const a = new Log(options);
  const entries: Uint8Array[] = [];
  const original = a.applyRaw.bind(a);
  a.applyRaw = (data) => (entries.push(data), original(data));
  a.register([1, 4], [2, 4]);
  for (let i = 0; i < 3000; i++) a.ok([{ path: `p${i % 700}`, blocks: [{ hash: h(1 + (i % 2)), size: 4 }], size: 4 }], `d${i % 3}`);
  const step = a.sm.beginSnapshot();
  const begunAt = entries.length;
  const reference = new MetadataStateMachine(options);
  entries.forEach((data, i) => reference.apply({ term: 1, index: i + 1, type: 'normal', data }));

  // Between steps: new versions push older ones out of the same histories, a block gains
  // an owner in place, paths are deleted, sessions move on.
  let data: Uint8Array | null = null;
  let steps = 0;
  for (let i = 0; data === null; i++) {
    a.ok([{ path: `p${i % 700}`, blocks: [{ hash: h(2), size: 4 }], size: 4 }, { path: `new${i}` }], 'd9');
    a.apply({ kind: 'register', client: 'other', seq: i + 1, blocks: [{ hash: h(1), size: 4, owners: [`n${i + 2}`] }] });
    if (i % 5 === 0) a.ok([{ path: `p${(i * 7) % 700}`, deleted: true }]);
    data = step();
    steps++;
  }
  assert.ok(steps > 2, `the snapshot took ${steps} steps`);
  // Compared with ok(): uvu's diff of two large arrays takes minutes.
  assert.ok(sameBytes(data, reference.snapshot()), 'the bytes are those of a replica that stopped where the snapshot began');
  const restored = new MetadataStateMachine(options);
  restored.restore(data);
  assert.is(restored.appliedIndex, begunAt);
  assert.equal(restored.list(ns, '', true), reference.list(ns, '', true));
});

test('a snapshot from the leader is installed in steps, and queries see the old state until the last', () => {
  const options = { historyVersionsMax: 3, feedEntriesMax: 50 };
  const leader = new Log(options);
  leader.register([1, 4]);
  for (let i = 0; i < 3000; i++) leader.ok([{ path: `p${i % 2000}`, blocks: [{ hash: h(1), size: 4 }], size: 4 }], `d${i % 3}`);
  const data = leader.sm.snapshot();

  const follower = new Log(options);
  follower.register([2, 4]);
  follower.ok([{ path: 'old', blocks: [{ hash: h(2), size: 4 }], size: 4 }]);
  const before = follower.sm.appliedIndex;
  let restoredFrom: number | null = null;
  follower.sm.onRestored = (previousIndex) => (restoredFrom = previousIndex);
  const step = follower.sm.beginRestore(data);
  let steps = 1;
  for (; !step(); steps++) {
    assert.ok(follower.sm.stat(ns, 'old'), 'the old state stands between steps');
    assert.is(follower.sm.stat(ns, 'p0'), null);
    assert.is(follower.sm.appliedIndex, before);
    assert.is(restoredFrom, null);
  }
  assert.ok(steps > 2, `the install took ${steps} steps`);
  assert.is(restoredFrom, before);
  assert.is(follower.sm.stat(ns, 'old'), null);
  assert.is(follower.sm.appliedIndex, leader.sm.appliedIndex);
  assert.ok(sameBytes(follower.sm.snapshot(), data), "the installed state is the leader's, byte for byte");
});

test('a snapshot this build cannot read is refused with a sentence, and the state is kept', () => {
  const log = new Log();
  log.ok([{ path: 'kept' }]);
  const good = log.sm.snapshot();
  const refusals: [Uint8Array, RegExp][] = [
    [encode({ format: 2, appliedIndex: 1 }), /metadata snapshot format 2 is not 1; this build cannot read it/],
    [encode({ format: 1, appliedIndex: 1, extra: [] }), /unknown key "extra"/],
    [encode({ appliedIndex: 1 }), /does not say its format/],
    [good.subarray(0, good.byteLength - 3), /runs past the end/],
    [encode([1, 2]), /expected a map at byte 0/],
  ];
  for (const [data, message] of refusals) {
    const copy = new MetadataStateMachine();
    copy.restore(log.sm.snapshot());
    assert.throws(() => copy.restore(data), message);
    assert.ok(copy.stat(ns, 'kept'), 'a refused snapshot changes nothing');
  }
});

test('two replicas fed the same entries end byte-identical', () => {
  const a = new Log({ historyVersionsMax: 3, feedEntriesMax: 5 });
  const b = new MetadataStateMachine({ historyVersionsMax: 3, feedEntriesMax: 5 });
  const entries: Uint8Array[] = [];
  const original = a.applyRaw.bind(a);
  a.applyRaw = (data) => (entries.push(data), original(data));
  a.register([1, 1]);
  for (let i = 0; i < 20; i++) a.commit([{ path: `p${i % 4}`, ifVersion: i % 3 === 0 ? 0 : undefined, deleted: i % 5 === 4 }], `d${i % 2}`);
  entries.forEach((data, i) => b.apply({ term: 1, index: i + 1, type: 'normal', data }));
  assert.equal(b.snapshot(), a.sm.snapshot());
});


test('garbage collection forgets only unreferenced blocks whose grace period is over', () => {
  const log = new Log({ ringMembers: ['n1', 'n2'] });
  const dropped: string[][] = [];
  log.sm.onBlocksDropped = (hashes) => dropped.push(hashes);
  const register = (seq: number, n: number, atMs: number) => log.apply({ kind: 'register', client: 'r', seq, blocks: [{ hash: h(n), size: 10, owners: ['n1', 'n2'] }], atMs });
  register(1, 1, 1000);
  register(2, 2, 1000);
  register(3, 3, 5000);
  log.ok([{ path: 'kept', blocks: [{ hash: h(1), size: 10 }], size: 10 }]);
  log.ok([{ path: 'old', blocks: [{ hash: h(2), size: 10 }], size: 10 }]);
  log.ok([{ path: 'old', ifVersion: 1, blocks: [], size: 0 }]);
  const gc = (seq: number, nowMs: number) => log.apply({ kind: 'gc', client: 'g', seq, nowMs, graceMs: 3000 });
  assert.equal(gc(1, 6000), { ok: true, result: { deletedBlocks: 0, freedBytes: 0 } }, 'h2 is still in the history of "old"; h3 is within its grace');
  for (let version = 2; version < 102; version++) log.ok([{ path: 'old', ifVersion: version, blocks: [], size: 0 }]);
  assert.equal(gc(2, 6000), { ok: true, result: { deletedBlocks: 1, freedBytes: 20 } }, 'h2 fell out of the retained history');
  assert.equal(dropped, [[h(2)]]);
  assert.equal(gc(3, 9000), { ok: true, result: { deletedBlocks: 1, freedBytes: 20 } }, 'h3 was never committed and its grace is over');
  assert.equal(log.sm.missingBlocks([h(1), h(2), h(3)]), [h(2), h(3)]);
});

test('garbage collection forgets exactly the blocks no retained version names, also after a snapshot is installed', () => {
  const options = { historyVersionsMax: 3 };
  const log = new Log(options);
  const numbers = Array.from({ length: 30 }, (_, i) => i + 1);
  log.register(...numbers.map((n): [number, number] => [n, 10]));
  const paths = ['a', 'b', 'c', 'd', 'e', 'f'];
  let seed = 7;
  const next = (n: number): number => (seed = (seed * 16807) % 2147483647) % n;
  // One or two of the first `among` paths a commit; each version names 1-3 of blocks
  // 1-29 (a block may repeat), or is a delete. Block 30 is registered and never named.
  const randomCommit = (logs: Log[], among: number): void => {
    const changes = [...new Set([paths[next(among)]!, paths[next(among)]!])].map((path) => {
      const current = log.sm.stat(ns, path);
      const deleted = current !== null && !current.deleted && next(6) === 0;
      const blocks = deleted ? [] : Array.from({ length: 1 + next(3) }, () => ({ hash: h(1 + next(29)), size: 10 }));
      return { path, deleted, blocks, size: blocks.length * 10 };
    });
    for (const each of logs) each.ok(changes);
  };
  for (let i = 0; i < 150; i++) randomCommit([log], 6);
  const copy = new Log(options);
  copy.sm.restore(log.sm.snapshot());
  copy.index = log.index;
  copy.seq = log.seq;
  // After the install, only a, b and c change: their older versions, counted from the
  // snapshot, are trimmed; those of d, e and f stay, still counted from the snapshot.
  for (let i = 0; i < 150; i++) randomCommit([log, copy], 3);
  const named = new Set(paths.flatMap((path) => log.sm.history(ns, path).flatMap((version) => version.blocks.map((block) => block.hash))));
  const unnamed = numbers.map(h).filter((hash) => !named.has(hash));
  assert.ok(unnamed.length > 0 && unnamed.length < numbers.length, `the history leaves some blocks unnamed and names others: ${unnamed.length}`);
  for (const each of [log, copy]) {
    const dropped: string[] = [];
    each.sm.onBlocksDropped = (hashes) => dropped.push(...hashes);
    const result = each.apply({ kind: 'gc', client: 'g', seq: 1, nowMs: 10_000, graceMs: 1000 });
    assert.equal(result, { ok: true, result: { deletedBlocks: unnamed.length, freedBytes: unnamed.length * 10 } });
    assert.equal(dropped.sort(), unnamed);
  }
});

test.run();
