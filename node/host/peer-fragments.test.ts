// Fragmentation of large peer messages: cutting and reassembling (in order, with a gap,
// with a new message mid-way, against the bounds), one PeerLink feeding one NodeServer
// in this process, and a real 3-node cluster whose restarted follower can only catch up
// through an InstallSnapshot larger than a frame.

import { existsSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { isRaftboxError } from '../../protocol/errors.ts';
import { frameBytesMax } from '../../protocol/limits.ts';
import type { RaftMessage } from '../../protocol/raft-messages.ts';
import { encodeWire } from '../../protocol/wire-schema.ts';
import type { PeerEnvelope, PeerMessage } from '../../protocol/wire.ts';
import { connect, type Client } from '../sdk.ts';
import { LocalCluster, waitForLeader } from './local-cluster.ts';
import { NodeServer } from './node-server.ts';
import { PeerLink } from './peer-link.ts';
import {
  decodeFragmentFrame, encodeFragmentFrame, encodePeerMessage, FragmentReassembler, fragmentBytesMax,
  fragmentsPerMessageMax, isFragmentFrame, OutgoingFragments, PeerFrameReader, peerMessageBytesMax, type PeerFragment,
} from './peer-fragments.ts';

const mebibyte = 1024 * 1024;
const sleep = (ms: number) => new Promise((done) => setTimeout(done, ms));

function snapshotEnvelope(dataBytes: number, seed = 1): PeerEnvelope {
  const data = new Uint8Array(dataBytes);
  for (let i = 0; i < data.length; i++) data[i] = (i * 31 + seed) & 0xff;
  const message: RaftMessage = { type: 'snapshot', from: 'n2', to: 'n1', term: 3, snapshot: { index: 900 + seed, term: 3, config: { voters: ['n1', 'n2', 'n3'], learners: [] }, data } };
  return { to: 'n1', message };
}

function heartbeat(commit: number): PeerEnvelope {
  return { to: 'n1', message: { type: 'heartbeat', from: 'n2', to: 'n1', term: 3, commit, readRound: 0 } };
}

function allFrames(outgoing: OutgoingFragments): Uint8Array[] {
  const frames: Uint8Array[] = [];
  while (!outgoing.done) frames.push(outgoing.next());
  return frames;
}

function fragmentsOf(id: number, bytes: Uint8Array, pieceBytes = 1000): PeerFragment[] {
  return allFrames(new OutgoingFragments(id, bytes, pieceBytes)).map(decodeFragmentFrame);
}

function pattern(length: number, seed: number): Uint8Array {
  return Uint8Array.from({ length }, (_, i) => (i * 7 + seed) & 0xff);
}

function reassembler(): { assembler: FragmentReassembler; reasons: string[] } {
  const reasons: string[] = [];
  return { assembler: new FragmentReassembler((reason) => reasons.push(reason)), reasons };
}

function badMessageField(bytes: Uint8Array): unknown {
  try {
    decodeFragmentFrame(bytes);
  } catch (error) {
    assert.ok(isRaftboxError(error, 'bad_message'), `expected bad_message, got ${String(error)}`);
    return (error as { details?: { field?: unknown } }).details?.field;
  }
  assert.unreachable('the fragment was accepted');
}

// ------------------------------------------------------------------ cutting and gluing

test('a snapshot larger than a frame is cut into fragment frames and read back whole', () => {
  const envelope = snapshotEnvelope(12 * mebibyte + 12345);
  const bytes = encodePeerMessage(envelope);
  assert.ok(bytes.length > frameBytesMax);
  const frames = allFrames(new OutgoingFragments(7, bytes));
  assert.is(frames.length, Math.ceil(bytes.length / fragmentBytesMax));
  for (const frame of frames) {
    assert.ok(frame.length <= fragmentBytesMax + 64 && frame.length < frameBytesMax, `fragment frame of ${frame.length} bytes`);
    assert.ok(isFragmentFrame(frame));
  }
  const discards: string[] = [];
  const reader = new PeerFrameReader((reason) => discards.push(reason));
  const results = frames.map((frame) => reader.read(frame));
  assert.ok(results.slice(0, -1).every((result) => result === null), 'nothing is delivered before the last fragment');
  assert.equal(results.at(-1), envelope);
  assert.equal(discards, []);
});

test('a whole envelope is never taken for a fragment, and is read as before', () => {
  const reader = new PeerFrameReader(() => assert.unreachable('nothing to discard'));
  for (const envelope of [heartbeat(5), snapshotEnvelope(1000)]) {
    const frame = encodeWire(envelope);
    assert.not.ok(isFragmentFrame(frame));
    assert.equal(reader.read(frame), envelope);
  }
  assert.not.ok(isFragmentFrame(new Uint8Array([0x81, 0xa8])), 'a frame shorter than the marker');
});

test('whole envelopes between the fragments of a message are delivered at once, and the message still completes', () => {
  const big = encodePeerMessage(snapshotEnvelope(6 * mebibyte));
  const frames = allFrames(new OutgoingFragments(1, big));
  const reader = new PeerFrameReader(() => assert.unreachable('nothing to discard'));
  const delivered: PeerMessage['type'][] = [];
  frames.forEach((frame, i) => {
    const result = reader.read(frame);
    if (result) delivered.push(result.message.type);
    const small = reader.read(encodeWire(heartbeat(i)));
    delivered.push(small!.message.type);
  });
  assert.is(delivered.filter((type) => type === 'heartbeat').length, frames.length);
  assert.is(delivered.at(-2), 'snapshot');
});

test('a missing fragment discards the message; its remaining fragments are ignored quietly; the next message completes', () => {
  const { assembler, reasons } = reassembler();
  const first = fragmentsOf(1, pattern(5500, 1));
  assert.is(first.length, 6);
  assert.is(assembler.add(first[0]!), null);
  assert.is(assembler.add(first[1]!), null);
  assert.is(assembler.heldBytes, 2000);
  for (const fragment of first.slice(3)) assert.is(assembler.add(fragment), null, 'never delivered once fragment 2 is missing');
  assert.is(reasons.length, 1);
  assert.match(reasons[0]!, /expected fragment 2 and got 3/);
  assert.is(assembler.heldBytes, 0, 'nothing is held for a discarded message');
  const second = pattern(3001, 2);
  const results = fragmentsOf(2, second).map((fragment) => assembler.add(fragment));
  assert.equal(results.at(-1), second);
  assert.is(assembler.discarded, 1);
});

test('a repeated fragment is a gap too: the message is discarded, not delivered with a duplicate', () => {
  const { assembler, reasons } = reassembler();
  const fragments = fragmentsOf(4, pattern(2500, 4));
  const results = [fragments[0]!, fragments[1]!, fragments[1]!, fragments[2]!].map((fragment) => assembler.add(fragment));
  assert.equal(results, [null, null, null, null]);
  assert.is(reasons.length, 1);
});

test('a new message mid-way discards the unfinished one, and itself completes', () => {
  const { assembler, reasons } = reassembler();
  const old = fragmentsOf(10, pattern(4000, 10));
  const fresh = pattern(2200, 11);
  assert.is(assembler.add(old[0]!), null);
  assert.is(assembler.add(old[1]!), null);
  const results = fragmentsOf(11, fresh).map((fragment) => assembler.add(fragment));
  assert.equal(results.at(-1), fresh);
  assert.is(assembler.add(old[2]!), null, 'a late fragment of the old message starts nothing');
  assert.match(reasons[0]!, /message 10 was cut off by message 11 after 2 of 4 fragments/);
  assert.is(reasons.length, 1, 'the rest of the old message is ignored quietly');
});

test('a message that starts after its first fragment is never delivered', () => {
  const { assembler, reasons } = reassembler();
  const fragments = fragmentsOf(3, pattern(3000, 3));
  assert.equal(fragments.slice(1).map((fragment) => assembler.add(fragment)), [null, null]);
  assert.is(reasons.length, 1);
  assert.match(reasons[0]!, /without the fragments before it/);
});

test('fragments that disagree with the message announced are discarded', () => {
  const base = fragmentsOf(5, pattern(3000, 5));
  const cases: { name: string; fragments: PeerFragment[]; reason: RegExp }[] = [
    { name: 'a changed size', fragments: [base[0]!, { ...base[1]!, size: 3001 }], reason: /changed its count or size/ },
    { name: 'a changed count', fragments: [base[0]!, { ...base[1]!, count: 4 }], reason: /changed its count or size/ },
    { name: 'more bytes than announced', fragments: [{ ...base[0]!, size: 1500 }, { ...base[1]!, size: 1500 }], reason: /more than the 1500 bytes/ },
    { name: 'fewer bytes than announced', fragments: [{ ...base[0]!, size: 3100 }, { ...base[1]!, size: 3100 }, { ...base[2]!, size: 3100 }], reason: /ended with 3000 bytes, not the 3100/ },
  ];
  for (const { name, fragments, reason } of cases) {
    const { assembler, reasons } = reassembler();
    const results = fragments.map((fragment) => assembler.add(fragment));
    assert.ok(results.every((result) => result === null), `${name}: nothing delivered`);
    assert.is(reasons.length, 1, name);
    assert.match(reasons[0]!, reason, name);
  }
});

test('fragment frames outside the bounds are refused by the schema', () => {
  const good: PeerFragment = { id: 1, index: 0, count: 2, size: 10, bytes: new Uint8Array(5) };
  assert.equal(decodeFragmentFrame(encodeFragmentFrame(good)), good);
  assert.is(badMessageField(encodeFragmentFrame({ ...good, index: 2 })), 'fragment');
  assert.is(badMessageField(encodeFragmentFrame({ ...good, count: 1, index: 0 })), 'fragment.count');
  assert.is(badMessageField(encodeFragmentFrame({ ...good, count: fragmentsPerMessageMax + 1 })), 'fragment.count');
  assert.is(badMessageField(encodeFragmentFrame({ ...good, size: peerMessageBytesMax + 1 })), 'fragment.size');
  assert.is(badMessageField(encodeFragmentFrame({ ...good, size: 0 })), 'fragment.size');
  assert.is(badMessageField(encodeFragmentFrame({ ...good, id: -1 })), 'fragment.id');
  assert.is(badMessageField(encodeFragmentFrame({ ...good, bytes: new Uint8Array(0) })), 'fragment.bytes');
  assert.is(badMessageField(encodeFragmentFrame({ ...good, bytes: new Uint8Array(fragmentBytesMax + 1) })), 'fragment.bytes');
  const reader = new PeerFrameReader(() => undefined);
  assert.throws(() => reader.read(Uint8Array.of(0x81, 0xa8, ...new TextEncoder().encode('fragment'), 0xc1)), (error: unknown) => isRaftboxError(error, 'bad_frame'));
});

test('a reassembled message is checked with the peer envelope schema', () => {
  const garbage = new Uint8Array(3000).fill(0xc0); // msgpack nil, again and again: not one value
  const reader = new PeerFrameReader(() => undefined);
  const frames = allFrames(new OutgoingFragments(1, garbage, 1000));
  assert.is(reader.read(frames[0]!), null);
  assert.is(reader.read(frames[1]!), null);
  assert.throws(() => reader.read(frames[2]!), (error: unknown) => isRaftboxError(error, 'bad_frame'));
});

test('OutgoingFragments refuses what the receiver would refuse', () => {
  assert.throws(() => new OutgoingFragments(1, new Uint8Array(1000), 1000), /2\.\.257 fragments/);
  assert.throws(() => new OutgoingFragments(1, new Uint8Array(1000), fragmentBytesMax + 1), /fragment size/);
  const outgoing = new OutgoingFragments(1, new Uint8Array(1001), 1000);
  assert.not.ok(outgoing.started);
  allFrames(outgoing);
  assert.ok(outgoing.started && outgoing.done);
  assert.throws(() => outgoing.next(), /already taken/);
});

// ------------------------------------------------------------------ one link, one server

async function linkToServer(): Promise<{ link: PeerLink; delivered: PeerMessage[]; logs: string[]; stop(): Promise<void> }> {
  const delivered: PeerMessage[] = [];
  const logs: string[] = [];
  const server = new NodeServer({
    self: 'n1', host: '127.0.0.1', port: 0, clusterId: 'rbx-test', peers: ['n2'], secret: undefined,
    clusterMap: () => ({ clusterId: 'rbx-test', nodes: [], leader: null, replication: 1, virtualNodes: 1 }),
    deliverLocal: (_to, message) => delivered.push(message as PeerMessage) > 0,
    log: (level, event) => logs.push(`${level} ${event}`),
  });
  await server.listen();
  const link = new PeerLink({ self: 'n2', peer: 'n1', url: `ws://127.0.0.1:${server.port}`, clusterId: 'rbx-test', token: undefined, log: (level, event) => logs.push(`${level} ${event}`) });
  const deadline = Date.now() + 5000;
  while (!link.up && Date.now() < deadline) await sleep(5);
  assert.ok(link.up, 'the link came up');
  return { link, delivered, logs, async stop() { link.close(); await server.close(); } };
}

async function waitFor(condition: () => boolean, what: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(5);
  }
}

test('a PeerLink sends a 20 MiB snapshot to a NodeServer in fragments, with heartbeats flowing meanwhile', async () => {
  const { link, delivered, logs, stop } = await linkToServer();
  try {
    const envelope = snapshotEnvelope(20 * mebibyte);
    link.send(heartbeat(1));
    link.send(envelope);
    for (let i = 2; i <= 50; i++) link.send(heartbeat(i));
    await waitFor(() => delivered.length === 51, 'all 51 messages');
    const snapshot = delivered.find((message) => message.type === 'snapshot');
    assert.equal(snapshot, envelope.message);
    const commits = delivered.flatMap((message) => (message.type === 'heartbeat' ? [message.commit] : []));
    assert.equal(commits, Array.from({ length: 50 }, (_, i) => i + 1), 'small frames keep their order');
    assert.ok(delivered.indexOf(snapshot!) > 1, 'heartbeats sent after the snapshot did not wait for all of it');
    assert.is(link.dropped, 0);
    assert.equal(logs.filter((line) => line.startsWith('error') || line.startsWith('warn')), []);
  } finally {
    await stop();
  }
});

test('a second large message while one is on its way is dropped whole; a later one arrives', async () => {
  const { link, delivered, stop } = await linkToServer();
  try {
    link.send(snapshotEnvelope(30 * mebibyte, 1));
    link.send(snapshotEnvelope(30 * mebibyte, 2));
    assert.is(link.dropped, 1, 'the second one is dropped at once, not cut short later');
    await waitFor(() => delivered.length === 1, 'the first snapshot');
    link.send(snapshotEnvelope(7 * mebibyte, 3));
    await waitFor(() => delivered.length === 2, 'the third snapshot');
    assert.equal(delivered.map((message) => (message.type === 'snapshot' ? message.snapshot.index : -1)), [901, 903]);
    assert.equal(delivered[1], snapshotEnvelope(7 * mebibyte, 3).message);
  } finally {
    await stop();
  }
});

test('PeerLink.send never throws: an unencodable message is logged and dropped', async () => {
  const { link, delivered, logs, stop } = await linkToServer();
  try {
    const broken = { to: 'n1', message: { type: 'heartbeat', from: 'n2', to: 'n1', term: 1, commit: 0, readRound: () => 0 } } as unknown as PeerEnvelope;
    link.send(broken);
    assert.is(link.dropped, 1);
    assert.ok(logs.includes('error peer.unsendable'));
    link.send(heartbeat(9));
    await waitFor(() => delivered.length === 1, 'the next message');
  } finally {
    await stop();
  }
});

// ------------------------------------------------------------------ a real cluster

test('a follower that was down catches up through an InstallSnapshot larger than a frame', async () => {
  const cluster = await LocalCluster.start({ nodes: 3, env: { RAFTBOX_SNAPSHOT_ENTRIES: '200' } });
  const clients: Client[] = [];
  try {
    const observer = await connect({ servers: cluster.urls, device: 'observer' });
    clients.push(observer);
    const leader = await waitForLeader(observer);
    const lagging = cluster.members.find((member) => member.id !== leader)!.id;
    await cluster.kill(lagging);

    // Paths of 4000 bytes and empty files: about 8 KB of state each (the file and its change
    // feed record). Files are written, 550 at a time, until both running nodes saved a
    // snapshot larger than a frame: each takes its snapshot at another point, so the count
    // varies; and either may lead when the lagging node comes back (an election under a
    // loaded CI machine), so both must have one to send.
    const writers = await Promise.all(Array.from({ length: 16 }, (_, i) => connect({ servers: cluster.urls.filter((url) => url !== cluster.url(lagging)), device: `writer-${i}` })));
    clients.push(...writers);
    const snapshots = cluster.members.filter((member) => member.id !== lagging).map((member) => join(member.dataDir, 'snapshot'));
    const largeSnapshot = () => snapshots.every((file) => existsSync(file) && statSync(file).size > frameBytesMax + 64 * 1024);
    let filesCount = 0;
    while (!largeSnapshot() && filesCount < 5500) {
      let nextFile = filesCount;
      filesCount += 550;
      await Promise.all(writers.map(async (writer) => {
        for (let n = nextFile++; n < filesCount; n = nextFile++) {
          await writer.writeFile(`bulk/${String(n).padStart(6, '0')}-${'x'.repeat(3980)}`, new Uint8Array(0));
        }
      }));
      // A snapshot is encoded a step at a time and then saved: give the last one time to land.
      for (let i = 0; i < 20 && !largeSnapshot(); i++) await sleep(100);
    }
    await waitFor(largeSnapshot, `snapshots larger than a frame on both running nodes (after ${filesCount} files)`, 15_000);

    await cluster.startNode(lagging);
    let caughtUp = false;
    const deadline = Date.now() + 30_000;
    while (!caughtUp && Date.now() < deadline) {
      const status = await observer.status().catch(() => null);
      const leaderStatus = status?.nodes.find((node) => node.id === status.leader);
      const laggingStatus = status?.nodes.find((node) => node.id === lagging);
      caughtUp = leaderStatus !== undefined && laggingStatus !== undefined && laggingStatus.role !== 'down' && laggingStatus.appliedIndex >= leaderStatus.commitIndex && leaderStatus.commitIndex > filesCount;
      if (!caughtUp) await sleep(100);
    }
    assert.ok(caughtUp, `node ${lagging} caught up with the leader's commit index`);
    const installed = join(cluster.member(lagging).dataDir, 'snapshot');
    assert.ok(existsSync(installed) && statSync(installed).size > frameBytesMax, 'the restarted node holds a snapshot larger than a frame');

    // The cluster keeps serving, through the restarted node too.
    const direct = await connect({ servers: [cluster.url(lagging)], device: 'direct' });
    clients.push(direct);
    await direct.writeFile('after/snapshot.txt', new TextEncoder().encode('still serving'));
    const read = await direct.readFile('after/snapshot.txt');
    assert.is(new TextDecoder().decode(read!.data), 'still serving');
    // Ten paths share this prefix; all of them would not fit one client frame.
    assert.is((await direct.list('bulk/00010')).length, 10);

    for (const member of cluster.members) {
      assert.not.match(member.output, /peer\.badFrame|peer\.unsendable|node\.fatal|fragmentsDiscarded/, `node ${member.id} logged no transport error`);
    }
  } finally {
    for (const client of clients) await client.close();
    await cluster.destroy();
  }
});

test.run();
