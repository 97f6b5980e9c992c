// The metadata service on three real RaftActors, wired through the simulator's event
// queue, network and disks: requests travel as messages to nodes, followers forward to
// the leader, and answers come back to the client address that asked.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import type { ClusterMap, ClusterStatus, FileChange, FileInfo, NodeStatus, PushMessage, Request, ResponseMessage } from '../../../protocol/wire.ts';
import { EventQueue } from '../../../sim/event-queue.ts';
import { Prng } from '../../../sim/prng.ts';
import { SimNetwork } from '../../../sim/sim-network.ts';
import { SimNode } from '../../../sim/sim-node.ts';
import { defaultRaftActorOptions, RaftActor } from '../raft/raft-actor.ts';
import { MetadataService, type MetadataServiceOptions } from './service.ts';
import { MetadataStateMachine } from './state-machine.ts';

const ids = ['n1', 'n2', 'n3'];
const h = (n: number): string => n.toString(16).padStart(64, '0');

interface Delivery {
  from: string;
  message: unknown;
}

/** Three nodes on the simulator; every address that is not a node is a client inbox. */
class Harness {
  readonly queue = new EventQueue();
  readonly network: SimNetwork;
  readonly nodes: SimNode<RaftActor>[] = [];
  readonly services = new Map<string, MetadataService>();
  readonly machines = new Map<string, MetadataStateMachine>();
  readonly inboxes = new Map<string, Delivery[]>();
  private nextId = 1;

  constructor(seed = 7, serviceOptions: Partial<MetadataServiceOptions> = {}, raftOptions: Partial<typeof defaultRaftActorOptions> = {}) {
    const prng = new Prng(seed);
    this.network = new SimNetwork(this.queue, prng.fork('network'), (from, to, message) => this.route(from, to, message));
    const world = { queue: this.queue, send: (from: string, to: string, message: unknown) => this.network.send(from, to, message), log: () => {}, afterDrain: () => {} };
    for (const id of ids) {
      const node = new SimNode<RaftActor>(id, world, prng.fork(id), { tear: false }, (env) => {
        const machine = new MetadataStateMachine();
        const nodes = ids.map((n) => ({ id: n, url: `ws://127.0.0.1:700${n.slice(1)}` }));
        const service = new MetadataService(env, { node: id, clusterId: 'test', nodes, replication: 3, virtualNodes: 16, ...serviceOptions }, machine);
        this.machines.set(id, machine);
        this.services.set(id, service);
        return new RaftActor(env, { ...defaultRaftActorOptions, ...raftOptions, id, initialVoters: ids }, machine, (m, r) => service.handle(m, r));
      });
      this.nodes.push(node);
      node.start();
    }
  }

  run(ms: number): void {
    this.queue.runUntil(this.queue.now + ms);
  }

  node(id: string): SimNode<RaftActor> {
    return this.nodes.find((n) => n.id === id)!;
  }

  leader(): string {
    const leaders = this.nodes.filter((n) => n.up && n.actor?.raft.role === 'leader');
    assert.is(leaders.length, 1, 'exactly one leader');
    return leaders[0]!.id;
  }

  follower(): string {
    return ids.find((id) => id !== this.leader())!;
  }

  /** Sends a request to `to` from client address `from`; returns the request id. */
  send(to: string, request: Request, from = `${to}/client/1`, hops = 0): number {
    const id = this.nextId++;
    this.network.send(from, to, { type: 'request', from, id, request, hops });
    return id;
  }

  /** Sends, runs the world for a while, and returns the one response with the delivering node. */
  ask(to: string, request: Request, from = `${to}/client/1`, hops = 0): { response: ResponseMessage; by: string } {
    const id = this.send(to, request, from, hops);
    this.run(300);
    const answers = this.inbox(from).filter((d) => isResponse(d.message) && d.message.id === id);
    assert.is(answers.length, 1, `one answer to request ${id} (${request.op})`);
    return { response: answers[0]!.message as ResponseMessage, by: answers[0]!.from };
  }

  ok<T>(to: string, request: Request, from?: string): T {
    const { response } = this.ask(to, request, from);
    if (!response.ok) throw new Error(`${request.op} failed: ${response.error.code} ${response.error.message}`);
    return response.result as T;
  }

  refused(to: string, request: Request, from?: string): { code: string; message: string; details?: Record<string, unknown> } {
    const { response } = this.ask(to, request, from);
    if (response.ok) throw new Error(`${request.op} was expected to fail`);
    return response.error;
  }

  inbox(address: string): Delivery[] {
    return this.inboxes.get(address) ?? [];
  }

  pushes(address: string): PushMessage[] {
    return this.inbox(address)
      .map((d) => d.message)
      .filter((m): m is PushMessage => (m as { type?: string }).type === 'push');
  }

  private route(from: string, to: string, message: unknown): void {
    const node = this.nodes.find((n) => n.id === to);
    if (node) return node.deliver(message);
    const inbox = this.inboxes.get(to) ?? [];
    inbox.push({ from, message });
    this.inboxes.set(to, inbox);
  }
}

function isResponse(message: unknown): message is ResponseMessage {
  return (message as { type?: string }).type === 'response';
}

function started(seed?: number, options?: Partial<MetadataServiceOptions>, raftOptions?: Partial<typeof defaultRaftActorOptions>): Harness {
  const harness = new Harness(seed, options, raftOptions);
  harness.run(2_000);
  harness.leader();
  return harness;
}

let seq = 1;
function commit(changes: Partial<FileChange>[], client = 'laptop'): Request {
  return { op: 'commit', client, seq: seq++, device: 'dev-1', changes: changes.map((c) => ({ path: 'a.txt', deleted: false, blocks: [], size: 0, mtime: 1, mode: 0o644, ...c })) };
}

test('a commit sent to a follower is forwarded, and the leader answers the client directly', () => {
  const c = started();
  const leader = c.leader();
  const follower = c.follower();
  const register = c.ok<{ registered: number }>(follower, { op: 'blocks.register', client: 'laptop', seq: seq++, blocks: [{ hash: h(1), size: 4, owners: [follower] }] });
  assert.equal(register, { registered: 1 });
  const { response, by } = c.ask(follower, commit([{ path: 'docs/a.txt', blocks: [{ hash: h(1), size: 4 }], size: 4 }]));
  assert.is(by, leader, 'the answer comes from the leader, not the follower');
  assert.ok(response.ok);
  const [file] = (response.result as { files: FileInfo[] }).files;
  assert.equal([file!.path, file!.version, file!.size, file!.device], ['docs/a.txt', 1, 4, 'dev-1']);
  c.run(200);
  for (const id of ids) assert.is(c.machines.get(id)!.stat('default', 'docs/a.txt')?.version, 1, `${id} applied the commit`);
});

test('reads at a follower are forwarded and linearizable; a retried commit applies once', () => {
  const c = started(11);
  const follower = c.follower();
  const request = commit([{ path: 'x' }]);
  const first = c.ok<{ files: FileInfo[] }>(follower, request);
  const retried = c.ok<{ files: FileInfo[] }>(follower, request);
  assert.equal(retried, first, 'the session table answers the retry');
  assert.is(c.ok<FileInfo>(follower, { op: 'stat', path: 'x' }).version, 1);
  assert.equal(c.ok<{ files: FileInfo[] }>(follower, { op: 'list', prefix: '' }).files.map((f) => f.path), ['x']);
  assert.equal(c.ok<{ versions: FileInfo[] }>(follower, { op: 'history', path: 'x' }).versions.map((f) => f.version), [1]);
  const changes = c.ok<{ changes: FileInfo[]; cursor: number; reset: boolean }>(follower, { op: 'changes', cursor: 0 });
  assert.equal(changes.changes.map((f) => f.path), ['x']);
  assert.is(changes.reset, false);
  assert.is(c.ok<FileInfo | null>(follower, { op: 'stat', path: 'nothing' }), null);
  assert.is(c.refused(follower, { op: 'stat', path: 'x', version: 5 }).code, 'unknown_version');
});

test('a compare-and-set conflict answers conflict with the current record', () => {
  const c = started();
  c.ok(c.leader(), commit([{ path: 'n.txt', ifVersion: 0, mtime: 10 }]));
  const error = c.refused(c.follower(), commit([{ path: 'n.txt', ifVersion: 0, mtime: 20 }], 'phone'));
  assert.is(error.code, 'conflict');
  const current = error.details!.current as FileInfo;
  assert.equal([current.path, current.version, current.mtime], ['n.txt', 1, 10]);
});

test('a commit naming an unregistered block is refused not_found; blocks.has reports what is missing', () => {
  const c = started();
  const leader = c.leader();
  c.ok(leader, { op: 'blocks.register', client: 'laptop', seq: seq++, blocks: [{ hash: h(2), size: 3, owners: ['n1', 'n2', 'n3'] }] });
  const error = c.refused(leader, commit([{ blocks: [{ hash: h(2), size: 3 }, { hash: h(3), size: 1 }], size: 4 }]));
  assert.is(error.code, 'not_found');
  assert.equal(error.details!.missing, [h(3)]);
  c.run(100);
  for (const id of ids) {
    assert.equal(c.ok<{ missing: string[] }>(id, { op: 'blocks.has', hashes: [h(2), h(3), h(4)] }), { missing: [h(3), h(4)] }, `${id} answers from its registry`);
    assert.is(c.machines.get(id)!.stat('default', 'a.txt'), null);
  }
});

test('bad paths fail fast at the node first asked, without a hop', () => {
  const c = started();
  const follower = c.follower();
  const { response, by } = c.ask(follower, commit([{ path: '../../etc/passwd' }]));
  assert.is(by, follower);
  assert.ok(!response.ok && response.error.code === 'bad_path', JSON.stringify(response));
  assert.is(c.refused(follower, { op: 'stat', path: '/abs' }).code, 'bad_path');
  assert.is(c.refused(follower, { op: 'list', prefix: 'a//' }).code, 'bad_path');
  assert.is(c.refused(follower, { op: 'blocks.put', hash: h(1), data: new Uint8Array(1) }).code, 'bad_message');
});

test('a decomposed path is stored in NFC form', () => {
  const c = started();
  const [file] = c.ok<{ files: FileInfo[] }>(c.leader(), commit([{ path: 'cafe\u0301.txt' }])).files;
  assert.is(file!.path, 'caf\u00e9.txt');
  assert.is(c.ok<FileInfo>(c.leader(), { op: 'stat', path: 'cafe\u0301.txt' }).version, 1);
});

test('a follower answers not_leader to an already forwarded request, and unavailable before any election', () => {
  const c = started();
  const leader = c.leader();
  const { response } = c.ask(c.follower(), { op: 'stat', path: 'a' }, 'elsewhere/client/1', 1);
  assert.ok(!response.ok);
  if (!response.ok) {
    assert.is(response.error.code, 'not_leader');
    assert.equal(response.error.details, { leader });
  }
  const fresh = new Harness(3);
  fresh.run(5);
  const early = fresh.refused('n1', { op: 'list', prefix: '' });
  assert.is(early.code, 'unavailable');
  assert.equal(early.details, { leader: null });
});

test('watchers get a push for each applied commit, from their own node; session.closed ends the watch', () => {
  const c = started();
  const follower = c.follower();
  const watcher = `${follower}/client/9`;
  const watched = c.ok<{ cursor: number }>(follower, { op: 'watch' }, watcher);
  assert.is(watched.cursor, c.machines.get(follower)!.appliedIndex);
  const other = `${follower}/client/10`;
  c.ok(follower, { op: 'watch', namespace: 'other' }, other);
  c.ok(c.leader(), commit([{ path: 'w1' }, { path: 'w2' }]));
  c.run(200);
  const pushes = c.pushes(watcher);
  assert.is(pushes.length, 1);
  assert.equal(pushes[0]!.changes.map((f) => f.path), ['w1', 'w2']);
  assert.ok(pushes[0]!.cursor > watched.cursor);
  assert.ok(c.inbox(watcher).filter((d) => (d.message as { type: string }).type === 'push').every((d) => d.from === follower), 'pushed by the node watched');
  assert.is(c.pushes(other).length, 0, 'another namespace hears nothing');
  c.node(follower).deliver({ type: 'session.closed', address: watcher });
  c.run(10);
  c.ok(c.leader(), commit([{ path: 'w3' }]));
  c.run(200);
  assert.is(c.pushes(watcher).length, 1, 'no push after the session closed');
});

test('a watch with a cursor first pushes the backlog; unwatch stops pushes', () => {
  const c = started();
  const leader = c.leader();
  c.ok(leader, commit([{ path: 'b1' }]));
  const afterFirst = c.ok<{ changes: unknown[]; cursor: number }>(leader, { op: 'changes', cursor: 0 }).cursor;
  c.ok(leader, commit([{ path: 'b2' }]));
  c.ok(leader, commit([{ path: 'b3' }]));
  c.run(200);
  const watcher = `${leader}/client/5`;
  const { cursor } = c.ok<{ cursor: number }>(leader, { op: 'watch', cursor: afterFirst }, watcher);
  const backlog = c.pushes(watcher);
  assert.equal(backlog.flatMap((p) => p.changes.map((f) => f.path)), ['b2', 'b3']);
  assert.is(backlog[backlog.length - 1]!.cursor, cursor);
  const order = c.inbox(watcher).map((d) => (d.message as { type: string }).type);
  assert.equal(order, ['push', 'response'], 'the backlog arrives before the answer');
  c.ok(leader, { op: 'unwatch' }, watcher);
  c.ok(leader, commit([{ path: 'b4' }]));
  c.run(100);
  assert.is(c.pushes(watcher).length, backlog.length);
});

test('a follower brought up to date by a snapshot pushes every path written meanwhile to its watchers', () => {
  const c = started(11, {}, { snapshotEntries: 20 });
  const leader = c.leader();
  const follower = c.follower();
  const watcher = `${follower}/client/9`;
  const { cursor } = c.ok<{ cursor: number }>(follower, { op: 'watch' }, watcher);
  // Count the steps of the install: a snapshot this size is decoded a slice per turn.
  const followerMachine = c.machines.get(follower)!;
  const beginRestore = followerMachine.beginRestore.bind(followerMachine);
  let restoreSteps = 0;
  followerMachine.beginRestore = (data) => {
    const step = beginRestore(data);
    return () => (restoreSteps++, step());
  };
  c.network.isolate(follower, ids);
  // Enough commits that the leader compacts its log past them: the follower can only catch up from a snapshot.
  for (let i = 0; i < 30; i++) c.ok(leader, commit(Array.from({ length: 50 }, (_, j) => ({ path: `bulk/${i}/${j}` }))));
  for (let i = 0; i < 60; i++) c.ok(leader, commit([{ path: `s${i % 25}` }]));
  c.ok(leader, commit([{ path: 'pair/a' }, { path: 'pair/b' }]));
  c.ok(leader, commit([{ path: 's3', deleted: true }]));
  assert.ok(c.nodes.find((n) => n.id === leader)!.actor!.raft.log.firstIndex() > c.machines.get(follower)!.appliedIndex + 1, 'the leader compacted past the follower');
  c.network.healAll();
  c.run(2_000);
  assert.is(c.machines.get(follower)!.appliedIndex, c.machines.get(leader)!.appliedIndex, 'the follower caught up');
  assert.ok(restoreSteps > 1, `the snapshot was installed in ${restoreSteps} steps`);
  const pushes = c.pushes(watcher);
  const seen = new Map(pushes.flatMap((p) => p.changes).map((file) => [file.path, file]));
  const expected = c.machines.get(leader)!.list('default', '', true);
  assert.equal([...seen.keys()].sort(), expected.map((file) => file.path).sort(), 'every path written while the follower was cut off');
  for (const file of expected) assert.equal(seen.get(file.path), file, `${file.path} arrives at its current version`);
  assert.ok(seen.get('s3')!.deleted, 'a delete arrives as a tombstone');
  assert.ok(pushes.every((p, i) => p.cursor > (i === 0 ? cursor : pushes[i - 1]!.cursor)), 'cursors only grow');
});

test('past watchersMax watches, a new watcher is refused overloaded; watching again is not a new watch', () => {
  const c = started(7, { watchersMax: 1 });
  const leader = c.leader();
  c.ok(leader, { op: 'watch' }, 'w/1');
  c.ok(leader, { op: 'watch' }, 'w/1');
  assert.is(c.refused(leader, { op: 'watch' }, 'w/2').code, 'overloaded');
  c.ok(leader, { op: 'unwatch' }, 'w/1');
  c.ok(leader, { op: 'watch' }, 'w/2');
});

test('status lists three nodes with one leader, and reports a crashed node as down', () => {
  const c = started();
  const leader = c.leader();
  c.node('n2').deliver({ type: 'blocks.stats', blocks: 7, bytes: 700 });
  c.run(10);
  const status = c.ok<ClusterStatus>('n2', { op: 'status' });
  assert.is(status.leader, leader);
  assert.equal(status.nodes.map((n) => n.id), ids);
  assert.equal(status.nodes.filter((n) => n.role === 'leader').map((n) => n.id), [leader]);
  assert.is(status.nodes.filter((n) => n.role === 'follower').length, 2);
  assert.ok(status.term >= 1 && status.nodes.every((n) => n.term === status.term));
  assert.equal(status.nodes.find((n) => n.id === 'n2')!.blocks, 7);
  assert.is(status.nodes[0]!.url, 'ws://127.0.0.1:7001');
  assert.equal(status.replication, { factor: 3, blocks: 0, underReplicated: 0, epoch: 0 });

  const victim = ids.find((id) => id !== leader)!;
  const asker = ids.find((id) => id !== leader && id !== victim)!;
  c.node(victim).crash();
  c.ok(leader, { op: 'blocks.register', client: 'laptop', seq: seq++, blocks: [{ hash: h(9), size: 1, owners: [leader] }] });
  c.run(100);
  const id = c.send(asker, { op: 'status' });
  c.run(1_000);
  const answer = c.inbox(`${asker}/client/1`).find((d) => (d.message as ResponseMessage).id === id)!.message as ResponseMessage;
  assert.ok(answer.ok);
  const degraded = (answer as { result: ClusterStatus }).result;
  const down = degraded.nodes.find((n) => n.id === victim)!;
  assert.equal({ role: down.role, term: down.term, appliedIndex: down.appliedIndex }, { role: 'down', term: 0, appliedIndex: 0 });
  assert.is(degraded.nodes.filter((n) => n.role === 'leader').length, 1);
  assert.equal(degraded.replication, { factor: 3, blocks: 1, underReplicated: 1, epoch: 0 });
});

test('node.info and cluster answer locally', () => {
  const c = started();
  const follower = c.follower();
  const info = c.ok<NodeStatus>(follower, { op: 'node.info' });
  assert.is(info.id, follower);
  assert.is(info.role, 'follower');
  assert.ok(info.commitIndex >= 1 && info.appliedIndex >= 1);
  const map = c.ok<ClusterMap>(follower, { op: 'cluster' });
  assert.equal({ ...map, nodes: map.nodes.length }, { clusterId: 'test', nodes: 3, leader: c.leader(), replication: 3, virtualNodes: 16 });
});

test('past proposalsMax pending, requests are refused overloaded', () => {
  const c = started(7, { proposalsMax: 1 });
  const leader = c.leader();
  const first = c.send(leader, commit([{ path: 'o1' }]));
  const second = c.send(leader, commit([{ path: 'o2' }]));
  c.run(300);
  const answers = c.inbox(`${leader}/client/1`).map((d) => d.message as ResponseMessage);
  const byId = (id: number) => answers.find((a) => a.id === id)!;
  assert.ok(byId(first).ok);
  const refused = byId(second);
  assert.ok(!refused.ok && refused.error.code === 'overloaded', JSON.stringify(refused));
  assert.is(c.services.get(leader)!.pendingCount, 0, 'every reservation was released');
});

test('a leader crash fails the pending commit as timeout or answers it; the retry with the same seq applies once', () => {
  const c = started(5);
  const leader = c.leader();
  const request = commit([{ path: 'crash.txt' }]);
  const from = `${leader}/client/2`;
  c.send(leader, request, from);
  c.run(1); // proposed, not yet committed
  c.node(leader).crash();
  c.run(3_000);
  const survivor = ids.find((id) => id !== leader)!;
  const result = c.ok<{ files: FileInfo[] }>(survivor, request);
  assert.is(result.files[0]!.version, 1);
  c.node(leader).start();
  c.run(2_000);
  for (const id of ids) assert.is(c.machines.get(id)!.history('default', 'crash.txt').length, 1, `${id} applied it once`);
});

test.run();
