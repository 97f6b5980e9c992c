// The isomorphic client against fake nodes on loopback (client-test-server.ts): real
// sockets, real msgpack frames, a real in-memory store behind them, and injected faults.
// The runtime here hands the client `ws` sockets through their browser-style API, so
// these tests also check that the client works with that shape of WebSocket.

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { createHash } from 'node:crypto';
import { createServer } from 'node:net';
import { WebSocket } from 'ws';
import { cutPoints } from './fastcdc.ts';

const blockBytes = 1024 * 1024;
/** The block sizes FastCDC cuts `data` into. */
const chunkSizes = (data: Uint8Array): number[] => cutPoints(data).map((end, index, ends) => end - (index === 0 ? 0 : ends[index - 1]!));
import { FakeCluster } from './client-test-server.ts';
import { ConflictError, createClient, type ClientRuntime, type RaftboxClient } from './client.ts';
import { RaftboxError } from './errors.ts';
import { PlacementRing } from './ring.ts';
import type { FileInfo } from './wire.ts';

function nodeRuntime(): ClientRuntime {
  return {
    // ws's browser-style API as is, the way a browser's WebSocket is used.
    connect: (url) => new WebSocket(url),
    now: () => Date.now(),
    random: () => Math.random(),
    setTimer: (ms, fn) => setTimeout(fn, ms),
    clearTimer: (handle) => clearTimeout(handle as ReturnType<typeof setTimeout>),
    sha256: async (bytes) => createHash('sha256').update(bytes).digest('hex'),
  };
}

const opened: { cluster: FakeCluster; clients: RaftboxClient[] }[] = [];

async function setUp(nodes = 1, options: { servers?: (cluster: FakeCluster) => string[]; requestTimeoutMs?: number } = {}) {
  const cluster = await FakeCluster.start(nodes);
  const clients: RaftboxClient[] = [];
  const client = (device = 'laptop') => {
    const made = createClient({ servers: options.servers?.(cluster) ?? cluster.nodes.map((node) => node.url), device, runtime: nodeRuntime(), requestTimeoutMs: options.requestTimeoutMs ?? 2_000 });
    clients.push(made);
    return made;
  };
  opened.push({ cluster, clients });
  return { cluster, client };
}

test.after.each(async () => {
  for (const { cluster, clients } of opened.splice(0)) {
    for (const client of clients) await client.close();
    await cluster.stop();
  }
});

function bytes(length: number, seed: number): Uint8Array {
  const data = new Uint8Array(length);
  let state = seed;
  for (let i = 0; i < length; i++) {
    state = (Math.imul(state, 1103515245) + 12345) >>> 0;
    data[i] = state >>> 24;
  }
  return data;
}

async function refusedUrl(): Promise<string> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return `ws://127.0.0.1:${port}`;
}

async function eventually(check: () => boolean, what: string, timeoutMs = 5_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

async function rejection(promise: Promise<unknown>): Promise<RaftboxError> {
  try {
    await promise;
  } catch (error) {
    assert.instance(error, RaftboxError);
    return error as RaftboxError;
  }
  throw new Error('expected the promise to reject');
}

test('a 3.5 MiB file goes up as content-defined blocks to their ring owners and comes back intact', async () => {
  const { cluster, client } = await setUp(3);
  const writer = client();
  const data = bytes(3.5 * blockBytes, 1);
  const { version } = await writer.writeFile('docs/big.bin', data);
  assert.is(version, 1);
  const puts = cluster.requests.filter((entry) => entry.request.op === 'blocks.put');
  assert.ok(chunkSizes(data).length >= 2, 'the file is cut into several blocks');
  assert.is(puts.length, chunkSizes(data).length);
  const ring = new PlacementRing(cluster.nodes.map((node) => node.id), cluster.map().virtualNodes);
  const owners = new Set<string>();
  for (const put of puts) {
    const hash = put.request.op === 'blocks.put' ? put.request.hash : '';
    assert.is(put.node, ring.preference(hash)[0], `block ${hash} went to its first owner`);
    owners.add(put.node);
  }
  assert.ok(owners.size > 1, 'the blocks of one file spread over several nodes');
  const info = cluster.current('docs/big.bin')!;
  assert.equal(info.blocks.map((block) => block.size), chunkSizes(data));
  const read = await client('phone').readFile('docs/big.bin');
  assert.is(read!.version, 1);
  assert.is(read!.data.length, data.length);
  assert.ok(Buffer.from(read!.data).equals(Buffer.from(data)), 'the bytes read are the bytes written');
  assert.is(info.device, 'laptop');
});

test('writing content the cluster already has uploads no blocks', async () => {
  const { cluster, client } = await setUp(1);
  const writer = client();
  const data = bytes(2 * blockBytes + 10, 2);
  await writer.writeFile('a.bin', data);
  const putsBefore = cluster.requestsOf('blocks.put').length;
  assert.is(putsBefore, chunkSizes(data).length);
  const { version } = await writer.writeFile('copy-of-a.bin', data);
  assert.is(version, 1);
  assert.is(cluster.requestsOf('blocks.put').length, putsBefore, 'no block was sent twice');
  assert.is(cluster.requestsOf('blocks.has').length, 1, 'the writer remembers the blocks it stored and asks nothing');
  assert.equal(cluster.current('copy-of-a.bin')!.blocks, cluster.current('a.bin')!.blocks);
  // A client that never saw these blocks asks, learns the cluster has them, and uploads nothing.
  await client().writeFile('third-copy.bin', data);
  assert.is(cluster.requestsOf('blocks.has').length, 2);
  assert.is(cluster.requestsOf('blocks.put').length, putsBefore, 'still no block sent twice');
});

test('a refused compare-and-set rejects with code conflict and the current record', async () => {
  const { client } = await setUp(1);
  const writer = client();
  assert.is((await writer.writeFile('notes.txt', bytes(10, 3), { ifVersion: 0 })).version, 1);
  const error = await rejection(writer.writeFile('notes.txt', bytes(10, 4), { ifVersion: 0 }));
  assert.instance(error, ConflictError);
  assert.instance(error, Error);
  assert.is(error.code, 'conflict');
  const current = (error as ConflictError).current as FileInfo;
  assert.is(current.path, 'notes.txt');
  assert.is(current.version, 1);
  assert.is((await writer.writeFile('notes.txt', bytes(10, 5), { ifVersion: 1 })).version, 2);
  const stale = (await rejection(writer.remove('notes.txt', { ifVersion: 1 }))) as ConflictError;
  assert.is(stale.code, 'conflict');
  assert.is(stale.current!.version, 2);
});

test('a conflict on a path that does not exist carries current null', async () => {
  const { client } = await setUp(1);
  const error = (await rejection(client().writeFile('new.txt', bytes(1, 1), { ifVersion: 3 }))) as ConflictError;
  assert.is(error.code, 'conflict');
  assert.is(error.current, null);
});

test('the client fails over when the first URL refuses connections', async () => {
  const dead = await refusedUrl();
  const { cluster, client } = await setUp(1, { servers: (c) => [dead, c.nodes[0]!.url] });
  const writer = client();
  assert.is((await writer.writeFile('x.txt', bytes(100, 6))).version, 1);
  assert.ok(Buffer.from((await writer.readFile('x.txt'))!.data).equals(Buffer.from(bytes(100, 6))));
  assert.is(cluster.hellos.length, 1, 'one connection to the live node serves every request');
});

test('a commit retried after the connection dropped reuses its seq and is applied once', async () => {
  const { cluster, client } = await setUp(2);
  let dropped = 0;
  cluster.fault = (_node, request) => (request.op === 'commit' && dropped++ === 0 ? 'handle-then-drop' : undefined);
  const writer = client();
  const { version } = await writer.writeFile('once.txt', bytes(5, 7));
  assert.is(version, 1, 'the retry got the recorded result, not a second version');
  const commits = cluster.requestsOf('commit');
  assert.is(commits.length, 2);
  assert.is(commits[0]!.client, commits[1]!.client);
  assert.is(commits[0]!.seq, commits[1]!.seq);
  assert.is(cluster.files.get('once.txt')!.length, 1);
  await writer.writeFile('twice.txt', bytes(5, 8));
  assert.is(cluster.requestsOf('commit')[2]!.seq, commits[0]!.seq + 1, 'the next commit takes the next seq');
});

test('watch delivers pushes and resumes from its cursor on another node after a disconnect', async () => {
  const { cluster, client } = await setUp(3);
  const watcher = client('watcher');
  const writer = client('writer');
  const seen: string[] = [];
  const stop = watcher.watch((info) => seen.push(`${info.path}@${info.version}`));
  await eventually(() => cluster.watchers.size === 1, 'the watch to be registered');
  await writer.writeFile('one.txt', bytes(3, 9));
  await eventually(() => seen.length === 1, 'the first push');
  assert.equal(seen, ['one.txt@1']);

  const watchedNode = cluster.nodes.find((node) => [...node.sockets].some((socket) => cluster.watchers.has(socket)))!;
  await watchedNode.stop();
  // Written while the watcher has no watch anywhere: only the cursor catch-up can deliver it.
  await writer.writeFile('two.txt', bytes(3, 10));
  await eventually(() => seen.length === 2, 'the change made during the disconnect');
  await eventually(() => cluster.watchers.size === 1, 'the watch on another node');
  await writer.writeFile('one.txt', bytes(3, 11));
  await eventually(() => seen.length === 3, 'a push after the re-watch');
  assert.equal(seen, ['one.txt@1', 'two.txt@1', 'one.txt@2']);
  const rewatch = cluster.requests.filter((entry) => entry.request.op === 'watch').at(-1)!;
  assert.is.not(rewatch.node, watchedNode.id);
  assert.is((rewatch.request as { cursor?: number }).cursor, 1, 're-watched from the last cursor seen');

  stop();
  await eventually(() => cluster.watchers.size === 0, 'the unwatch');
  await writer.writeFile('three.txt', bytes(3, 12));
  assert.is(seen.length, 3, 'nothing arrives after unsubscribing');
});

test('a bad path is refused locally, before anything is sent', async () => {
  const { cluster, client } = await setUp(1);
  const writer = client();
  for (const path of ['../x', '/etc/passwd', 'a//b', '']) {
    const error = await rejection(writer.writeFile(path, bytes(1, 1)));
    assert.is(error.code, 'bad_path', path);
  }
  assert.is((await rejection(writer.readFile('../x'))).code, 'bad_path');
  assert.is(cluster.requests.length, 0);
  assert.is(cluster.hellos.length, 0, 'no connection was even opened');
});

test('remove, history, list, stat and changes', async () => {
  const { client } = await setUp(1);
  const c = client();
  await c.writeFile('dir/a.txt', bytes(10, 1));
  await c.writeFile('dir/a.txt', bytes(20, 2));
  await c.writeFile('dir/b.txt', bytes(0, 3));
  await c.writeFile('other.txt', bytes(1, 4));
  assert.equal((await c.readFile('dir/a.txt', { version: 1 }))!.data, bytes(10, 1));
  assert.is((await c.readFile('dir/b.txt'))!.data.length, 0);
  assert.is((await c.remove('dir/a.txt')).version, 3);
  assert.is(await c.readFile('dir/a.txt'), null);
  assert.is(await c.readFile('missing.txt'), null);
  assert.is(await c.stat('missing.txt'), null);
  assert.is((await c.stat('dir/a.txt'))!.deleted, true);
  assert.equal((await c.history('dir/a.txt')).map((info) => info.version), [3, 2, 1]);
  assert.equal((await c.list('dir/')).map((info) => info.path), ['dir/b.txt']);
  assert.equal((await c.list('dir/', { includeDeleted: true })).map((info) => info.path), ['dir/a.txt', 'dir/b.txt']);
  assert.equal((await c.list()).map((info) => info.path), ['dir/b.txt', 'other.txt']);
  const feed = await c.changes();
  assert.is(feed.changes.length, 5);
  assert.is(feed.cursor, 5);
  assert.equal((await c.changes(3)).changes.map((info) => info.path), ['other.txt', 'dir/a.txt']);
  assert.is((await rejection(c.remove('missing.txt'))).code, 'not_found');
  assert.is((await c.status()).leader, 'n1');
});

test('retryable errors are retried on another node; others are thrown at once', async () => {
  const { cluster, client } = await setUp(2);
  let refusals = 0;
  cluster.fault = (_node, request) => (request.op === 'stat' && refusals++ < 2 ? { error: { code: 'unavailable', message: 'no quorum' } } : undefined);
  const c = client();
  assert.is(await c.stat('nothing.txt'), null);
  assert.is(cluster.requestsOf('stat').length, 3);

  cluster.fault = (_node, request) => (request.op === 'stat' ? { error: { code: 'unauthorized', message: 'no entry' } } : undefined);
  const error = await rejection(c.stat('nothing.txt'));
  assert.is(error.code, 'unauthorized');
  assert.is(cluster.requestsOf('stat').length, 4, 'a non-retryable error is not retried');
});

test('metadata requests go to the leader the cluster map names, not through the node the client was given', async () => {
  const { cluster, client } = await setUp(3, { servers: (c) => [c.nodes[2]!.url] });
  const c = client();
  await c.writeFile('a.txt', bytes(10, 1));
  await c.writeFile('b.txt', bytes(10, 1));
  assert.equal(cluster.requests.filter((entry) => entry.request.op === 'cluster').map((entry) => entry.node), ['n3'], 'the map is asked for once, of the given node');
  assert.equal(cluster.requests.filter((entry) => entry.request.op === 'commit').map((entry) => entry.node), ['n1', 'n1']);
});

test('a not_leader answer sends the retry to the hinted leader', async () => {
  const { cluster, client } = await setUp(3, { servers: (c) => [c.nodes[2]!.url] });
  // The map names n1, which has lost the lead to n2 since.
  cluster.fault = (node, request) => (request.op === 'status' && node !== 'n2' ? { error: { code: 'not_leader', message: 'ask n2', details: { leader: 'n2' } } } : undefined);
  await client().status();
  assert.equal(cluster.requests.filter((entry) => entry.request.op === 'status').map((entry) => entry.node), ['n1', 'n2']);
});

test('a request that times out is retried on another node', async () => {
  const { cluster, client } = await setUp(2, { requestTimeoutMs: 150 });
  cluster.fault = (node, request) => (request.op === 'list' && node === 'n1' ? 'ignore' : undefined);
  assert.equal(await client().list(), []);
  assert.equal(cluster.requests.filter((entry) => entry.request.op === 'list').map((entry) => entry.node), ['n1', 'n2']);
});

test('a commit refused for a vanished block uploads it again and commits once more', async () => {
  const { cluster, client } = await setUp(1);
  let first = true;
  cluster.fault = (_node, request) => {
    // The block is collected between blocks.has/put and the commit.
    if (request.op === 'commit' && first) {
      first = false;
      cluster.blocks.clear();
    }
    return undefined;
  };
  const c = client();
  assert.is((await c.writeFile('v.txt', bytes(blockBytes + 1, 13))).version, 1);
  assert.is(cluster.requestsOf('blocks.put').length, 4, 'two blocks, each uploaded twice');
  assert.is(cluster.requestsOf('commit').length, 2);
  assert.ok(Buffer.from((await c.readFile('v.txt'))!.data).equals(Buffer.from(bytes(blockBytes + 1, 13))));
});

test('a corrupted block is refused with hash_mismatch', async () => {
  const { cluster, client } = await setUp(1);
  const c = client();
  await c.writeFile('c.bin', bytes(1000, 14));
  const [hash] = cluster.blocks.keys();
  cluster.blocks.get(hash!)![0]! ^= 1;
  assert.is((await rejection(c.readFile('c.bin'))).code, 'hash_mismatch');
});

test('close() fails pending requests with unavailable and later calls too', async () => {
  const { cluster, client } = await setUp(1);
  cluster.fault = () => 'ignore';
  const c = client();
  await eventually(() => true, '');
  const pending = c.list();
  await eventually(() => cluster.requests.length === 1, 'the request to arrive');
  await c.close();
  assert.is((await rejection(pending)).code, 'unavailable');
  assert.is((await rejection(c.stat('a'))).code, 'unavailable');
  assert.throws(() => c.watch(() => undefined), (error: unknown) => error instanceof RaftboxError && error.code === 'unavailable');
});

test('a wrong token is thrown at once as unauthorized', async () => {
  const { cluster, client } = await setUp(2);
  cluster.token = 'secret';
  const error = await rejection(client().stat('a'));
  assert.is(error.code, 'unauthorized');
  assert.is(cluster.hellos.length, 0);
});

test('concurrent writes from one client each commit with their own seq, in order', async () => {
  const { cluster, client } = await setUp(1);
  const c = client();
  const versions = await Promise.all(Array.from({ length: 20 }, (_, i) => c.writeFile(`many/${i}.txt`, bytes(50, i))));
  assert.ok(versions.every((v) => v.version === 1));
  assert.equal(cluster.requestsOf('commit').map((commit) => commit.seq), Array.from({ length: 20 }, (_, i) => i + 1));
});

test.run();
