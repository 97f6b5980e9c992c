import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DataDirError, openDataDir } from './data-dir.ts';

const root = fs.mkdtempSync(join(tmpdir(), 'raftbox-data-dir-'));
let folders = 0;
const freshFolder = (): string => join(root, `data-${++folders}`);

test.after(() => fs.rmSync(root, { recursive: true, force: true }));

function refusal(run: () => unknown): DataDirError {
  try {
    run();
  } catch (error) {
    assert.instance(error, DataDirError);
    return error as DataDirError;
  }
  throw new assert.Assertion({ message: 'expected a DataDirError', operator: 'throws', generated: false, actual: 'no error', expects: 'DataDirError' });
}

test('first open creates the folder, the lock with our pid, and the identity', () => {
  const dir = freshFolder();
  const data = openDataDir(dir, { nodeId: 'n1', clusterId: 'c-1' });
  assert.is(data.dir, dir);
  assert.is(data.clusterId, 'c-1');
  assert.is(fs.readFileSync(join(dir, 'LOCK'), 'utf8').trim(), String(process.pid));
  const identity = JSON.parse(fs.readFileSync(join(dir, 'node.json'), 'utf8'));
  assert.is(identity.nodeId, 'n1');
  assert.is(identity.clusterId, 'c-1');
  assert.type(identity.createdAt, 'string');
  data.release();
  assert.not.ok(fs.existsSync(join(dir, 'LOCK')));
  assert.equal(fs.readdirSync(dir).sort(), ['node.json'], 'no temporary file is left behind');
});

test('a second open while the folder is held (even by this process) is refused with the holder pid', () => {
  const dir = freshFolder();
  const data = openDataDir(dir, { nodeId: 'n1' });
  const error = refusal(() => openDataDir(dir, { nodeId: 'n1' }));
  assert.is(error.code, 'locked');
  assert.is(error.message, `data folder "${dir}" is in use by process ${process.pid}; stop that node or pass another --data`);
  // The refused open must not have removed the holder's lock.
  assert.is(fs.readFileSync(join(dir, 'LOCK'), 'utf8').trim(), String(process.pid));
  data.release();
  const again = openDataDir(dir, { nodeId: 'n1' });
  assert.is(again.clusterId, data.clusterId, 'release allows reopening, with the stored cluster id');
  again.release();
});

test('a generated cluster id is a UUID and is kept across opens', () => {
  const dir = freshFolder();
  const first = openDataDir(dir, { nodeId: 'n2' });
  assert.match(first.clusterId, /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
  first.release();
  const second = openDataDir(dir, { nodeId: 'n2' });
  assert.is(second.clusterId, first.clusterId);
  second.release();
});

test('a lock left by a dead process is taken over', async () => {
  const dir = freshFolder();
  fs.mkdirSync(dir, { recursive: true });
  const child = spawn(process.execPath, ['-e', '']);
  const deadPid = child.pid!;
  await new Promise((resolve) => child.on('exit', resolve));
  fs.writeFileSync(join(dir, 'LOCK'), `${deadPid}\n`);
  const data = openDataDir(dir, { nodeId: 'n1' });
  assert.is(fs.readFileSync(join(dir, 'LOCK'), 'utf8').trim(), String(process.pid));
  data.release();
});

test('a garbled lock (crash before its content reached the disk) is taken over', () => {
  const dir = freshFolder();
  fs.mkdirSync(dir, { recursive: true });
  fs.writeFileSync(join(dir, 'LOCK'), '');
  const data = openDataDir(dir, { nodeId: 'n1' });
  data.release();
});

test('a folder of another node or another cluster is refused, and the lock is not kept', () => {
  const dir = freshFolder();
  openDataDir(dir, { nodeId: 'n1', clusterId: 'alpha' }).release();
  const wrongNode = refusal(() => openDataDir(dir, { nodeId: 'n2' }));
  assert.is(wrongNode.code, 'identity');
  assert.ok(wrongNode.message.includes('belongs to node n1'), wrongNode.message);
  assert.not.ok(fs.existsSync(join(dir, 'LOCK')));
  const wrongCluster = refusal(() => openDataDir(dir, { nodeId: 'n1', clusterId: 'beta' }));
  assert.is(wrongCluster.code, 'identity');
  assert.ok(wrongCluster.message.includes('belongs to cluster alpha'), wrongCluster.message);
  const right = openDataDir(dir, { nodeId: 'n1' });
  assert.is(right.clusterId, 'alpha');
  right.release();
});

test('a damaged identity file is refused rather than overwritten', () => {
  const dir = freshFolder();
  fs.mkdirSync(dir, { recursive: true });
  fs.writeFileSync(join(dir, 'node.json'), '{"nodeId": ');
  const error = refusal(() => openDataDir(dir, { nodeId: 'n1' }));
  assert.is(error.code, 'identity');
  assert.is(fs.readFileSync(join(dir, 'node.json'), 'utf8'), '{"nodeId": ');
});

test('release only removes our own lock', () => {
  const dir = freshFolder();
  const data = openDataDir(dir, { nodeId: 'n1' });
  // Someone else took the folder over meanwhile (say we were presumed dead).
  fs.writeFileSync(join(dir, 'LOCK'), '999999999\n');
  data.release();
  assert.is(fs.readFileSync(join(dir, 'LOCK'), 'utf8'), '999999999\n');
});

test.run();
