// Scenarios played move by move. Random faults reach the Raft paper's Figure 8, or a crash
// between a follower's receipt of entries and their sync, only by luck; these scripts
// watch the nodes after every mailbox drain and cut links or crash nodes at the exact
// moment the situation arises. A correct Raft comes through them unharmed; a leader that
// commits earlier-term entries by counting replicas, or a follower that acknowledges
// before persisting, loses a committed entry on the first round that plays out.

import type { RaftActor } from '../node/core/raft/raft-actor.ts';
import type { SimCluster } from './cluster.ts';
import type { Scenario } from './scenarios.ts';
import type { SimNode } from './sim-node.ts';
import type { CheckFailure } from './types.ts';

/** A round that does not reach its next move within this long is healed and started over. */
const moveTimeoutMs = 2_000;
/** Quiet time after healing, before the next round picks its nodes. */
const settleMs = 500;
/** How long a played round leaves the cluster split before healing it. */
const aftermathMs = 1_500;

type Raft = RaftActor['raft'];

/**
 * The shared skeleton of a scripted round: a current move, a deadline, healing, and the
 * count of rounds that reached the situation the script exists for (checked by `verify`,
 * so a script that silently stopped reaching it fails instead of passing vacuously).
 */
class Script<Move extends { at: string }> {
  move: Move | { at: 'settle' } = { at: 'settle' };
  private deadline = 0;
  private healedAt = 0;
  reached = 0;

  constructor(
    readonly cluster: SimCluster,
    readonly untilMs: number,
  ) {}

  get now(): number {
    return this.cluster.queue.now;
  }

  raft(id: string): Raft | null {
    const node = this.cluster.node(id);
    return node.up ? (node.actor?.raft ?? null) : null;
  }

  /** A leader with nothing uncommitted, some time after the last heal; null otherwise. */
  settledLeader(): SimNode<RaftActor> | null {
    if (this.now - this.healedAt < settleMs || this.now > this.untilMs - moveTimeoutMs - aftermathMs) return null;
    const leader = this.cluster.leader();
    const log = leader?.actor!.raft.log;
    return leader && log!.committed === log!.lastIndex() ? leader : null;
  }

  go(move: Move, groups: string[][] | null, event: string, fields: Record<string, unknown>): void {
    this.move = move;
    this.deadline = this.now + moveTimeoutMs;
    if (groups) this.cluster.network.partition(groups);
    this.cluster.log('sim', 'info', `script.${event}`, fields);
  }

  /** The round is over: leave the split in place a while, then heal. */
  aftermath(move: Move, groups: string[][], fields: Record<string, unknown>): void {
    this.go(move, groups, 'aftermath', fields);
    this.deadline = this.now + aftermathMs;
  }

  /** Past the deadline: heal everything and start a new round later. Returns true if it healed. */
  expired(): boolean {
    if (this.move.at === 'settle' || this.now < this.deadline) return false;
    this.heal();
    return true;
  }

  heal(): void {
    for (const node of this.cluster.nodes) if (!node.up) this.cluster.restart(node.id);
    this.cluster.network.partition([]);
    this.move = { at: 'settle' };
    this.healedAt = this.now;
    this.cluster.log('sim', 'info', 'script.heal');
  }

  verify(name: string): CheckFailure[] {
    return this.reached > 0 ? [] : [{ checker: name, message: `in ${this.untilMs} ms no round reached the situation the script exists for` }];
  }
}

const scripts = new WeakMap<SimCluster, Script<{ at: string }>>();

/** Installs a script: `step` runs after every mailbox drain, unless the current move just expired (and was healed). */
function play<Move extends { at: string }>(cluster: SimCluster, untilMs: number, step: (script: Script<Move>, node: SimNode<RaftActor>) => void): void {
  const script = new Script<Move>(cluster, untilMs);
  scripts.set(cluster, script);
  cluster.drainListeners.push((node) => {
    if (!script.expired()) step(script, node);
  });
}

/** A scripted scenario's `verify`: it fails a run in which no round reached its situation. */
function verifyScript(this: Scenario, cluster: SimCluster): CheckFailure[] {
  return scripts.get(cluster)?.verify(this.name) ?? [];
}

function others(cluster: SimCluster, ...ids: string[]): string[] {
  return cluster.ids.filter((id) => !ids.includes(id));
}

type Figure8Move =
  | { at: 'minority'; a: string; b: string; rest: string[]; index: number }
  | { at: 'rival'; a: string; b: string; rest: string[]; index: number; term: number }
  | { at: 'return'; a: string; rival: string; index: number }
  | { at: 'aftermath' };

/**
 * Figure 8 of the Raft paper: (a) leader A's entry at index i reaches only B; (b) a rival
 * C, elected by the other three, writes its own entry at i and is cut off at once; (c) A
 * leads again with those two (B stays away) and brings its old entry to a majority, and
 * is cut off the moment its commit index reaches i; (d) C is put with two nodes whose
 * logs are no more up to date than its own, so it can win, and it overwrites i. A leader
 * that counts replicas of an earlier-term entry committed i in (c), so (d) overwrites a
 * committed entry; a correct one commits i only with an entry of its own term on a
 * majority, and then no two nodes would vote for C.
 */
export const figure8Exact: Scenario = {
  name: 'figure-8-exact',
  description: "The Raft paper's Figure 8 played move by move: an old leader's entry reaches a majority and the leader is cut off the moment it counts it committed; a rival holding another entry at that index may then win and overwrite it.",
  nodes: 5,
  // One entry per append, so a follower can hold the old entry without the leader's no-op.
  raft: { appendBytesMax: 1 },
  run(cluster, prng, untilMs) {
    play<Figure8Move>(cluster, untilMs, (script) => {
      const move = script.move;
      switch (move.at) {
        case 'settle': {
          const leader = script.settledLeader();
          if (!leader) return;
          const a = leader.id;
          const b = prng.pick(others(cluster, a));
          const rest = others(cluster, a, b);
          // The rest stay apart too, so nobody is elected while A's entry travels to B.
          const index = leader.actor!.raft.log.lastIndex() + 1;
          return script.go({ at: 'minority', a, b, rest, index }, [[a, b], ...rest.map((id) => [id])], 'minority', { a, b, index });
        }
        case 'minority': {
          const a = script.raft(move.a);
          const b = script.raft(move.b);
          if (!a || !b || a.role !== 'leader') return;
          const term = a.log.term(move.index);
          if (term !== a.term || b.log.term(move.index) !== term) return;
          return script.go({ ...move, at: 'rival', term }, [[move.a], [move.b], move.rest], 'rival', { index: move.index, term });
        }
        case 'rival': {
          const rival = move.rest.find((id) => script.raft(id)?.role === 'leader');
          if (!rival) return;
          const raft = script.raft(rival)!;
          // Its own entry must sit at i: a rival whose log ended lower writes elsewhere.
          if (raft.log.lastIndex() !== move.index || raft.log.term(move.index) !== raft.term) {
            script.heal();
            return;
          }
          // A returns with the rival's two voters, who lack its entry: only A can win there.
          return script.go({ at: 'return', a: move.a, rival, index: move.index }, [[move.a, ...move.rest.filter((id) => id !== rival)], [move.b], [rival]], 'return', { rival, term: raft.term });
        }
        case 'return': {
          const a = script.raft(move.a);
          if (!a || a.role !== 'leader' || a.log.committed < move.index) return;
          script.reached++;
          // The rival's possible voters: nodes whose logs its own is at least as up to date as.
          const rival = script.raft(move.rival)!;
          const lastIndex = rival.log.lastIndex();
          const lastTerm = rival.log.term(lastIndex)!;
          const voters = others(cluster, move.a, move.rival).filter((id) => script.raft(id)?.log.isUpToDate(lastIndex, lastTerm));
          const groups = voters.length >= 2 ? [[move.a], [move.rival, ...voters.slice(0, 2)], others(cluster, move.a, move.rival, ...voters.slice(0, 2))] : [[move.a], others(cluster, move.a)];
          return script.aftermath({ at: 'aftermath' }, groups, { leader: move.a, term: a.term, index: move.index, entryTerm: a.log.term(move.index), rivalVoters: voters });
        }
        case 'aftermath':
          return;
      }
    });
  },
  verify: verifyScript,
};

type CrashMove =
  | { at: 'armed'; leader: string; follower: string; other: string; lastIndex: number }
  | { at: 'crashed'; leader: string; follower: string; other: string; index: number }
  | { at: 'aftermath' };

/**
 * Three nodes; the leader can reach one follower F only. F crashes the moment new entries
 * arrive, before its disk sync completes. A correct F has not acknowledged them, so the
 * leader cannot commit. If the leader commits anyway it counted an acknowledgement F
 * never made durable: it is cut off, F restarts without the entries, and F and the third
 * node elect a leader that overwrites them.
 */
export const followerCrashBeforeSync: Scenario = {
  name: 'follower-crash-before-sync',
  description: 'A follower crashes the moment entries arrive, before its disk sync; the leader, cut off from the third node, must not count those entries as replicated.',
  nodes: 3,
  run(cluster, prng, untilMs) {
    // A round whose leader never commits (the correct outcome) ends at its deadline.
    play<CrashMove>(cluster, untilMs, (script, node) => {
      const move = script.move;
      switch (move.at) {
        case 'settle': {
          const leader = script.settledLeader();
          if (!leader) return;
          const [follower, other] = prng.sample(others(cluster, leader.id), 2) as [string, string];
          const lastIndex = script.raft(follower)?.log.lastIndex() ?? 0;
          return script.go({ at: 'armed', leader: leader.id, follower, other, lastIndex }, [[leader.id, follower], [other]], 'armed', { leader: leader.id, follower });
        }
        case 'armed': {
          if (node.id !== move.follower) return;
          const raft = script.raft(move.follower);
          if (!raft || raft.log.lastIndex() <= move.lastIndex) return;
          const index = raft.log.lastIndex();
          node.crash();
          script.reached++;
          return script.go({ at: 'crashed', leader: move.leader, follower: move.follower, other: move.other, index }, null, 'crash-before-sync', { node: move.follower, index });
        }
        case 'crashed': {
          const leader = script.raft(move.leader);
          if (!leader || leader.log.committed < move.index) return;
          cluster.monitor.fail('follower-crash-before-sync', `${move.leader} committed index ${move.index} although its only follower crashed before syncing it`);
          cluster.restart(move.follower);
          return script.aftermath({ at: 'aftermath' }, [[move.leader], [move.follower, move.other]], { leader: move.leader, index: move.index });
        }
        case 'aftermath':
          return;
      }
    });
  },
  verify: verifyScript,
};
