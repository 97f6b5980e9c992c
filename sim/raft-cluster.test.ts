// Raft behaviour on the simulator, scenario by scenario: elections, agreement, message
// budgets, persistence and snapshots. Each test drives the real RaftActor through the
// simulated network and disk and asserts on what the nodes hold.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { SimCluster } from './cluster.ts';

function cluster(nodes: number, seed = 1, clients = 0, snapshotEntries = 10_000): SimCluster {
  const c = new SimCluster({ seed, nodes, clients, diskTear: false, snapshotEntries, trace: false });
  c.start();
  return c;
}

function leaders(c: SimCluster): string[] {
  return c.nodes.filter((n) => n.up && n.actor?.raft.role === 'leader').map((n) => n.id);
}

let nextSeq = 1;

/** Propose a value at the current leader; resolves through the run loop. */
function propose(c: SimCluster, value: string): { done: boolean; ok: boolean } {
  const state = { done: false, ok: false };
  const leader = c.leader();
  assert.ok(leader, 'a leader to propose to');
  const command = new TextEncoder().encode(JSON.stringify({ client: 'test', seq: nextSeq++, input: { kind: 'write', key: 'k', value } }));
  leader.actor!.propose(command, (outcome) => {
    state.done = true;
    state.ok = outcome.ok;
  });
  return state;
}

function applied(c: SimCluster, id: string): number {
  return c.node(id).actor!.raft.log.applied;
}

test('initial election: one leader, and the term stays put for 2 s without faults', () => {
  const c = cluster(3);
  c.run(1_500);
  assert.equal(leaders(c).length, 1);
  const term = c.leader()!.actor!.raft.term;
  c.run(3_500);
  assert.equal(leaders(c).length, 1);
  assert.equal(c.leader()!.actor!.raft.term, term, 'no election without faults');
});

test('re-election after the leader is disconnected, and the old leader steps down', () => {
  const c = cluster(3);
  c.run(1_500);
  const old = c.leader()!.id;
  c.network.isolate(old, c.ids);
  c.run(3_500);
  const now = c.leader()!;
  assert.is.not(now.id, old);
  assert.is.not(c.node(old).actor!.raft.role, 'leader', 'CheckQuorum makes the isolated leader step down');
  c.network.partition([]);
  c.run(5_000);
  assert.equal(leaders(c), [now.id], 'the old leader rejoins as a follower (PreVote keeps the new leader)');
});

test('no leader while 2 of 3 nodes are down', () => {
  const c = cluster(3);
  c.run(1_500);
  const [a] = c.ids.filter((id) => id !== c.leader()!.id);
  c.node(a!).crash();
  c.node(c.leader()!.id).crash();
  c.run(6_000);
  assert.equal(leaders(c), []);
  c.restart(a!);
  c.run(9_000);
  assert.equal(leaders(c).length, 1, 'a majority again elects a leader');
});

test('7 nodes over 10 rounds of cutting 3 random nodes: always a leader among the connected majority', () => {
  const c = cluster(7, 7);
  c.run(1_500);
  for (let round = 0; round < 10; round++) {
    const cut = c.prng.sample(c.ids, 3);
    c.network.partition([cut, c.ids.filter((id) => !cut.includes(id))]);
    c.run(c.queue.now + 2_000);
    const majorityLeaders = leaders(c).filter((id) => !cut.includes(id));
    assert.equal(majorityLeaders.length, 1, `round ${round}: one leader in the majority`);
    c.network.partition([]);
    c.run(c.queue.now + 500);
  }
  assert.equal(c.monitor.failures, []);
});

test('agreement: entries commit everywhere; a follower that missed some catches up', () => {
  const c = cluster(3);
  c.run(1_500);
  const follower = c.ids.find((id) => id !== c.leader()!.id)!;
  c.network.isolate(follower, c.ids);
  const results = [1, 2, 3, 4, 5].map((i) => propose(c, `v${i}`));
  c.run(2_000);
  assert.ok(results.every((r) => r.done && r.ok), 'a majority commits without the isolated follower');
  const leaderApplied = applied(c, c.leader()!.id);
  assert.ok(applied(c, follower) < leaderApplied);
  c.network.partition([]);
  c.run(3_000);
  assert.equal(applied(c, follower), leaderApplied);
});

test('concurrent proposals: 30 at once all commit, in one order on every node', () => {
  const c = cluster(3, 4);
  c.run(1_500);
  const before = applied(c, c.leader()!.id);
  const results = Array.from({ length: 30 }, (_, i) => propose(c, `c${i % 3}.${i}`));
  c.run(3_000);
  assert.ok(results.every((r) => r.done && r.ok), 'every proposal committed');
  const after = c.ids.map((id) => applied(c, id));
  assert.ok(after.every((index) => index === before + 30), `each node applied exactly the 30 entries: ${after} after ${before}`);
  const digests = c.ids.map((id) => c.stateMachine(id)!.digest);
  assert.ok(digests.every((d) => d === digests[0]), 'same order everywhere');
  assert.equal(c.monitor.failures, []);
});

test('a stale leader rejoins: its uncommitted entries are replaced by the new leader\'s, and it follows', () => {
  const c = cluster(5, 6);
  c.run(1_500);
  const stale = c.leader()!.id;
  c.network.isolate(stale, c.ids);
  const lost = [1, 2, 3].map((i) => propose(c, `stale${i}`));
  c.run(3_000);
  const fresh = leaders(c).find((id) => id !== stale);
  assert.ok(fresh, 'the others elect a new leader');
  const kept = [1, 2, 3].map((i) => propose(c, `fresh${i}`));
  c.run(3_500);
  c.network.partition([]);
  c.run(6_000);
  assert.ok(kept.every((r) => r.done && r.ok), "the new leader's entries commit");
  assert.not.ok(lost.some((r) => r.ok), "none of the stale leader's entries commits");
  assert.equal(leaders(c), [c.leader()!.id]);
  assert.is.not(c.node(stale).actor!.raft.role, 'leader');
  assert.equal(applied(c, stale), applied(c, c.leader()!.id), 'the stale leader caught up');
  assert.equal(c.stateMachine(stale)!.digest, c.stateMachine(c.leader()!.id)!.digest);
  c.monitor.checkLogMatching(c.liveRafts());
  assert.equal(c.monitor.failures, []);
});

test('5 nodes with 3 followers cut off: nothing commits; after healing the logs converge', () => {
  const c = cluster(5, 3);
  c.run(1_500);
  const leader = c.leader()!.id;
  const cut = c.ids.filter((id) => id !== leader).slice(0, 3);
  c.network.partition([cut, c.ids.filter((id) => !cut.includes(id))]);
  const before = c.node(leader).actor!.raft.log.committed;
  const result = propose(c, 'v1');
  c.run(2_000);
  assert.equal(c.node(leader).actor!.raft.log.committed, before, 'no commit without a majority');
  assert.not.ok(result.done && result.ok);
  c.network.partition([]);
  c.run(6_000);
  c.monitor.checkLogMatching(c.liveRafts());
  const indexes = c.ids.map((id) => applied(c, id));
  assert.ok(indexes.every((i) => i === indexes[0]), `all applied to the same index: ${indexes}`);
  assert.equal(c.monitor.failures, []);
});

test('backup: 50 uncommitted entries on each side of alternating partitions are discarded correctly', () => {
  const c = cluster(5, 11);
  c.run(1_500);
  for (let round = 0; round < 4; round++) {
    const leader = c.leader()!.id;
    const partner = c.ids.find((id) => id !== leader)!;
    const minority = [leader, partner];
    c.network.partition([minority, c.ids.filter((id) => !minority.includes(id))]);
    for (let i = 0; i < 50; i++) propose(c, `lost${round}.${i}`);
    c.run(c.queue.now + 1_500);
    const majorityLeader = leaders(c).find((id) => !minority.includes(id));
    assert.ok(majorityLeader, 'the majority elects its own leader');
    for (let i = 0; i < 50; i++) propose(c, `kept${round}.${i}`);
    c.run(c.queue.now + 500);
    c.network.partition([]);
    c.run(c.queue.now + 1_500);
  }
  c.monitor.checkLogMatching(c.liveRafts());
  assert.equal(c.monitor.failures, []);
});

test('message budgets: ≤ 30 messages to elect 3 nodes, ≤ 60 per idle second, each entry crosses each link once', () => {
  const c = cluster(3, 5);
  // The election ends when every node knows the leader's no-op is committed.
  while (!c.nodes.every((n) => n.actor!.raft.log.committed >= 1)) c.run(c.queue.now + 1);
  assert.equal(leaders(c).length, 1);
  assert.ok(c.network.sent <= 30, `election took ${c.network.sent} messages`);
  c.run(2_000);
  const idleStart = c.network.sent;
  c.run(3_000);
  assert.ok(c.network.sent - idleStart <= 60, `an idle second took ${c.network.sent - idleStart} messages`);
  // Count entries carried per link while 20 proposals commit.
  const carried = new Map<string, number>();
  const send = c.network.send.bind(c.network);
  c.network.send = (from, to, message) => {
    const m = message as { type: string; entries?: { index: number }[] };
    if (m.type === 'append') for (const e of m.entries ?? []) carried.set(`${from}>${to}#${e.index}`, (carried.get(`${from}>${to}#${e.index}`) ?? 0) + 1);
    send(from, to, message);
  };
  for (let i = 0; i < 20; i++) propose(c, `v${i}`);
  c.run(4_000);
  assert.ok(carried.size >= 40, 'entries went to both followers');
  for (const [key, count] of carried) assert.equal(count, 1, `entry ${key} crossed its link ${count} times`);
});

test('persistence: crash and restart all nodes, then only the leader, then partial majorities; no node loses an entry it applied', () => {
  const c = cluster(3, 9);
  c.run(1_500);
  for (let i = 0; i < 10; i++) propose(c, `a${i}`);
  c.run(2_000);
  const committed = applied(c, c.leader()!.id);
  for (const node of c.nodes) node.crash();
  for (const id of c.ids) c.restart(id);
  c.run(4_000);
  const leader = c.leader()!.id;
  c.node(leader).crash();
  c.restart(leader);
  c.run(6_000);
  c.node(c.ids[0]!).crash();
  c.node(c.ids[1]!).crash();
  c.restart(c.ids[0]!);
  c.run(8_000);
  c.restart(c.ids[1]!);
  c.run(10_000);
  for (const id of c.ids) assert.ok(applied(c, id) >= committed, `${id} kept every committed entry`);
  assert.equal(c.monitor.failures, [], 'includes the persistence checker');
});

test('snapshots: a disconnected follower is brought back by InstallSnapshot, also after a crash, and restarts from snapshot plus log tail', () => {
  const c = cluster(3, 13, 0, 20);
  c.run(1_500);
  const follower = c.ids.find((id) => id !== c.leader()!.id)!;
  c.network.isolate(follower, c.ids);
  for (let i = 0; i < 60; i++) propose(c, `s${i}`);
  c.run(3_000);
  const leader = c.leader()!.id;
  assert.ok(c.node(leader).actor!.raft.log.snapshot.index > 0, 'the leader compacted its log');
  c.node(follower).crash();
  c.network.partition([]);
  c.restart(follower);
  c.run(6_000);
  const raft = c.node(follower).actor!.raft;
  assert.ok(raft.log.snapshot.index > 0, 'the follower installed a snapshot');
  assert.equal(raft.log.applied, applied(c, leader));
  assert.equal(c.stateMachine(follower)!.digest, c.stateMachine(leader)!.digest);
  // Crash every node: each restarts from its snapshot plus the log tail.
  for (const node of c.nodes) node.crash();
  for (const id of c.ids) c.restart(id);
  c.run(c.queue.now + 2_000);
  for (let i = 0; i < 5; i++) propose(c, `t${i}`);
  c.run(c.queue.now + 2_000);
  const digests = c.ids.map((id) => c.stateMachine(id)!.digest);
  assert.ok(digests.every((d) => d === digests[0]), 'every replica holds the same state');
  assert.equal(c.monitor.failures, []);
});

test('replicas take their snapshots at different points, first member first, so a quorum is never busy snapshotting all at once', () => {
  const c = cluster(3, 7, 0, 60);
  c.run(1_500);
  // Proposals one at a time: the first time each node compacts is where its log crossed its own threshold.
  const firstSnapshot = new Map<string, number>();
  for (let i = 0; i < 150; i++) {
    const state = propose(c, `v${i}`);
    while (!state.done) c.run(c.queue.now + 5);
    for (const node of c.nodes) {
      const index = node.actor!.raft.log.snapshot.index;
      if (index > 0 && !firstSnapshot.has(node.id)) firstSnapshot.set(node.id, index);
    }
  }
  const points = [...c.ids].sort().map((id) => firstSnapshot.get(id));
  assert.ok(points.every((index) => index !== undefined), `every node compacted: ${JSON.stringify(points)}`);
  const [first, second, third] = points as [number, number, number];
  // Thresholds 60, 80 and 100 entries past the start, each reached a few entries late at most.
  assert.ok(first < second && second < third, `in member order: ${points}`);
  assert.ok(second - first >= 15 && third - second >= 15, `about 20 entries apart: ${points}`);
  assert.equal(c.monitor.failures, []);
});

test.run();
