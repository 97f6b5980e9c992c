import { test } from 'uvu';
import * as assert from 'uvu/assert';
import fc from 'fast-check';
import { encode } from '@msgpack/msgpack';
import { RaftboxError } from './errors.ts';
import { frameBytesMax } from './limits.ts';
import type { RaftMessage } from './raft-messages.ts';
import type { ClientToNode, FileInfo, NodeToClient, PeerEnvelope, Request, RequestOp, Results } from './wire.ts';
import { expectError } from './test-support/expect-error.ts';
import {
  blockBytesMax, blocksPerPutMax, checkResult, clockEntriesMax, decodeClientFrame, decodeNodeFrame, decodePeerEnvelope, encodeWire,
  hashesPerHasMax, pathFieldBytesMax,
} from './wire-schema.ts';

// ------------------------------------------------------------------ realistic examples

const hashA = 'a3f1c2'.padEnd(64, '0');
const hashB = '0'.repeat(63) + 'f';
const clock = { 'laptop-7f3a': 4, 'phone-19c2': 2 };

const change = {
  path: 'photos/2024/beach.jpg', ifVersion: 3, deleted: false, size: 1_300_000, mtime: 1_718_000_000_123, mode: 0o644,
  blocks: [{ hash: hashA, size: 1_048_576 }, { hash: hashB, size: 251_424 }], clock,
};
const fileInfo: FileInfo = {
  path: 'photos/2024/beach.jpg', version: 4, size: 1_300_000, mtime: 1_718_000_000_123, mode: 0o644, deleted: false,
  device: 'laptop-7f3a', clock: { ...clock, 'laptop-7f3a': 5 }, blocks: change.blocks, index: 812,
};
const tombstone: FileInfo = { ...fileInfo, path: 'notes/old.txt', version: 2, size: 0, deleted: true, blocks: [], index: 813 };

const requests: Request[] = [
  { op: 'stat', path: 'docs/report.pdf' },
  { op: 'stat', namespace: 'team-a', path: 'docs/report.pdf', version: 3 },
  { op: 'list', prefix: 'photos/' },
  { op: 'list', namespace: 'team-a', prefix: '', includeDeleted: true },
  { op: 'history', namespace: 'default', path: 'notes/todo.md' },
  { op: 'changes', cursor: 0 },
  { op: 'changes', namespace: 'team-a', cursor: 812, limit: 500 },
  { op: 'commit', client: 'cli-8d2e', seq: 17, device: 'laptop-7f3a', changes: [change] },
  {
    op: 'commit', namespace: 'team-a', client: 'web-41aa', seq: 1, device: 'phone-19c2',
    changes: [{ path: 'notes/old.txt', deleted: true, blocks: [], size: 0, mtime: -86_400_000, mode: 0 }],
  },
  { op: 'watch' },
  { op: 'watch', namespace: 'team-a', cursor: 812 },
  { op: 'unwatch' },
  { op: 'status' },
  { op: 'cluster' },
  { op: 'node.info' },
  { op: 'blocks.has', hashes: [hashA, hashB] },
  { op: 'blocks.put', hash: hashA, data: new Uint8Array([0xff, 0xd8, 0xff, 0xe0, 0, 16, 0x4a, 0x46]) },
  { op: 'blocks.put-many', blocks: [{ hash: hashA, data: new Uint8Array([1, 2]) }, { hash: hashB, data: new Uint8Array(0) }] },
  { op: 'blocks.get', hash: hashB },
  { op: 'blocks.register', client: 'cli-8d2e', seq: 18, blocks: [{ hash: hashA, size: 1_048_576, owners: ['n1', 'n3', 'n2'] }] },
  { op: 'admin.scrub', node: 'n2' },
  { op: 'admin.gc' },
  { op: 'blocks.release', client: 'n2/blocks#k3', seq: 4, blocks: [{ hash: hashA, size: 1_048_576, owners: ['n4'] }] },
  { op: 'node.join', node: 'n4', url: 'ws://127.0.0.1:7004', voter: true },
  { op: 'admin.remove-node', node: 'n2' },
];
const allOps: RequestOp[] = [
  'stat', 'list', 'history', 'changes', 'commit', 'watch', 'unwatch', 'status', 'cluster', 'node.info',
  'blocks.has', 'blocks.put', 'blocks.put-many', 'blocks.get', 'blocks.register', 'admin.scrub', 'admin.gc',
  'blocks.release', 'node.join', 'admin.remove-node',
];

const clusterMap = {
  clusterId: 'c-5b1e9a', leader: 'n2', replication: 3, virtualNodes: 64,
  nodes: [{ id: 'n1', url: 'ws://127.0.0.1:7001' }, { id: 'n2', url: 'ws://127.0.0.1:7002' }, { id: 'n3', url: 'ws://127.0.0.1:7003' }],
};
const nodeStatus = { id: 'n1', url: 'ws://127.0.0.1:7001', role: 'follower' as const, term: 5, commitIndex: 812, appliedIndex: 810, blocks: 1234, bytes: 987_654_321 };

const results: { [K in RequestOp]: Results[K] } = {
  stat: fileInfo,
  list: { files: [fileInfo, tombstone] },
  history: { versions: [fileInfo, { ...fileInfo, version: 3, index: 700 }] },
  changes: { changes: [tombstone], cursor: 813, reset: false },
  commit: { files: [fileInfo] },
  watch: { cursor: 813 },
  unwatch: {},
  status: {
    leader: 'n2', term: 5, replication: { factor: 3, blocks: 1234, underReplicated: 2 },
    nodes: [nodeStatus, { ...nodeStatus, id: 'n2', role: 'leader' }, { ...nodeStatus, id: 'n3', role: 'down' }],
  },
  cluster: clusterMap,
  'node.info': nodeStatus,
  'blocks.has': { missing: [hashB] },
  'blocks.put': { replicas: 3 },
  'blocks.put-many': { outcomes: [{ replicas: 3 }, { error: { code: 'overloaded', message: 'n1 already has 256 block uploads in flight; retry with backoff' } }] },
  'blocks.get': { data: new Uint8Array([1, 2, 3, 4, 5]) },
  'blocks.register': { registered: 1 },
  'admin.scrub': { checked: 40, corrupt: 1, repaired: 1, missing: 0 },
  'admin.gc': { deletedBlocks: 3, freedBytes: 9_437_184 },
  'blocks.release': { released: 2 },
  'node.join': { clusterId: 'c-5b1e9a', initialMembers: ['n1', 'n2', 'n3'] },
  'admin.remove-node': { node: 'n2', drainedBlocks: 40 },
};

const clientFrames: ClientToNode[] = [
  { type: 'hello', protocol: 1, role: 'client', token: 'tok-3a9f', device: 'laptop-7f3a' },
  { type: 'hello', protocol: 1, role: 'peer', clusterId: 'c-5b1e9a', from: 'n1', to: 'n2' },
  ...requests.map((request, i): ClientToNode => ({ type: 'request', id: i + 1, ...request })),
];

const notLeader = { code: 'not_leader' as const, message: 'n1 is not the leader; retry at n2.', details: { leaderHint: 'n2' } };
const nodeFrames: NodeToClient[] = [
  { type: 'welcome', protocol: 1, clusterId: 'c-5b1e9a', node: 'n1', map: clusterMap },
  { type: 'welcome', protocol: 1, clusterId: 'c-5b1e9a', node: 'n1', map: { ...clusterMap, leader: null } },
  ...allOps.map((op, i): NodeToClient => ({ type: 'response', id: i + 1, ok: true, result: results[op] })),
  { type: 'response', id: 1, ok: true, result: null },
  { type: 'response', id: 9, ok: false, error: notLeader },
  { type: 'response', id: 10, ok: false, error: { code: 'conflict', message: "'a.txt' is at version 4, not 3.", details: { current: fileInfo } } },
  { type: 'push', cursor: 813, changes: [fileInfo, tombstone] },
  { type: 'error', error: { code: 'unsupported_version', message: 'This node speaks protocol 1, not 2; upgrade the client.' } },
];

const entryData = new Uint8Array([0x93, 1, 2, 3]);
const raftMessages: RaftMessage[] = [
  { type: 'vote', from: 'n1', to: 'n2', term: 6, preVote: true, lastIndex: 812, lastTerm: 5, transfer: false },
  { type: 'voteResponse', from: 'n2', to: 'n1', term: 6, preVote: true, granted: true },
  {
    type: 'append', from: 'n2', to: 'n3', term: 5, prevIndex: 810, prevTerm: 5, commit: 811,
    entries: [{ term: 5, index: 811, type: 'normal', data: entryData }, { term: 5, index: 812, type: 'noop', data: new Uint8Array() }],
  },
  { type: 'appendResponse', from: 'n3', to: 'n2', term: 5, reject: true, index: 810, hintIndex: 790, hintTerm: 4 },
  { type: 'heartbeat', from: 'n2', to: 'n1', term: 5, commit: 812, readRound: 3 },
  { type: 'heartbeatResponse', from: 'n1', to: 'n2', term: 5, readRound: 3 },
  {
    type: 'snapshot', from: 'n2', to: 'n4', term: 5,
    snapshot: { index: 800, term: 5, config: { voters: ['n1', 'n2', 'n3'], learners: ['n4'] }, data: new Uint8Array([9, 8, 7]) },
  },
  { type: 'timeoutNow', from: 'n2', to: 'n1', term: 5 },
];
const peerEnvelopes: PeerEnvelope[] = [
  ...raftMessages.map((message): PeerEnvelope => ({ to: message.to, message })),
  { to: 'n2', message: { type: 'request', from: 'n1/client/7', id: 44, hops: 1, request: requests[7]! } },
  { to: 'n2', message: { type: 'request', from: 'n1/client/7', id: 45, hops: 0, request: { op: 'stat', path: 'a.txt' } } },
  { to: 'n1/client/7', message: { type: 'response', id: 44, ok: true, result: results.commit } },
  { to: 'n1/client/7', message: { type: 'response', id: 45, ok: false, error: { code: 'timeout', message: 'No quorum within 5000 ms.' } } },
  { to: 'n1/client/7', message: { type: 'push', cursor: 813, changes: [tombstone] } },
  { to: 'n3/blocks', message: { type: 'block.replicate', from: 'n1/blocks', id: 3, blocks: [{ hash: hashA, data: new Uint8Array([5, 6, 7]) }, { hash: hashB, data: new Uint8Array([8]) }] } },
  { to: 'n1/blocks', message: { type: 'block.replicated', from: 'n3/blocks', id: 3, outcomes: [{ ok: true }, { ok: false, error: { code: 'disk_full', message: 'n3 has no room.' } }] } },
  { to: 'n2/blocks', message: { type: 'block.fetch', from: 'n1/blocks', id: 5, hash: hashB } },
  { to: 'n1/blocks', message: { type: 'block.fetched', from: 'n2/blocks', id: 5, data: new Uint8Array([42]) } },
  { to: 'n1/blocks', message: { type: 'block.fetched', from: 'n2/blocks', id: 6, data: null } },
  { to: 'n1/blocks', message: { type: 'block.confirm', from: 'n4/blocks', id: 7, hash: hashA, epoch: 3 } },
  { to: 'n4/blocks', message: { type: 'block.confirmed', from: 'n1/blocks', id: 7, ok: true } },
];

// ------------------------------------------------------------------ helpers


const request = (fields: Record<string, unknown>) => encode({ type: 'request', id: 1, ...fields });
const badClient = (bytes: Uint8Array, field: string, pattern: RegExp) => {
  const error = expectError(() => decodeClientFrame(bytes), 'bad_message', pattern);
  assert.is(error.details?.field, field);
};

// ------------------------------------------------------------------ round trips

test('every client frame and every op round-trips', () => {
  const seen = new Set<string>();
  for (const frame of clientFrames) {
    if (frame.type === 'request') seen.add(frame.op);
    assert.equal(decodeClientFrame(encodeWire(frame)), frame);
  }
  assert.equal([...seen].sort(), [...allOps].sort());
});

test('every node frame round-trips, and every result checks against its op', () => {
  for (const frame of nodeFrames) assert.equal(decodeNodeFrame(encodeWire(frame)), frame);
  for (const op of allOps) {
    const frame = decodeNodeFrame(encodeWire({ type: 'response', id: 1, ok: true, result: results[op] }));
    assert.ok(frame.type === 'response' && frame.ok);
    assert.equal(checkResult(op, frame.result), results[op], op);
  }
  assert.is(checkResult('stat', null), null);
});

test('every peer message type round-trips inside an envelope', () => {
  const seen = new Set<string>();
  for (const envelope of peerEnvelopes) {
    seen.add(envelope.message.type);
    assert.equal(decodePeerEnvelope(encodeWire(envelope)), envelope);
  }
  assert.is(seen.size, 17);
});

test('decoded binary smaller than half its frame is copied out; a block that fills its frame stays a view', () => {
  const frame = encodeWire(clientFrames.find((f) => f.type === 'request' && f.op === 'blocks.put')!);
  const decoded = decodeClientFrame(frame);
  frame.fill(0);
  assert.ok(decoded.type === 'request' && decoded.op === 'blocks.put');
  assert.equal([...decoded.data], [0xff, 0xd8, 0xff, 0xe0, 0, 16, 0x4a, 0x46], 'an 8-byte field does not pin its frame');
  const block = new Uint8Array(64 * 1024).fill(7);
  const bigFrame = encodeWire({ type: 'request', id: 1, op: 'blocks.put', hash: hashA, data: block });
  const big = decodeClientFrame(bigFrame);
  assert.ok(big.type === 'request' && big.op === 'blocks.put');
  assert.is(big.data.buffer, bigFrame.buffer, 'a block is not copied again on every hop');
  assert.equal(big.data, block);
});

test('unknown fields are dropped; undefined is left out; nil counts as absent', () => {
  assert.equal(decodeClientFrame(request({ op: 'stat', path: 'a', future: { x: 1 } })), { type: 'request', id: 1, op: 'stat', path: 'a' });
  const withUndefined = { type: 'request' as const, id: 1, op: 'stat' as const, path: 'a', namespace: undefined, version: undefined };
  assert.equal(encodeWire(withUndefined), encodeWire({ type: 'request', id: 1, op: 'stat', path: 'a' }));
  const fromNil = decodeClientFrame(request({ op: 'stat', path: 'a', namespace: null, version: null }));
  assert.ok(fromNil.type === 'request' && fromNil.op === 'stat');
  assert.is(fromNil.namespace, undefined);
  assert.is(fromNil.version, undefined);
});

test('limits are exact: the largest legal value passes, one more is refused', () => {
  assert.ok(decodeClientFrame(request({ op: 'stat', path: 'p'.repeat(pathFieldBytesMax) })));
  badClient(request({ op: 'stat', path: 'p'.repeat(pathFieldBytesMax + 1) }), 'path', /field 'path' must be at most 8192 bytes of UTF-8, got 8193 bytes\./);
  // 4097..8192 bytes pass here, so the path rules can answer with `bad_path`.
  assert.ok(decodeClientFrame(request({ op: 'stat', path: 'é'.repeat(4096) })));
  badClient(request({ op: 'stat', path: 'é'.repeat(4097) }), 'path', /at most 8192 bytes/);

  const hashes = Array.from({ length: hashesPerHasMax + 1 }, () => hashA);
  assert.ok(decodeClientFrame(request({ op: 'blocks.has', hashes: hashes.slice(1) })));
  badClient(request({ op: 'blocks.has', hashes }), 'hashes', /field 'hashes' must hold at most 4096 hashes, got length 4097\./);

  const data = new Uint8Array(blockBytesMax + 1);
  assert.ok(decodeClientFrame(request({ op: 'blocks.put', hash: hashA, data: data.subarray(1) })));
  badClient(request({ op: 'blocks.put', hash: hashA, data }), 'data', /field 'data' must be at most 4194304 bytes, got length 4194305\./);

  const bigClock = Object.fromEntries(Array.from({ length: clockEntriesMax + 1 }, (_, i) => [`d${i}`, 1]));
  const commit = (clock: unknown) => request({ op: 'commit', client: 'c', seq: 1, device: 'd', changes: [{ ...change, clock }] });
  badClient(commit(bigClock), 'changes.0.clock', /must name at most 1024 devices/);
  delete bigClock.d0;
  assert.ok(decodeClientFrame(commit(bigClock)));
  badClient(commit({ '': 1 }), 'changes.0.clock.', /must not be empty/);

  const blockRef = (size: number) => request({ op: 'blocks.register', client: 'c', seq: 1, blocks: [{ hash: hashA, size, owners: ['n1'] }] });
  assert.ok(decodeClientFrame(blockRef(blockBytesMax)));
  badClient(blockRef(blockBytesMax + 1), 'blocks.0.size', /must be at most 4194304 bytes/);
  badClient(request({ op: 'commit', client: 'x'.repeat(257), seq: 1, device: 'd', changes: [] }), 'client', /at most 256 bytes/);
});

// ------------------------------------------------------------------ refusals

test('refusals name the first offending field', () => {
  badClient(encode({ type: 'request', op: 'stat', path: 'a' }), 'id', /^Client frame field 'id' is missing\.$/);
  badClient(request({ op: 'delete', path: 'a' }), 'op', /^Client frame field 'op' must be one of stat, list, .*admin\.remove-node, got "delete"\.$/);
  badClient(request({ path: 'a' }), 'op', /field 'op' must be one of stat/);
  badClient(request({ op: 'blocks.get', hash: hashA.slice(1) }), 'hash', /field 'hash' must be 64 lowercase hex characters/);
  badClient(request({ op: 'blocks.get', hash: hashA.toUpperCase() }), 'hash', /must be 64 lowercase hex/);
  badClient(request({ op: 'stat', path: 'a', version: -1 }), 'version', /field 'version' must be a non-negative safe integer, got -1\./);
  badClient(request({ op: 'changes', cursor: 1.5 }), 'cursor', /non-negative safe integer/);
  badClient(encode({ type: 'request', id: -3, op: 'status' }), 'id', /field 'id' must be a non-negative safe integer/);
  badClient(encode({ type: 'request', id: 2 ** 53, op: 'status' }), 'id', /field 'id' must be a non-negative safe integer/);
  badClient(request({ op: 'blocks.put', hash: hashA, data: [1, 2, 3] }), 'data', /field 'data' must be binary/);
  badClient(request({ op: 'commit', client: 'c', seq: 1, device: 'd', changes: [{ ...change, mtime: 1.5 }] }), 'changes.0.mtime', /safe integer/);
  badClient(request({ op: 'commit', client: 'c', seq: 1, device: 'd', changes: [{ ...change, blocks: [{ hash: hashA }] }] }), 'changes.0.blocks.0.size', /is missing/);
  badClient(encode({ type: 'hello', protocol: '1', role: 'client' }), 'protocol', /^Client frame field 'protocol' must be a number, got "1"\.$/);
  badClient(encode({ type: 'hello', protocol: 1, role: 'admin' }), 'role', /must be one of client, peer/);
  badClient(encode({ type: 'welcome', protocol: 1 }), 'type', /field 'type' must be one of hello, request, got "welcome"/);
  badClient(encode([1, 2]), 'type', /field 'type' must be one of hello, request/);
  expectError(() => decodeClientFrame(encode('hello')), 'bad_message', /^Client frame must be one of hello, request, got "hello"\.$/);
  // A protocol the node does not speak is still a well-formed hello, so the node can answer unsupported_version.
  assert.ok(decodeClientFrame(encode({ type: 'hello', protocol: 99, role: 'client' })));
});

test('a client refuses malformed node frames too', () => {
  const bad = (value: unknown, pattern: RegExp) => expectError(() => decodeNodeFrame(encode(value)), 'bad_message', pattern);
  bad({ type: 'response', id: 1, ok: false, error: { code: 'oops', message: 'x' } }, /^Node frame field 'error\.code' must be a known error code, got "oops"\.$/);
  bad({ type: 'error', error: { code: 'internal' } }, /field 'error\.message' is missing/);
  bad({ type: 'response', id: 1, ok: 1, result: 2 }, /field 'ok' must be one of true, false/);
  bad({ type: 'response', id: 1, ok: true }, /field 'result' is missing/);
  bad({ type: 'welcome', protocol: 1, clusterId: 'c', node: 'n1', map: { ...clusterMap, virtualNodes: 1e9 } }, /field 'map\.virtualNodes' must be at most 4096/);
  bad({ type: 'push', cursor: 1, changes: [{ ...fileInfo, deleted: 'no' }] }, /field 'changes\.0\.deleted' must be a boolean/);
  bad({ type: 'request', id: 1, op: 'status' }, /field 'type' must be one of welcome, response, push, error/);
  const badResult = (op: RequestOp, value: unknown, pattern: RegExp) => expectError(() => checkResult(op, value), 'bad_message', pattern);
  badResult('list', { files: [{ ...fileInfo, version: null }] }, /^Result of 'list' field 'files\.0\.version' must be a number\.$/);
  badResult('stat', 'x', /^Result of 'stat' must be a map\.$/);
  badResult('changes', { changes: [], cursor: 1 }, /^Result of 'changes' field 'reset' is missing\.$/);
  badResult('status', { ...results.status, nodes: [{ ...nodeStatus, role: 'boss' }] }, /field 'nodes\.0\.role' must be one of leader/);
});

test('peer envelopes check Raft messages as strictly as the Raft codec', () => {
  const bad = (value: unknown, pattern: RegExp) => expectError(() => decodePeerEnvelope(encode(value)), 'bad_message', pattern);
  bad({ message: raftMessages[0] }, /^Peer frame field 'to' is missing\.$/);
  bad({ to: 'n2', message: { ...raftMessages[0], term: -1 } }, /field 'message\.term' must be a non-negative safe integer/);
  const append = raftMessages[2] as Extract<RaftMessage, { type: 'append' }>;
  bad({ to: 'n3', message: { ...append, prevIndex: 800 } }, /field 'message\.entries' must have consecutive indexes/);
  bad({ to: 'n2', message: { type: 'gossip' } }, /field 'message\.type' must be one of vote, .*, node\.heartbeat, got "gossip"/);
  bad({ to: 'n2', message: { type: 'request', from: 'n1/client/7', id: 1, hops: 0, request: { op: 'x' } } }, /field 'message\.request\.op' must be one of stat/);
  bad({ to: 'n2', message: { type: 'block.replicate', from: 'n1/blocks', id: 1, blocks: [{ hash: hashA, data: new Uint8Array(blockBytesMax + 1) }] } }, /field 'message\.blocks\.0\.data' must be at most 4194304 bytes/);
  const tooMany = Array.from({ length: blocksPerPutMax + 1 }, () => ({ hash: hashA, data: new Uint8Array(1) }));
  bad({ to: 'n2', message: { type: 'block.replicate', from: 'n1/blocks', id: 1, blocks: tooMany } }, /field 'message\.blocks' must hold at most 256 blocks, got length 257/);
  bad({ to: '', message: raftMessages[0] }, /field 'to' must not be empty/);
});

test('frame-level failures keep their codes', () => {
  expectError(() => decodeClientFrame(new Uint8Array(frameBytesMax + 1)), 'frame_too_large');
  expectError(() => decodeNodeFrame(new Uint8Array([0xc1])), 'bad_frame');
  const frame = encodeWire(peerEnvelopes[0]!);
  expectError(() => decodePeerEnvelope(frame.subarray(0, frame.length - 1)), 'bad_frame');
  expectError(() => encodeWire({ type: 'request', id: 1, op: 'blocks.put', hash: hashA, data: new Uint8Array(frameBytesMax) }), 'frame_too_large');
});

// ------------------------------------------------------------------ fuzz

type Decoder = 'client' | 'node' | 'peer';
const decoders: Record<Decoder, (bytes: Uint8Array) => unknown> = {
  client: decodeClientFrame,
  node: decodeNodeFrame,
  peer: decodePeerEnvelope,
};
const examples: { decoder: Decoder; value: unknown }[] = [
  ...clientFrames.map((value) => ({ decoder: 'client' as const, value })),
  ...nodeFrames.map((value) => ({ decoder: 'node' as const, value })),
  ...peerEnvelopes.map((value) => ({ decoder: 'peer' as const, value })),
];

const anythingArb = fc.anything({ maxDepth: 3, maxKeys: 6, withTypedArray: true, withNullPrototype: true });
const mutationArb = fc.oneof(
  fc.record({ kind: fc.constant('xor' as const), at: fc.nat(), mask: fc.integer({ min: 1, max: 255 }) }),
  fc.record({ kind: fc.constant('insert' as const), at: fc.nat(), byte: fc.integer({ min: 0, max: 255 }) }),
  fc.record({ kind: fc.constant('delete' as const), at: fc.nat() }),
  fc.record({ kind: fc.constant('truncate' as const), at: fc.nat() }),
);
type Mutation = typeof mutationArb extends fc.Arbitrary<infer T> ? T : never;

function mutateBytes(frame: Uint8Array, mutations: Mutation[]): Uint8Array {
  let bytes = Array.from(frame);
  for (const mutation of mutations) {
    const at = bytes.length === 0 ? 0 : mutation.at % bytes.length;
    if (mutation.kind === 'xor') bytes[at] = (bytes[at] ?? 0) ^ mutation.mask;
    if (mutation.kind === 'insert') bytes.splice(at, 0, mutation.byte);
    if (mutation.kind === 'delete') bytes.splice(at, 1);
    if (mutation.kind === 'truncate') bytes = bytes.slice(0, at);
  }
  return Uint8Array.from(bytes);
}

// Replaces (or deletes) one field somewhere inside a valid value: the most likely way for a
// buggy peer to go wrong, and the best way to reach every schema branch.
function replaceField(value: unknown, pick: number, replacement: unknown, remove: boolean): unknown {
  const slots: { parent: Record<string, unknown>; key: string }[] = [];
  const walk = (node: unknown): void => {
    if (node === null || typeof node !== 'object' || node instanceof Uint8Array) return;
    for (const [key, child] of Object.entries(node)) {
      slots.push({ parent: node as Record<string, unknown>, key });
      walk(child);
    }
  };
  const copy = structuredClone(value);
  walk(copy);
  const slot = slots[pick % slots.length]!;
  if (remove && !Array.isArray(slot.parent)) delete slot.parent[slot.key];
  else slot.parent[slot.key] = replacement;
  return copy;
}

function withoutUndefined(value: unknown): unknown {
  if (value === null || typeof value !== 'object' || value instanceof Uint8Array) return value;
  if (Array.isArray(value)) return value.map(withoutUndefined);
  const entries = Object.entries(value).filter(([, child]) => child !== undefined);
  return Object.fromEntries(entries.map(([key, child]) => [key, withoutUndefined(child)]));
}

const caseArb = fc.oneof(
  fc.record({ kind: fc.constant('bytes' as const), example: fc.nat(examples.length - 1), mutations: fc.array(mutationArb, { minLength: 1, maxLength: 4 }) }),
  fc.record({ kind: fc.constant('field' as const), example: fc.nat(examples.length - 1), pick: fc.nat(), replacement: anythingArb, remove: fc.boolean() }),
  fc.record({ kind: fc.constant('anything' as const), decoder: fc.constantFrom<Decoder>('client', 'node', 'peer'), value: anythingArb }),
);
type Case = typeof caseArb extends fc.Arbitrary<infer T> ? T : never;

function frameOf(testCase: Case): { decoder: Decoder; bytes: Uint8Array } {
  if (testCase.kind === 'anything') return { decoder: testCase.decoder, bytes: encode(testCase.value) };
  const example = examples[testCase.example]!;
  if (testCase.kind === 'bytes') return { decoder: example.decoder, bytes: mutateBytes(encodeWire(example.value as PeerEnvelope), testCase.mutations) };
  return { decoder: example.decoder, bytes: encode(replaceField(example.value, testCase.pick, testCase.replacement, testCase.remove)) };
}

test('100,000 mutated frames decode to a valid frame or throw RaftboxError only', () => {
  const runs = 100_000;
  const outcomes = { decoded: 0, frame_too_large: 0, bad_frame: 0, bad_message: 0, resultsChecked: 0 };
  fc.assert(
    fc.property(caseArb, (testCase) => {
      const { decoder, bytes } = frameOf(testCase);
      let decoded: unknown;
      try {
        decoded = decoders[decoder](bytes);
      } catch (error) {
        if (!(error instanceof RaftboxError)) throw new Error(`a non-RaftboxError escaped: ${String(error)}`);
        assert.ok(error.code === 'frame_too_large' || error.code === 'bad_frame' || error.code === 'bad_message', error.code);
        outcomes[error.code]++;
        return;
      }
      // Whatever decodes is itself a valid frame: it survives another round trip unchanged
      // (except that an optional field sent as nil, decoded as undefined, is now left out).
      assert.equal(decoders[decoder](encodeWire(decoded as PeerEnvelope)), withoutUndefined(decoded));
      outcomes.decoded++;
      const frame = decoded as NodeToClient;
      if (decoder === 'node' && frame.type === 'response' && frame.ok) {
        // A result is checked against the op the client asked for, which the node may have got wrong.
        const op = allOps[frame.id % allOps.length]!;
        try {
          checkResult(op, frame.result);
        } catch (error) {
          if (!(error instanceof RaftboxError) || error.code !== 'bad_message') throw new Error(`checkResult threw ${String(error)}`);
        }
        outcomes.resultsChecked++;
      }
    }),
    { seed: 20240612, numRuns: runs },
  );
  console.log(`\n  fuzz outcomes: ${JSON.stringify(outcomes)}`);
  assert.is(outcomes.decoded + outcomes.frame_too_large + outcomes.bad_frame + outcomes.bad_message, runs);
  // Each outcome that small frames can reach must occur, or the fuzz is not exercising the decoders.
  assert.ok(outcomes.decoded > 1000 && outcomes.bad_frame > 1000 && outcomes.bad_message > 1000, JSON.stringify(outcomes));
  assert.ok(outcomes.resultsChecked > 100, JSON.stringify(outcomes));
});

test.run();
