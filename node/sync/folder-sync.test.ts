// `raftbox sync` as users run it: real node processes on loopback, real folders, the real
// command in child processes. Propagation both ways, moves that upload nothing (a folder
// moved whole arrives as one rename), conflict copies, an outage, a sync killed
// mid-upload, and --watch through a node failure.

import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { appendFileSync, chmodSync, existsSync, lstatSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { LocalCluster, waitForLeader } from '../host/local-cluster.ts';
import { connect } from '../sdk.ts';
import { eventually } from '../host/eventually.ts';

const shim = fileURLToPath(new URL('../cli/raftbox.js', import.meta.url));
const sleep = (ms: number) => new Promise((done) => setTimeout(done, ms));

interface Setup {
  cluster: LocalCluster;
  root: string;
  folder(name: string): string;
  sync(dir: string, ...flags: string[]): Promise<{ status: number | null; summary: Record<string, unknown> | null; stderr: string }>;
  /** Runs another raftbox command against the cluster. */
  raftbox(...args: string[]): { status: number | null; stdout: string; stderr: string };
  done(): Promise<void>;
}

async function setup(): Promise<Setup> {
  const cluster = await LocalCluster.start({ nodes: 3 });
  const client = await connect({ servers: cluster.urls });
  await waitForLeader(client);
  await client.close();
  const root = mkdtempSync(join(tmpdir(), 'raftbox-sync-'));
  const env = { ...process.env, RAFTBOX_SERVER: cluster.urls.join(',') };
  return {
    cluster,
    root,
    folder: (name) => {
      const dir = join(root, name);
      mkdirSync(dir, { recursive: true });
      return dir;
    },
    sync: async (dir, ...flags) => {
      const result = spawnSync(process.execPath, [shim, 'sync', dir, '--json', ...flags], { encoding: 'utf8', env, timeout: 120_000 });
      const last = result.stdout.trim().split('\n').pop() ?? '';
      return { status: result.status, summary: last.startsWith('{') ? JSON.parse(last) : null, stderr: result.stderr };
    },
    raftbox: (...args) => {
      const result = spawnSync(process.execPath, [shim, ...args], { encoding: 'utf8', env, timeout: 60_000 });
      return { status: result.status, stdout: result.stdout, stderr: result.stderr };
    },
    done: async () => {
      await cluster.destroy();
      rmSync(root, { recursive: true, force: true });
    },
  };
}

/** Every file and folder under `dir` (state folder excluded): path → content, `<dir>`, with `+x` for executables. */
function snapshot(dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  const walk = (folder: string): void => {
    for (const name of readdirSync(folder).sort()) {
      const path = join(folder, name);
      const key = relative(dir, path);
      if (key === '.raftbox') continue;
      const stats = statSync(path);
      if (stats.isDirectory()) {
        out[key] = '<dir>';
        walk(path);
      } else {
        out[key] = `${readFileSync(path).toString('base64').slice(0, 80)}:${stats.size}${stats.mode & 0o100 ? '+x' : ''}`;
      }
    }
  };
  walk(dir);
  return out;
}

test('creates, edits, deletes, moves and renames propagate both ways; a large rename uploads nothing', async () => {
  const s = await setup();
  try {
    const a = s.folder('a');
    const b = s.folder('b');
    mkdirSync(join(a, 'docs/deep'), { recursive: true });
    mkdirSync(join(a, 'empty'));
    writeFileSync(join(a, 'docs/deep/notes.txt'), 'first notes');
    writeFileSync(join(a, 'large.bin'), randomBytes(6 * 1024 * 1024));
    writeFileSync(join(a, 'tool.sh'), '#!/bin/sh\necho hi\n');
    chmodSync(join(a, 'tool.sh'), 0o755);
    writeFileSync(join(a, 'zero'), '');
    writeFileSync(join(a, '.DS_Store'), 'finder litter');
    writeFileSync(join(a, '.raftboxignore'), 'build/\n*.log\n');
    mkdirSync(join(a, 'build'));
    writeFileSync(join(a, 'build/out.o'), 'object');
    writeFileSync(join(a, 'debug.log'), 'log');
    const first = await s.sync(a);
    assert.is(first.status, 0, first.stderr);
    assert.is(first.summary!.filesUp, 8, 'folders, files, the 0-byte file and .raftboxignore; not the ignored ones');
    const intoB = await s.sync(b);
    assert.is(intoB.status, 0, intoB.stderr);
    const expected = snapshot(a);
    delete expected['.DS_Store'];
    delete expected['build'];
    delete expected['build/out.o'];
    delete expected['debug.log'];
    assert.equal(snapshot(b), expected);

    // b edits, renames the large file and deletes; a moves a folder.
    writeFileSync(join(b, 'docs/deep/notes.txt'), 'notes edited on b');
    renameSync(join(b, 'large.bin'), join(b, 'large renamed.bin'));
    rmSync(join(b, 'zero'));
    const fromB = await s.sync(b);
    assert.is(fromB.status, 0, fromB.stderr);
    assert.is(fromB.summary!.moves, 1);
    assert.ok((fromB.summary!.uploadedBytes as number) < 100, `only the edited note is uploaded, not the renamed 6 MiB (${fromB.summary!.uploadedBytes} bytes)`);
    const intoA = await s.sync(a);
    assert.is(intoA.summary!.moves, 1);
    assert.is(intoA.summary!.downloadedBytes, 'notes edited on b'.length, 'the rename is applied locally, not downloaded');
    renameSync(join(a, 'docs'), join(a, 'papers'));
    assert.is((await s.sync(a)).status, 0);
    const folderInode = statSync(join(b, 'docs')).ino;
    const moveIntoB = await s.sync(b);
    assert.is(moveIntoB.status, 0, moveIntoB.stderr);
    assert.is(statSync(join(b, 'papers')).ino, folderInode, 'the folder is renamed whole, not rebuilt file by file');
    assert.is(moveIntoB.summary!.moves, 3, 'the folder, its subfolder and the note move');
    const finalA = snapshot(a);
    for (const litter of ['.DS_Store', 'build', 'build/out.o', 'debug.log']) delete finalA[litter];
    assert.equal(snapshot(b), finalA);
    assert.is(readFileSync(join(b, 'papers/deep/notes.txt'), 'utf8'), 'notes edited on b');
    assert.not.ok(existsSync(join(b, 'zero')));
    assert.ok(statSync(join(b, 'tool.sh')).mode & 0o100, 'the executable bit survives');

    // Restoring old versions brings back their mode and kind: the script is executable again, the folder a folder.
    writeFileSync(join(b, 'tool.sh'), 'plain text now\n');
    chmodSync(join(b, 'tool.sh'), 0o644);
    rmSync(join(b, 'empty'), { recursive: true });
    assert.is((await s.sync(b)).status, 0);
    const history = JSON.parse(s.raftbox('history', 'tool.sh', '--json').stdout) as { versions: { version: number }[] };
    assert.equal(history.versions.map((v) => v.version), [2, 1]);
    const restoreTool = s.raftbox('restore', 'tool.sh', '1', '--json');
    assert.is(restoreTool.status, 0, restoreTool.stderr);
    assert.equal(JSON.parse(restoreTool.stdout), { path: 'tool.sh', restored: 1, version: 3 });
    const restoreFolder = s.raftbox('restore', 'empty', '1');
    assert.is(restoreFolder.status, 0, restoreFolder.stderr);
    const deletion = s.raftbox('restore', 'empty', '2');
    assert.is(deletion.status, 1, 'a deletion cannot be restored');
    assert.match(deletion.stderr, /version 2 of empty is a deletion/);
    assert.is((await s.sync(a)).status, 0);
    assert.is(readFileSync(join(a, 'tool.sh'), 'utf8'), '#!/bin/sh\necho hi\n');
    assert.ok(statSync(join(a, 'tool.sh')).mode & 0o100, 'the restored script is executable again');
    assert.ok(statSync(join(a, 'empty')).isDirectory(), 'the restored folder is a folder');
  } finally {
    await s.done();
  }
});

test('a folder renamed on one side while a file in it is edited on the other ends up renamed and edited, with no conflict', async () => {
  const s = await setup();
  try {
    const a = s.folder('a');
    const b = s.folder('b');
    mkdirSync(join(a, 'proj', 'src'), { recursive: true });
    writeFileSync(join(a, 'proj', 'src', 'main.c'), 'v1');
    writeFileSync(join(a, 'proj', 'README'), 'readme');
    assert.is((await s.sync(a)).status, 0);
    assert.is((await s.sync(b)).status, 0);
    // The rename reaches the cluster first: the edit follows it on b.
    renameSync(join(a, 'proj'), join(a, 'project'));
    writeFileSync(join(b, 'proj', 'src', 'main.c'), 'v2 from b');
    assert.is((await s.sync(a)).status, 0);
    const edited = await s.sync(b);
    assert.is(edited.status, 0, edited.stderr);
    assert.equal(edited.summary!.conflicts, []);
    assert.is((await s.sync(a)).status, 0);
    const expected = { project: '<dir>', 'project/README': snapshot(a)['project/README'], 'project/src': '<dir>', 'project/src/main.c': `${Buffer.from('v2 from b').toString('base64')}:9` };
    assert.equal(snapshot(a), expected);
    assert.equal(snapshot(b), expected);
    // The edit reaches the cluster first: the rename on a brings it along.
    writeFileSync(join(b, 'project', 'src', 'main.c'), 'v3 from b');
    renameSync(join(a, 'project'), join(a, 'final'));
    assert.is((await s.sync(b)).status, 0);
    const renamed = await s.sync(a);
    assert.is(renamed.status, 0, renamed.stderr);
    assert.equal(renamed.summary!.conflicts, []);
    assert.is((await s.sync(b)).status, 0);
    for (const dir of [a, b]) {
      assert.equal(Object.keys(snapshot(dir)), ['final', 'final/README', 'final/src', 'final/src/main.c']);
      assert.is(readFileSync(join(dir, 'final', 'src', 'main.c'), 'utf8'), 'v3 from b');
    }
  } finally {
    await s.done();
  }
});

test('concurrent edits keep both contents: the later sync gets a conflict copy', async () => {
  const s = await setup();
  try {
    const a = s.folder('a');
    const b = s.folder('b');
    writeFileSync(join(a, 'report.txt'), 'v1');
    await s.sync(a);
    await s.sync(b);
    writeFileSync(join(a, 'report.txt'), 'edited on a');
    writeFileSync(join(b, 'report.txt'), 'edited on b');
    await s.sync(a);
    const result = await s.sync(b, '--device', 'ignored-after-first-run');
    assert.is(result.status, 0, result.stderr);
    const conflicts = result.summary!.conflicts as string[];
    assert.is(conflicts.length, 1);
    assert.match(conflicts[0]!, /^report \(conflicted copy from .+ \d{4}-\d\d-\d\d \d{6}\)\.txt$/);
    assert.is(readFileSync(join(b, 'report.txt'), 'utf8'), 'edited on a');
    assert.is(readFileSync(join(b, conflicts[0]!), 'utf8'), 'edited on b');
    await s.sync(a);
    assert.is(readFileSync(join(a, conflicts[0]!), 'utf8'), 'edited on b');
  } finally {
    await s.done();
  }
});

test('a file and a folder at the same path keep both: files put with the CLI imply folders, and a file made over one moves aside', async () => {
  const s = await setup();
  try {
    const a = s.folder('a');
    const b = s.folder('b');
    // Here a file "notes"; in the cluster, notes/today.txt from the CLI, which names no folder record.
    writeFileSync(join(a, 'notes'), 'a file on a');
    writeFileSync(join(s.root, 'today.txt'), 'put with the CLI');
    assert.is(s.raftbox('put', join(s.root, 'today.txt'), 'notes/today.txt').status, 0);
    const first = await s.sync(a);
    assert.is(first.status, 0, first.stderr);
    const conflicts = first.summary!.conflicts as string[];
    assert.is(conflicts.length, 1, JSON.stringify(first.summary));
    assert.match(conflicts[0]!, /^notes \(conflicted copy from .+\)$/);
    assert.is(readFileSync(join(a, 'notes', 'today.txt'), 'utf8'), 'put with the CLI');
    assert.is(readFileSync(join(a, conflicts[0]!), 'utf8'), 'a file on a');
    // The cluster would not have taken the file over the folder, nor a file below a file.
    const over = s.raftbox('put', join(s.root, 'today.txt'), 'notes');
    assert.match(over.stderr, /path_conflict/);
    assert.match(s.raftbox('put', join(s.root, 'today.txt'), `${conflicts[0]}/inside.txt`).stderr, /path_conflict/);
    // The other way round: b holds a folder "plans" with a new file, and a replaced the
    // synced folder "plans" by a file meanwhile. b's folder moves aside, whole.
    mkdirSync(join(a, 'plans'));
    writeFileSync(join(a, 'plans', 'old.txt'), 'old plan');
    assert.is((await s.sync(a)).status, 0);
    assert.is((await s.sync(b)).status, 0);
    // A synced folder is a record too, but neither a file to get nor one to remove with what it holds.
    const got = s.raftbox('get', 'plans', join(s.root, 'plans.out'));
    assert.is(got.status, 1);
    assert.match(got.stderr, /"plans" is a folder, not a file/);
    assert.not.ok(existsSync(join(s.root, 'plans.out')), 'nothing was written');
    const removed = s.raftbox('rm', 'plans');
    assert.is(removed.status, 1);
    assert.match(removed.stderr, /"plans" is a folder that still holds files; remove those first/);
    rmSync(join(a, 'plans'), { recursive: true });
    writeFileSync(join(a, 'plans'), 'plans are a file now');
    writeFileSync(join(b, 'plans', 'new.txt'), 'a new plan on b');
    const replaced = await s.sync(a);
    assert.is(replaced.status, 0, replaced.stderr);
    const second = await s.sync(b);
    assert.is(second.status, 0, second.stderr);
    const moved = (second.summary!.conflicts as string[]).find((path) => path.startsWith('plans (conflicted copy'));
    assert.ok(moved !== undefined, JSON.stringify(second.summary));
    assert.is(readFileSync(join(b, 'plans'), 'utf8'), 'plans are a file now');
    assert.is(readFileSync(join(b, moved!, 'new.txt'), 'utf8'), 'a new plan on b');
    assert.is((await s.sync(a)).status, 0);
    assert.is((await s.sync(b)).status, 0);
    assert.equal(snapshot(a), snapshot(b));
    assert.is(readFileSync(join(a, moved!, 'new.txt'), 'utf8'), 'a new plan on b');
  } finally {
    await s.done();
  }
});

test('a path this disk cannot name is left out with a warning, and the rest syncs', async () => {
  const s = await setup();
  try {
    const a = s.folder('a');
    const long = `${'n'.repeat(300)}.txt`;
    writeFileSync(join(s.root, 'put.txt'), 'from the CLI');
    assert.is(s.raftbox('put', join(s.root, 'put.txt'), `docs/${long}`).status, 0, 'the cluster takes names of 300 bytes');
    assert.is(s.raftbox('put', join(s.root, 'put.txt'), 'docs/short.txt').status, 0);
    writeFileSync(join(a, 'mine.txt'), 'local');
    const result = await s.sync(a);
    assert.is(result.status, 0, result.stderr);
    assert.match(result.stderr, /"docs\/n+\.txt" is left out of this sync: the name "n+…" is 304 bytes, and a file name on this disk may have at most 255/);
    assert.equal(Object.keys(snapshot(a)), ['docs', 'docs/short.txt', 'mine.txt']);
    assert.is(readFileSync(join(a, 'docs', 'short.txt'), 'utf8'), 'from the CLI');
    assert.match(s.raftbox('ls', 'mine.txt').stdout, /mine\.txt/);
    // Nothing here stands for it, so nothing deletes it there.
    const again = await s.sync(a);
    assert.equal([again.summary!.filesUp, again.summary!.filesDown, again.summary!.deleted], [0, 0, 0]);
    assert.match(s.raftbox('ls', 'docs').stdout, /n{300}\.txt/);
  } finally {
    await s.done();
  }
});

test('a local name the cluster cannot hold is left out with a warning saying why, never silently', async () => {
  const s = await setup();
  try {
    const a = s.folder('a');
    writeFileSync(join(a, 'fine.txt'), 'synced');
    // Linux allows any bytes but '/' and NUL in a name; these have no path in the cluster.
    writeFileSync(Buffer.concat([Buffer.from(`${a}/bad-`), Buffer.from([0xff]), Buffer.from('-name.txt')]), 'not UTF-8');
    writeFileSync(join(a, 'new\nline.txt'), 'control character');
    writeFileSync(join(a, 'back\\slash.txt'), 'backslash');
    assert.is(spawnSync('mkfifo', [join(a, 'pipe')]).status, 0);
    const result = await s.sync(a);
    assert.is(result.status, 0, result.stderr);
    assert.match(result.stderr, /bad-\uFFFD-name\.txt has a name that is not valid UTF-8 text/);
    assert.match(result.stderr, /"new\\nline\.txt" cannot be synced as it is named \(a path must not contain control characters\); rename it/);
    assert.match(result.stderr, /back\\slash\.txt cannot be synced as it is named \(a path must separate folders with '\/'/);
    assert.match(result.stderr, /pipe is not a regular file; it is not synced/);
    assert.equal([result.summary!.filesUp, result.summary!.deleted], [1, 0]);
    assert.equal((JSON.parse(s.raftbox('ls', '--json').stdout).files as { path: string }[]).map((f) => f.path), ['fine.txt']);
    // Warned once per run, and the next run still syncs the rest (the FIFO is never opened, so nothing blocks).
    writeFileSync(join(a, 'fine.txt'), 'synced again');
    const again = await s.sync(a);
    assert.is(again.status, 0, again.stderr);
    assert.is(again.summary!.filesUp, 1);
    // A synced file replaced by a symbolic link is not taken for deleted: it stays in the
    // cluster (and on other devices), and the link stays here.
    rmSync(join(a, 'fine.txt'));
    symlinkSync('/etc/hostname', join(a, 'fine.txt'));
    const linked = await s.sync(a);
    assert.is(linked.status, 0, linked.stderr);
    assert.match(linked.stderr, /fine\.txt is a symbolic link; it is not synced, and nothing at that path is changed in the cluster/);
    assert.equal([linked.summary!.filesUp, linked.summary!.filesDown, linked.summary!.deleted], [0, 0, 0]);
    assert.equal((JSON.parse(s.raftbox('ls', '--json').stdout).files as { path: string }[]).map((f) => f.path), ['fine.txt']);
    assert.ok(lstatSync(join(a, 'fine.txt')).isSymbolicLink());
  } finally {
    await s.done();
  }
});

test('names in NFD form (as macOS writes accents) sync under their NFC paths and keep their own names on disk', async () => {
  const s = await setup();
  try {
    const a = s.folder('a');
    const b = s.folder('b');
    const nfdFolder = 'bru\u0302le\u0301e'; // brûlée, decomposed
    mkdirSync(join(a, nfdFolder));
    writeFileSync(join(a, nfdFolder, 'recipe.txt'), 'v1');
    writeFileSync(join(a, 'nai\u0308ve.txt'), 'naive');
    // Linux tells the forms apart, so one folder can hold both: the NFC one syncs.
    writeFileSync(join(a, 'tw\u00edn.txt'), 'NFC twin');
    writeFileSync(join(a, 'twi\u0301n.txt'), 'NFD twin');
    const first = await s.sync(a);
    assert.is(first.status, 0, first.stderr);
    assert.match(first.stderr, /tw\u00edn\.txt is here twice, under its NFC name and under a different \(NFD\) form of it; only the NFC one is synced/);
    const listed = (JSON.parse(s.raftbox('ls', '--json').stdout).files as { path: string }[]).map((f) => f.path);
    assert.equal(listed, ['br\u00fbl\u00e9e', 'br\u00fbl\u00e9e/recipe.txt', 'na\u00efve.txt', 'tw\u00edn.txt']);
    assert.is((await s.sync(b)).status, 0);
    assert.equal(Object.keys(snapshot(b)), ['br\u00fbl\u00e9e', 'br\u00fbl\u00e9e/recipe.txt', 'na\u00efve.txt', 'tw\u00edn.txt']);
    // Changes made elsewhere land in the files as they are named here, and nothing is doubled.
    writeFileSync(join(b, 'br\u00fbl\u00e9e', 'recipe.txt'), 'v2');
    writeFileSync(join(b, 'br\u00fbl\u00e9e', 'added.txt'), 'new');
    renameSync(join(b, 'na\u00efve.txt'), join(b, 'renamed.txt'));
    assert.is((await s.sync(b)).status, 0);
    const back = await s.sync(a);
    assert.is(back.status, 0, back.stderr);
    assert.equal(back.summary!.conflicts, []);
    assert.equal(Object.keys(snapshot(a)), [nfdFolder, `${nfdFolder}/added.txt`, `${nfdFolder}/recipe.txt`, 'renamed.txt', 'tw\u00edn.txt', 'twi\u0301n.txt'].sort());
    assert.is(readFileSync(join(a, nfdFolder, 'recipe.txt'), 'utf8'), 'v2');
    // And the other way: an edit and a delete made under the NFD names reach the cluster.
    writeFileSync(join(a, nfdFolder, 'recipe.txt'), 'v3');
    rmSync(join(a, nfdFolder, 'added.txt'));
    assert.is((await s.sync(a)).status, 0);
    assert.is((await s.sync(b)).status, 0);
    assert.is(readFileSync(join(b, 'br\u00fbl\u00e9e', 'recipe.txt'), 'utf8'), 'v3');
    assert.not.ok(existsSync(join(b, 'br\u00fbl\u00e9e', 'added.txt')));
  } finally {
    await s.done();
  }
});

test('a synced folder cannot hold another: the inner one is refused, or left out of the outer one', async () => {
  const s = await setup();
  try {
    const outer = s.folder('outer');
    writeFileSync(join(outer, 'top.txt'), 'top');
    const first = await s.sync(outer);
    assert.is(first.status, 0, first.stderr);
    const inner = join(outer, 'inner');
    mkdirSync(inner);
    const refused = await s.sync(inner);
    assert.is(refused.status, 1, 'syncing a folder inside a synced one fails');
    assert.match(refused.stderr, /inner is inside .*outer, which is synced already; a synced folder cannot hold another.*\(conflict\)/);
    assert.not.ok(existsSync(join(inner, '.raftbox')), 'the refused folder is left as it was');
    // Synced first on its own (here: from before it was moved in), the inner folder is left
    // out of the outer one, so neither copies the other into itself round after round.
    const other = s.folder('other');
    writeFileSync(join(other, 'mine.txt'), 'inner file');
    assert.is((await s.sync(other)).status, 0);
    renameSync(other, join(outer, 'other'));
    const again = await s.sync(outer);
    assert.is(again.status, 0, again.stderr);
    assert.match(again.stderr, /other is synced on its own \(it holds \.raftbox\/\); it is left out of this sync/);
    assert.equal((JSON.parse(s.raftbox('ls', '--json').stdout).files as { path: string }[]).map((f) => f.path), ['inner', 'mine.txt', 'top.txt']);
    assert.match(s.raftbox('ls').stdout, /^inner +1 +folder +\d{4}-/m, 'ls shows a folder as one, not as a 0-byte file');
    // The inner folder, synced on its own before it moved in, holds the cluster's files too.
    assert.equal(Object.keys(snapshot(outer)).filter((path) => !path.includes('.raftbox')), ['inner', 'mine.txt', 'other', 'other/mine.txt', 'other/top.txt', 'top.txt']);
  } finally {
    await s.done();
  }
});

test('what this user may not read is left out with a warning, and not deleted in the cluster', async () => {
  const s = await setup();
  try {
    const a = s.folder('a');
    writeFileSync(join(a, 'fine.txt'), 'v1');
    writeFileSync(join(a, 'secret.txt'), 'kept');
    mkdirSync(join(a, 'private'));
    writeFileSync(join(a, 'private', 'in.txt'), 'kept too');
    // Root reads everything: as root the sync runs without the two capabilities that let it.
    const asRoot = process.getuid?.() === 0;
    const sync = () => {
      const command = asRoot ? ['setpriv', '--bounding-set', '-dac_override,-dac_read_search', process.execPath] : [process.execPath];
      const result = spawnSync(command[0]!, [...command.slice(1), shim, 'sync', a, '--json'], { encoding: 'utf8', env: { ...process.env, RAFTBOX_SERVER: s.cluster.urls.join(',') }, timeout: 120_000 });
      return { status: result.status, stderr: result.stderr, summary: JSON.parse(result.stdout.trim().split('\n').pop() || 'null') as Record<string, unknown> | null };
    };
    const first = sync();
    assert.is(first.status, 0, first.stderr);
    assert.is(first.summary!.filesUp, 4);
    chmodSync(join(a, 'secret.txt'), 0o000);
    chmodSync(join(a, 'private'), 0o000);
    writeFileSync(join(a, 'fine.txt'), 'v2');
    const second = sync();
    assert.is(second.status, 0, second.stderr);
    assert.match(second.stderr, /secret\.txt cannot be read here \(permission denied\); it is left out of this sync, and nothing of it is deleted in the cluster/);
    assert.match(second.stderr, /private cannot be read here/);
    assert.equal([second.summary!.filesUp, second.summary!.deleted], [1, 0]);
    const listed = s.raftbox('ls', '--json');
    assert.equal((JSON.parse(listed.stdout).files as { path: string; deleted: boolean }[]).map((f) => `${f.path}${f.deleted ? ' (deleted)' : ''}`), ['fine.txt', 'private', 'private/in.txt', 'secret.txt']);
    chmodSync(join(a, 'private'), 0o755);
    chmodSync(join(a, 'secret.txt'), 0o644);
    // A folder this user may not write: what the cluster has for it waits, with a warning,
    // and the rest of the sync goes on.
    assert.is(sync().status, 0);
    mkdirSync(join(a, 'locked'));
    assert.is(sync().status, 0);
    chmodSync(join(a, 'locked'), 0o555);
    writeFileSync(join(s.root, 'put.txt'), 'from the CLI');
    assert.is(s.raftbox('put', join(s.root, 'put.txt'), 'locked/in.txt').status, 0);
    assert.is(s.raftbox('put', join(s.root, 'put.txt'), 'fine.txt').status, 0);
    const locked = sync();
    assert.is(locked.status, 0, locked.stderr);
    assert.match(locked.stderr, /locked\/in\.txt cannot be changed here \(permission denied\); it is left as it is, and as it is in the cluster, until it can be written/);
    assert.is(readFileSync(join(a, 'fine.txt'), 'utf8'), 'from the CLI');
    assert.not.ok(existsSync(join(a, 'locked', 'in.txt')));
    chmodSync(join(a, 'locked'), 0o755);
    assert.is(sync().status, 0);
    assert.is(readFileSync(join(a, 'locked', 'in.txt'), 'utf8'), 'from the CLI');
  } finally {
    await s.done();
  }
});

test('a download into a folder on another file system (a mount inside the synced folder) is placed whole', async () => {
  // Mounting needs root, as CI runs; elsewhere there is nothing to mount with.
  if (process.getuid?.() !== 0) {
    console.log('  (not root: the mount test needs root to mount a tmpfs, and did not run)');
    return;
  }
  const s = await setup();
  const a = s.folder('a');
  const mount = join(a, 'mnt');
  mkdirSync(mount);
  assert.is(spawnSync('mount', ['-t', 'tmpfs', 'tmpfs', mount]).status, 0, 'mount a tmpfs');
  try {
    assert.is((await s.sync(a)).status, 0);
    writeFileSync(join(s.root, 'put.txt'), 'onto another file system');
    assert.is(s.raftbox('put', join(s.root, 'put.txt'), 'mnt/in.txt').status, 0);
    const result = await s.sync(a);
    assert.is(result.status, 0, result.stderr);
    assert.is(readFileSync(join(mount, 'in.txt'), 'utf8'), 'onto another file system');
    assert.equal(readdirSync(mount), ['in.txt'], 'no copy is left beside it');
    assert.equal([(await s.sync(a)).summary!.filesUp], [0], 'the next sync finds it in place');
  } finally {
    spawnSync('umount', [mount]);
    await s.done();
  }
});

test('both folders edit while the cluster is unreachable, then reconnect', async () => {
  const s = await setup();
  try {
    const a = s.folder('a');
    const b = s.folder('b');
    writeFileSync(join(a, 'shared.txt'), 'v1');
    await s.sync(a);
    await s.sync(b);
    for (const member of s.cluster.members) await s.cluster.stop(member.id);
    writeFileSync(join(a, 'from-a.txt'), 'written offline on a');
    writeFileSync(join(b, 'shared.txt'), 'edited offline on b');
    rmSync(join(a, 'shared.txt'));
    const offline = await s.sync(a);
    assert.is(offline.status, 1);
    assert.match(offline.stderr, /unavailable|reach|connect/i);
    for (const member of s.cluster.members) await s.cluster.startNode(member.id);
    await s.sync(a);
    const back = await s.sync(b);
    assert.is(back.status, 0, back.stderr);
    assert.equal(back.summary!.conflicts, ['shared.txt'], 'the edit on b wins over the delete on a, reported as a conflict');
    await s.sync(a);
    assert.equal(snapshot(a), snapshot(b));
    assert.is(readFileSync(join(a, 'shared.txt'), 'utf8'), 'edited offline on b');
    assert.is(readFileSync(join(b, 'from-a.txt'), 'utf8'), 'written offline on a');
  } finally {
    await s.done();
  }
});

test('a sync stopped by Ctrl-C, or killed, mid-upload completes when run again, with nothing lost or doubled', async () => {
  const s = await setup();
  try {
    const a = s.folder('a');
    const files = 24;
    for (let i = 0; i < files; i++) writeFileSync(join(a, `file-${i}.bin`), randomBytes(512 * 1024));
    // Ctrl-C: the sync stops with status 1 (it did not finish) and says so, not that the cluster is unreachable.
    const interrupted = spawn(process.execPath, [shim, 'sync', a, '--limit-rate', '2M'], { env: { ...process.env, RAFTBOX_SERVER: s.cluster.urls.join(',') }, stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    interrupted.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    // Its lock file means it opened the folder (and the signal handler follows at once).
    for (let waited = 0; !existsSync(join(a, '.raftbox', 'LOCK')) && waited < 30_000; waited += 50) await sleep(50);
    await sleep(1000);
    interrupted.kill('SIGINT');
    const status = await new Promise<number | null>((done) => interrupted.once('exit', (code) => done(code)));
    assert.is(status, 1, stderr);
    assert.match(stderr, /^raftbox sync: stopped by Ctrl-C before it finished\. Nothing is lost: .* the next run of raftbox sync .* finishes the rest\.\n$/);
    const child = spawn(process.execPath, [shim, 'sync', a, '--json', '--limit-rate', '2M'], { env: { ...process.env, RAFTBOX_SERVER: s.cluster.urls.join(',') }, stdio: 'ignore' });
    await sleep(2500);
    child.kill('SIGKILL');
    await new Promise((done) => child.once('exit', done));
    const rerun = await s.sync(a);
    assert.is(rerun.status, 0, rerun.stderr);
    assert.ok((rerun.summary!.uploadedBytes as number) < files * 512 * 1024, 'blocks stored before the kill are not sent again');
    const client = await connect({ servers: s.cluster.urls });
    try {
      const listed = await client.list('', { includeDeleted: true });
      assert.is(listed.length, files);
      for (const info of listed) assert.is(info.version, 1, `${info.path} was committed once`);
      for (let i = 0; i < files; i++) {
        const file = await client.readFile(`file-${i}.bin`);
        assert.ok(file !== null && Buffer.from(file.data).equals(readFileSync(join(a, `file-${i}.bin`))));
      }
    } finally {
      await client.close();
    }
  } finally {
    await s.done();
  }
});

function watchFolder(s: Setup, dir: string): { child: ChildProcess; exited: Promise<number | null> } {
  const child = spawn(process.execPath, [shim, 'sync', dir, '--watch', '--json'], { env: { ...process.env, RAFTBOX_SERVER: s.cluster.urls.join(',') }, stdio: 'ignore' });
  return { child, exited: new Promise((done) => child.once('exit', (code) => done(code))) };
}

test('--watch keeps two folders in sync through edits, moves, deletes and a killed node; Ctrl-C exits cleanly', async () => {
  const s = await setup();
  const a = s.folder('a');
  const b = s.folder('b');
  const watchers = [watchFolder(s, a), watchFolder(s, b)];
  try {
    const read = (dir: string, path: string): string | null => (existsSync(join(dir, path)) ? readFileSync(join(dir, path), 'utf8') : null);
    writeFileSync(join(a, 'live.txt'), 'from a');
    await eventually('live.txt reaches b', () => read(b, 'live.txt') === 'from a', 20_000, 100);
    await s.cluster.kill('n1');
    writeFileSync(join(b, 'live.txt'), 'edited on b with n1 down');
    await eventually('the edit reaches a', () => read(a, 'live.txt') === 'edited on b with n1 down', 20_000, 100);
    renameSync(join(a, 'live.txt'), join(a, 'moved.txt'));
    await eventually('the move reaches b', () => read(b, 'moved.txt') !== null && read(b, 'live.txt') === null, 20_000, 100);
    rmSync(join(b, 'moved.txt'));
    await eventually('the delete reaches a', () => read(a, 'moved.txt') === null, 20_000, 100);
    // A file written to every 100 ms never lets a's folder go quiet; a still syncs, both ways.
    const busy = setInterval(() => appendFileSync(join(a, 'busy.log'), `${Date.now()}\n`), 100);
    try {
      writeFileSync(join(b, 'note.txt'), 'from b while a is busy');
      await eventually('b\'s file reaches a while a keeps changing', () => read(a, 'note.txt') === 'from b while a is busy', 20_000, 100);
      await eventually('the busy file reaches b', () => read(b, 'busy.log') !== null, 20_000, 100);
    } finally {
      clearInterval(busy);
    }
  } finally {
    for (const watcher of watchers) watcher.child.kill('SIGINT');
    const codes = await Promise.all(watchers.map((watcher) => watcher.exited));
    await s.done();
    assert.equal(codes, [0, 0], 'both watchers exit 0 on Ctrl-C');
  }
});

test('--watch stops, deleting nothing, when the synced folder is moved away or replaced', async () => {
  const s = await setup();
  try {
    const listed = (): string[] => (JSON.parse(s.raftbox('ls', '--json').stdout).files as { path: string }[]).map((f) => f.path);
    for (const replace of [false, true]) {
      const dir = s.folder(replace ? 'replaced' : 'moved');
      writeFileSync(join(dir, `${replace ? 'r' : 'm'}.txt`), 'kept');
      const watcher = spawn(process.execPath, [shim, 'sync', dir, '--watch'], { env: { ...process.env, RAFTBOX_SERVER: s.cluster.urls.join(',') }, stdio: ['ignore', 'ignore', 'pipe'] });
      let stderr = '';
      watcher.stderr!.on('data', (chunk) => (stderr += chunk));
      const exited = new Promise<number | null>((done) => watcher.once('exit', (code) => done(code)));
      await eventually('the file reaches the cluster', () => listed().includes(`${replace ? 'r' : 'm'}.txt`), 20_000, 100);
      renameSync(dir, `${dir}-away`);
      // Seen empty, the folder would have had its file deleted everywhere.
      if (replace) mkdirSync(dir);
      const timeout = setTimeout(() => watcher.kill('SIGKILL'), 20_000);
      const code = await exited;
      clearTimeout(timeout);
      assert.is(code, 1, `the watcher stops with status 1: ${stderr}`);
      assert.match(stderr, /is no longer the folder this sync opened \(it was moved, deleted or replaced\); nothing was changed in the cluster/);
    }
    assert.equal(listed(), ['m.txt', 'r.txt']);
  } finally {
    await s.done();
  }
});

test.run();
