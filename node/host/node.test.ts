// A real 3-node cluster on loopback, spoken to with raw protocol frames: forwarding from
// followers, hostile paths, bad handshakes and bad frames; plus the start-up refusals
// (no secret off loopback, a data folder already in use).

import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { WebSocket } from 'ws';
import { decodeNodeFrame, encodeWire } from '../../protocol/wire-schema.ts';
import { protocolVersion, type NodeToClient } from '../../protocol/wire.ts';
import { connect } from '../sdk.ts';
import { LocalCluster } from './local-cluster.ts';
import { startNode } from './node.ts';

const sleep = (ms: number) => new Promise((done) => setTimeout(done, ms));

/** A raw protocol session: every frame the node sends is decoded and queued. */
class RawSession {
  private frames: NodeToClient[] = [];
  private waiters: (() => void)[] = [];
  closeCode: number | null = null;
  private constructor(readonly socket: WebSocket) {
    socket.on('message', (data: Buffer) => {
      this.frames.push(decodeNodeFrame(new Uint8Array(data)));
      this.waiters.splice(0).forEach((w) => w());
    });
    socket.on('close', (code) => {
      this.closeCode = code;
      this.waiters.splice(0).forEach((w) => w());
    });
  }

  static async open(url: string): Promise<RawSession> {
    const socket = new WebSocket(url);
    await new Promise((done, fail) => socket.once('open', done).once('error', fail));
    return new RawSession(socket);
  }

  send(value: unknown): void {
    this.socket.send(encodeWire(value as never));
  }

  async next(timeoutMs = 5000): Promise<NodeToClient> {
    const deadline = Date.now() + timeoutMs;
    while (this.frames.length === 0) {
      if (this.closeCode !== null) throw new Error(`closed with ${this.closeCode}`);
      if (Date.now() > deadline) throw new Error('no frame arrived');
      await new Promise<void>((done) => {
        this.waiters.push(done);
        setTimeout(done, 50);
      });
    }
    return this.frames.shift()!;
  }

  async closed(timeoutMs = 5000): Promise<number> {
    const deadline = Date.now() + timeoutMs;
    while (this.closeCode === null && Date.now() < deadline) await sleep(20);
    return this.closeCode ?? -1;
  }

  async hello(): Promise<void> {
    this.send({ type: 'hello', protocol: protocolVersion, role: 'client', device: 'raw' });
    const welcome = await this.next();
    assert.is(welcome.type, 'welcome');
  }

  async request(id: number, request: Record<string, unknown>) {
    this.send({ type: 'request', id, ...request });
    for (;;) {
      const frame = await this.next(15_000);
      if (frame.type === 'response' && frame.id === id) return frame;
    }
  }

  close(): void {
    this.socket.terminate();
  }
}

let cluster: LocalCluster;

test.before(async () => {
  cluster = await LocalCluster.start({ nodes: 3 });
  const client = await connect({ servers: cluster.urls });
  for (let i = 0; i < 100; i++) {
    const status = await client.status().catch(() => null);
    if (status?.leader) break;
    await sleep(100);
  }
  await client.close();
});

test.after(async () => {
  await cluster.destroy();
});

async function follower(): Promise<{ id: string; leader: string }> {
  const client = await connect({ servers: cluster.urls });
  try {
    const status = await client.status();
    assert.ok(status.leader, 'the cluster has a leader');
    const id = status.nodes.find((n) => n.id !== status.leader && n.role === 'follower')!.id;
    return { id, leader: status.leader! };
  } finally {
    await client.close();
  }
}

test('a commit and a read sent to a follower get the leader\'s answer', async () => {
  const { id } = await follower();
  const session = await RawSession.open(cluster.url(id));
  try {
    await session.hello();
    const commit = await session.request(1, { op: 'commit', client: 'raw-forward', seq: 1, device: 'raw', changes: [{ path: 'forwarded/empty.txt', deleted: false, blocks: [], size: 0, mtime: 1, mode: 0o644 }] });
    assert.ok(commit.ok, `the forwarded commit succeeded: ${JSON.stringify(commit)}`);
    const stat = await session.request(2, { op: 'stat', path: 'forwarded/empty.txt' });
    assert.ok(stat.ok && stat.result !== null, 'the forwarded read sees the write');
    assert.is((stat as { result: { version: number } }).result.version, 1);
    // The same session sequence again is answered from the session table, not applied twice.
    const again = await session.request(3, { op: 'commit', client: 'raw-forward', seq: 1, device: 'raw', changes: [{ path: 'forwarded/empty.txt', deleted: false, blocks: [], size: 0, mtime: 1, mode: 0o644 }] });
    assert.ok(again.ok);
    const history = await session.request(4, { op: 'history', path: 'forwarded/empty.txt' });
    assert.is((history as { result: { versions: unknown[] } }).result.versions.length, 1, 'a retried commit is applied once');
  } finally {
    session.close();
  }
});

test('hostile paths are refused with bad_path and a sentence that names them', async () => {
  const { id } = await follower();
  const session = await RawSession.open(cluster.url(id));
  try {
    await session.hello();
    const hostile = ['../etc/passwd', '/etc/passwd', 'a/../../b', 'a\u0000b', 'a//b', 'C:\\windows', 'x'.repeat(5000), ''];
    let id2 = 10;
    for (const path of hostile) {
      const response = await session.request(id2++, { op: 'commit', client: 'raw-hostile', seq: id2, device: 'raw', changes: [{ path, deleted: false, blocks: [], size: 0, mtime: 1, mode: 0o644 }] });
      assert.not.ok(response.ok, `path ${JSON.stringify(path.slice(0, 40))} is refused`);
      if (!response.ok) {
        assert.is(response.error.code, 'bad_path', `path ${JSON.stringify(path.slice(0, 40))} gets bad_path, not ${response.error.code}: ${response.error.message}`);
        assert.ok(response.error.message.length > 10);
      }
      const stat = await session.request(id2++, { op: 'stat', path });
      assert.not.ok(stat.ok, 'a read of a hostile path is refused too');
    }
  } finally {
    session.close();
  }
  const client = await connect({ servers: cluster.urls });
  try {
    await client.writeFile('../escape', new Uint8Array([1]));
    assert.unreachable('the SDK refuses a path with ..');
  } catch (error) {
    assert.is((error as { code?: string }).code, 'bad_path');
  } finally {
    await client.close();
  }
});

test('bad frames get an error and the node stays up', async () => {
  const session = await RawSession.open(cluster.urls[0]!);
  try {
    await session.hello();
    session.socket.send(new Uint8Array([0xc1])); // never valid msgpack
    const bad = await session.next();
    assert.is(bad.type, 'error');
    session.send({ type: 'request', id: 7, op: 'no-such-op' });
    const unknown = await session.next();
    assert.ok(unknown.type === 'response' && !unknown.ok && unknown.error.code === 'bad_message', 'an unknown op is answered with bad_message');
    session.socket.send('text frame');
    const text = await session.next();
    assert.ok(text.type === 'error' && text.error.code === 'bad_frame');
    const ok = await session.request(8, { op: 'cluster' });
    assert.ok(ok.ok, 'the session still works after bad frames');
  } finally {
    session.close();
  }
  const big = await RawSession.open(cluster.urls[0]!);
  big.socket.send(new Uint8Array(6 * 1024 * 1024));
  assert.is(await big.closed(), 1009, 'a frame over the limit closes the connection (1009, message too big)');
});

test('handshakes: a wrong protocol version, a peer with the wrong identity, and no hello are refused', async () => {
  const old = await RawSession.open(cluster.urls[0]!);
  old.send({ type: 'hello', protocol: 999, role: 'client' });
  const refusal = await old.next();
  assert.ok(refusal.type === 'error' && refusal.error.code === 'unsupported_version', JSON.stringify(refusal));
  assert.ok((await old.closed()) > 0);

  const impostor = await RawSession.open(cluster.url('n1'));
  impostor.send({ type: 'hello', protocol: protocolVersion, role: 'peer', clusterId: 'some-other-cluster', from: 'n2', to: 'n1' });
  const wrongCluster = await impostor.next();
  assert.ok(wrongCluster.type === 'error' && wrongCluster.error.code === 'unauthorized' && /cluster/.test(wrongCluster.error.message), JSON.stringify(wrongCluster));

  const misdirected = await RawSession.open(cluster.url('n1'));
  misdirected.send({ type: 'request', id: 1, op: 'cluster' });
  const noHello = await misdirected.next();
  assert.ok(noHello.type === 'error' && noHello.error.code === 'bad_message', 'a request before hello is refused');
});

test('a node refuses to listen off loopback without a secret, and a data folder in use', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'raftbox-policy-'));
  try {
    try {
      await startNode({ id: 'x1', host: '0.0.0.0', port: 0, peers: new Map(), dataDir: join(dir, 'x1'), replication: 1 });
      assert.unreachable('listening on 0.0.0.0 without a secret must be refused');
    } catch (error) {
      assert.match(String(error), /without a secret/);
    }
    const shim = fileURLToPath(new URL('../cli/raftbox.js', import.meta.url));
    const inUse = cluster.members[0]!;
    const second = spawnSync(process.execPath, [shim, 'node', '--id', inUse.id, '--listen', '127.0.0.1:1', '--data', inUse.dataDir], { encoding: 'utf8', timeout: 30_000 });
    assert.is(second.status, 1, 'a second node on the same data folder exits 1');
    assert.match(second.stderr, /in use by process/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('with a secret, a client without the token is refused and one with it is served', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'raftbox-secret-'));
  const node = await startNode({ id: 's1', host: '127.0.0.1', port: 0, peers: new Map(), dataDir: join(dir, 's1'), replication: 1, secret: 'correct horse' });
  try {
    const url = `ws://127.0.0.1:${node.server.port}`;
    const stranger = await RawSession.open(url);
    stranger.send({ type: 'hello', protocol: protocolVersion, role: 'client' });
    const refusal = await stranger.next();
    assert.ok(refusal.type === 'error' && refusal.error.code === 'unauthorized', JSON.stringify(refusal));
    assert.ok((await stranger.closed()) > 0, 'the connection is closed after the refusal');
    const wrong = await RawSession.open(url);
    wrong.send({ type: 'hello', protocol: protocolVersion, role: 'client', token: 'wrong' });
    const wrongRefusal = await wrong.next();
    assert.ok(wrongRefusal.type === 'error' && wrongRefusal.error.code === 'unauthorized');
    const client = await connect({ servers: [url], token: 'correct horse' });
    try {
      const { version } = await client.writeFile('secret.txt', new Uint8Array([1, 2, 3]));
      assert.is(version, 1);
    } finally {
      await client.close();
    }
  } finally {
    await node.stop();
    rmSync(dir, { recursive: true, force: true });
  }
});

test.run();
