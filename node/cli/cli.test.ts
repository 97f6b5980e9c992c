// The README's path for a new user, through the real `raftbox` command: `raftbox cluster`
// starts three node processes, then status, put, get, ls, history, restore and rm work
// against it, with the JSON shapes of CONTRACT.md and its exit statuses; Ctrl-C stops all.

import { spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { createConnection } from 'node:net';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { withSmallDisk } from '../host/disk-test-support.ts';

const shim = fileURLToPath(new URL('./raftbox.js', import.meta.url));
const sleep = (ms: number) => new Promise((done) => setTimeout(done, ms));

function portOpen(port: number): Promise<boolean> {
  return new Promise((done) => {
    const socket = createConnection({ host: '127.0.0.1', port });
    socket.once('connect', () => {
      socket.destroy();
      done(true);
    });
    socket.once('error', () => done(false));
  });
}

test('raftbox cluster, then status, put, get, ls, history, restore, rm; Ctrl-C stops every node', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'raftbox-cli-'));
  const basePort = 20_000 + Math.floor(Math.random() * 20_000);
  const httpPort = basePort + 10;
  const servers = [0, 1, 2].map((i) => `ws://127.0.0.1:${basePort + i}`).join(',');
  const cluster = spawn(process.execPath, [shim, 'cluster', '--nodes', '3', '--base-port', String(basePort), '--http-port', String(httpPort), '--data', join(dir, 'data')], { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  cluster.stdout.on('data', (chunk) => (output += chunk));
  cluster.stderr.on('data', (chunk) => (output += chunk));
  const exited = new Promise<number | null>((done) => cluster.once('exit', done));
  const raftbox = (...args: string[]) => {
    const result = spawnSync(process.execPath, [shim, ...args], { encoding: 'utf8', env: { ...process.env, RAFTBOX_SERVER: servers }, timeout: 60_000 });
    return { status: result.status, stdout: result.stdout, stderr: result.stderr };
  };
  let stepsPassed = false;
  try {
    // The cluster builds the web client first; on a loaded machine (other test files run
    // beside this one) a cold vite build alone can take well over ten seconds.
    for (let i = 0; i < 1200 && !output.includes('web client:') && cluster.exitCode === null; i++) await sleep(100);
    assert.ok(output.includes('web client:'), `the cluster started:\n${output}`);

    let status = raftbox('status', '--json');
    const settled = (): boolean => {
      if (status.status !== 0) return false;
      const parsed = JSON.parse(status.stdout) as { leader: string | null; nodes: { role: string }[] };
      return parsed.leader !== null && parsed.nodes.every((n) => n.role !== 'down');
    };
    for (let i = 0; i < 50 && !settled(); i++) {
      await sleep(200);
      status = raftbox('status', '--json');
    }
    assert.is(status.status, 0, status.stderr);
    const state = JSON.parse(status.stdout);
    assert.ok(state.leader, 'status names a leader');
    assert.is(state.nodes.length, 3);
    assert.ok(state.nodes.every((n: { role: string }) => ['leader', 'follower'].includes(n.role)), status.stdout);
    assert.is(state.replication.factor, 3);

    const local = join(dir, 'notes.txt');
    writeFileSync(local, 'first draft\n');
    const put1 = raftbox('put', local, 'docs/notes.txt', '--json');
    assert.is(put1.status, 0, put1.stderr);
    assert.equal(JSON.parse(put1.stdout), { path: 'docs/notes.txt', version: 1, size: 12 });
    writeFileSync(local, 'second draft, longer\n');
    assert.is(raftbox('put', local, 'docs/notes.txt', '--if-version', '1').status, 0);

    const stale = raftbox('put', local, 'docs/notes.txt', '--if-version', '1');
    assert.is(stale.status, 1, 'a stale --if-version fails');
    assert.match(stale.stderr, /conflict/);

    const copy = join(dir, 'copy.txt');
    const get = raftbox('get', 'docs/notes.txt', copy);
    assert.is(get.status, 0, get.stderr);
    assert.is(readFileSync(copy, 'utf8'), 'second draft, longer\n');
    assert.is(raftbox('get', 'docs/notes.txt', copy, '--version', '1').status, 0);
    assert.is(readFileSync(copy, 'utf8'), 'first draft\n');

    const ls = JSON.parse(raftbox('ls', 'docs/', '--json').stdout);
    assert.equal(ls.files.map((f: { path: string; version: number; size: number; deleted: boolean }) => [f.path, f.version, f.size, f.deleted]), [['docs/notes.txt', 2, 21, false]]);
    assert.type(ls.files[0].mtime, 'number');

    const restore = raftbox('restore', 'docs/notes.txt', '1');
    assert.is(restore.status, 0, restore.stderr);
    assert.is(raftbox('get', 'docs/notes.txt', copy).status, 0);
    assert.is(readFileSync(copy, 'utf8'), 'first draft\n', 'restore brought version 1 back');
    const history = JSON.parse(raftbox('history', 'docs/notes.txt', '--json').stdout);
    assert.equal(history.versions.map((v: { version: number; size: number }) => [v.version, v.size]), [[3, 12], [2, 21], [1, 12]]);
    assert.ok(history.versions.every((v: { device: string; deleted: boolean; mtime: number }) => typeof v.device === 'string' && v.deleted === false && v.mtime > 0));

    const rm = raftbox('rm', 'docs/notes.txt', '--json');
    assert.is(rm.status, 0, rm.stderr);
    assert.is(JSON.parse(rm.stdout).version, 4);
    assert.equal(JSON.parse(raftbox('ls', '--json').stdout).files, [], 'a deleted file leaves the listing');
    assert.is(JSON.parse(raftbox('ls', '--deleted', '--json').stdout).files[0].deleted, true);
    const missing = raftbox('get', 'docs/notes.txt', copy);
    assert.is(missing.status, 1);
    assert.ok(missing.stderr.trim().split('\n').length === 1, `one sentence on stderr: ${missing.stderr}`);
    assert.match(missing.stderr, /"docs\/notes.txt" was deleted \(version 4\); raftbox restore docs\/notes.txt 3 brings back the version before \(not_found\)/);
    const deletion = raftbox('get', 'docs/notes.txt', '-', '--version', '4');
    assert.match(deletion.stderr, /version 4 of "docs\/notes.txt" is its deletion; raftbox restore docs\/notes.txt 3 brings back/);
    const never = raftbox('get', 'docs/never.txt', '-');
    assert.match(never.stderr, /there is no file at "docs\/never.txt"; raftbox ls shows what exists \(not_found\)/);

    // A file of many blocks is streamed to disk by get, byte for byte, leaving no temporary behind.
    const big = join(dir, 'big.bin');
    const bigData = randomBytes(12 << 20);
    writeFileSync(big, bigData);
    assert.is(raftbox('put', big, 'media/big.bin').status, 0);
    const bigCopy = join(dir, 'big-copy.bin');
    const bigGet = raftbox('get', 'media/big.bin', bigCopy, '--json');
    assert.is(bigGet.status, 0, bigGet.stderr);
    assert.equal(JSON.parse(bigGet.stdout), { path: 'media/big.bin', version: 1, size: bigData.length });
    assert.ok(readFileSync(bigCopy).equals(bigData), 'the copy is byte-identical');
    assert.equal(readdirSync(dir).filter((name) => name.includes('.raftbox-')), [], 'no temporary file is left');

    // As cp does: a folder as LOCAL gets the file under its remote name; '-' is stdout;
    // a REMOTE ending in '/' is a folder to put the file in.
    const downloads = join(dir, 'downloads');
    mkdirSync(downloads);
    const into = raftbox('get', 'media/big.bin', downloads);
    assert.is(into.status, 0, into.stderr);
    assert.ok(readFileSync(join(downloads, 'big.bin')).equals(bigData), 'a folder as LOCAL gets the file under its name');
    const piped = spawnSync(process.execPath, [shim, 'get', 'media/big.bin', '-'], { env: { ...process.env, RAFTBOX_SERVER: servers }, maxBuffer: 64 << 20, timeout: 60_000 });
    assert.is(piped.status, 0, piped.stderr.toString());
    assert.ok(piped.stdout.equals(bigData), 'stdout holds the file and nothing else');
    const nowhere = raftbox('get', 'media/big.bin', join(dir, 'no-such-folder', 'big.bin'));
    assert.is(nowhere.status, 2, 'a LOCAL in a folder that is not there is bad usage');
    assert.match(nowhere.stderr, /there is no local folder ".*no-such-folder" to write .* in; create it first/);
    assert.equal(readdirSync(downloads), ['big.bin'], 'no temporary file is left');
    const putInto = raftbox('put', local, 'inbox/', '--json');
    assert.is(putInto.status, 0, putInto.stderr);
    assert.is(JSON.parse(putInto.stdout).path, `inbox/${basename(local)}`);

    // put streams too: a file past the 2 GiB that node can read in one piece (sparse here,
    // so its 4 MiB blocks of zeros are one block stored once) goes up whole.
    const huge = join(dir, 'huge.bin');
    const hugeSize = 2 ** 31 + 64 * 2 ** 20;
    writeFileSync(huge, '');
    truncateSync(huge, hugeSize);
    const hugePut = raftbox('put', huge, 'media/huge.bin', '--json');
    rmSync(huge);
    assert.is(hugePut.status, 0, `put huge: ${hugePut.stderr}`);
    assert.equal(JSON.parse(hugePut.stdout), { path: 'media/huge.bin', version: 1, size: hugeSize });
    const listed = JSON.parse(raftbox('ls', 'media/huge.bin', '--json').stdout);
    assert.equal(listed.files.map((f: { path: string; size: number }) => [f.path, f.size]), [['media/huge.bin', hugeSize]]);
    const folderPut = raftbox('put', dir, 'media/dir');
    assert.is(folderPut.status, 2, 'a folder is bad usage');
    assert.match(folderPut.stderr, /is a folder/);

    // A disk too small for the download: one sentence naming disk_full, and nothing left behind.
    await withSmallDisk('1m', async (small) => {
      const full = raftbox('get', 'media/big.bin', join(small, 'big.bin'));
      assert.is(full.status, 1, 'a full disk fails the command');
      assert.match(full.stderr, /disk is full.*free some space.*\(disk_full\)/);
      assert.ok(full.stderr.trim().split('\n').length === 1, `one sentence on stderr: ${full.stderr}`);
      assert.equal(readdirSync(small), [], 'no partial or temporary file is left');
    });

    assert.is(raftbox('put', local).status, 2, 'a missing argument is bad usage');
    assert.is(raftbox('ls', '--bogus').status, 2, 'an unknown option is bad usage');
    assert.is(raftbox('put', local, '../outside').status, 1, 'a hostile path fails');
    // media/big.bin is a file and media a folder: neither can become the other while it matters.
    const underFile = raftbox('put', local, 'media/big.bin/inner.txt');
    assert.is(underFile.status, 1, `a file below a file fails: ${underFile.stderr}`);
    assert.match(underFile.stderr, /"media\/big.bin" is a file, not a folder.*\(path_conflict\)/);
    const overFolder = raftbox('put', local, 'media');
    assert.is(overFolder.status, 1, 'a file over a folder that holds files fails');
    assert.match(overFolder.stderr, /"media" cannot be a file: it is a folder that still holds files.*\(path_conflict\)/);
    stepsPassed = true;
  } finally {
    cluster.kill('SIGINT');
    const code = await exited;
    try {
      // After a failed step, that failure is the one to report, not how the cluster stopped.
      if (stepsPassed) {
        assert.is(code, 0, `cluster exits 0 on Ctrl-C:\n${output}`);
        for (let i = 0; i < 3; i++) assert.not.ok(await portOpen(basePort + i), `node ${i + 1} stopped with the cluster`);
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }
});

test('every command describes itself and all its options with --help, -h or raftbox help COMMAND', () => {
  const run = (...args: string[]) => spawnSync(process.execPath, [shim, ...args], { encoding: 'utf8', timeout: 60_000 });
  // What each command's parser accepts (a flag missing here and from its page would go unseen).
  const options: Record<string, string[]> = {
    node: ['--id', '--listen', '--peers', '--join', '--learner', '--data', '--replication', '--secret', '--cluster-id', '--log-level', '--heartbeat-ms', '--down-after-ms', '--repair-mib-per-second', '--scrub-mib-per-second', '--gc-grace-ms', '--gc-interval-ms', '--history-versions', '--orphan-sweep-ms', '--chaos'],
    cluster: ['--nodes', '--base-port', '--http-port', '--data', '--replication', '--log-level'],
    status: ['--json', '--server', '--token'],
    put: ['--if-version', '--json', '--server', '--token'],
    get: ['--version', '--json', '--server'],
    ls: ['--deleted', '--json', '--server'],
    rm: ['--if-version', '--json', '--server'],
    history: ['--json', '--server'],
    restore: ['--json', '--server'],
    sync: ['--watch', '--json', '--limit-rate', '--device', '--server', '--token'],
    admin: ['scrub', 'gc', 'remove-node', '--node', '--json', '--server'],
  };
  for (const [command, flags] of Object.entries(options)) {
    const page = run(command, '--help');
    assert.is(page.status, 0, `${command} --help exits 0: ${page.stderr}`);
    assert.ok(page.stdout.startsWith(`usage: raftbox ${command}`), `${command} --help starts with its synopsis: ${page.stdout.slice(0, 80)}`);
    for (const flag of flags) assert.ok(page.stdout.includes(flag), `${command} --help mentions ${flag}`);
    assert.is(page.stderr, '', `${command} --help writes nothing to stderr`);
    if (command !== 'put' && command !== 'sync') continue;
    assert.is(run(command, 'some-argument', '-h').stdout, page.stdout, `${command} … -h prints the same page`);
    assert.is(run('help', command).stdout, page.stdout, `raftbox help ${command} prints the same page`);
  }
  const bench = run('bench', '--help');
  assert.is(bench.status, 0, bench.stderr);
  for (const name of ['meta', 'upload', 'delta', 'failover', 'rereplication', 'hash', 'layout', 'sim']) assert.match(bench.stdout, new RegExp(`^  ${name} `, 'm'));
  const sim = run('sim', '--help');
  assert.is(sim.status, 0, sim.stderr);
  assert.match(sim.stdout, /--seeds A\.\.B/);
  const top = run('--help');
  assert.is(top.status, 0);
  assert.match(top.stdout, /raftbox COMMAND --help/);
  assert.is(run('put', '--bogus').status, 2, 'an unknown option is still bad usage');
});

test.run();
