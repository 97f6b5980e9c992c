import type { RaftActorOptions } from '../node/core/raft/raft-actor.ts';
import type { SimCluster } from './cluster.ts';
import { powerLoss } from './faults.ts';
import type { Prng } from './prng.ts';
import { figure8Exact, followerCrashBeforeSync } from './scripted-scenarios.ts';
import type { CheckFailure } from './types.ts';

/**
 * A named failure script. `run` schedules its faults on the cluster's event queue up to
 * `untilMs`; `verify`, if present, checks what the scenario is about before the cluster
 * is healed (the generic checkers run afterwards as for any seed).
 */
export interface Scenario {
  name: string;
  description: string;
  nodes?: number;
  snapshotEntries?: number;
  /** Raft settings this scenario needs, over the defaults. */
  raft?: Partial<RaftActorOptions>;
  run(cluster: SimCluster, prng: Prng, untilMs: number): void;
  verify?(cluster: SimCluster): CheckFailure[];
}

/** Call `step` every `[minMs, maxMs]` until `untilMs`. */
function every(cluster: SimCluster, prng: Prng, minMs: number, maxMs: number, untilMs: number, step: () => void): void {
  const loop = (): void => {
    if (cluster.queue.now >= untilMs) return;
    step();
    cluster.queue.schedule(prng.int(minMs, maxMs), loop);
  };
  cluster.queue.schedule(prng.int(minMs, maxMs), loop);
}

function downCount(cluster: SimCluster): number {
  return cluster.nodes.filter((n) => !n.up).length;
}

const leaderCrashMidCommit: Scenario = {
  name: 'leader-crash-mid-commit',
  description: 'The leader is killed a few milliseconds after accepting writes, before they commit, again and again.',
  run(cluster, prng, untilMs) {
    every(cluster, prng, 800, 1500, untilMs, () => {
      const leader = cluster.leader();
      if (!leader) return;
      // Crash between append and commit: within a disk sync or a network round trip.
      cluster.queue.schedule(prng.float() * 3, () => {
        cluster.log('sim', 'info', 'fault.crashLeader', { node: leader.id });
        leader.crash();
        cluster.queue.schedule(prng.int(100, 600), () => cluster.restart(leader.id));
      });
    });
  },
};

const figure8: Scenario = {
  name: 'figure-8',
  description: "The Raft paper's Figure 8: leaders crash and return so entries of old terms sit on a minority; they must never count as committed by replica count alone.",
  nodes: 5,
  // One entry per append, so a follower can hold earlier-term entries without the new
  // leader's no-op: the situation the paper's figure is about.
  raft: { appendBytesMax: 1 },
  run(cluster, prng, untilMs) {
    every(cluster, prng, 5, 150, untilMs, () => {
      const leader = cluster.leader();
      if (leader && prng.chance(0.7)) {
        cluster.log('sim', 'info', 'fault.crashLeader', { node: leader.id });
        leader.crash();
      }
      if (downCount(cluster) > 2 || prng.chance(0.5)) {
        const down = cluster.nodes.filter((n) => !n.up);
        if (down.length > 0) cluster.restart(prng.pick(down).id);
      }
    });
  },
};

const minorityLeader: Scenario = {
  name: 'minority-leader',
  description: 'The leader is cut off with one follower out of five; its writes must not commit, and are overwritten after the partition heals.',
  nodes: 5,
  run(cluster, prng, untilMs) {
    cluster.queue.schedule(1500, () => {
      const leader = cluster.leader();
      if (!leader) return;
      const buddy = prng.pick(cluster.ids.filter((id) => id !== leader.id));
      const minority = [leader.id, buddy];
      cluster.log('sim', 'info', 'fault.partition', { groups: [minority] });
      cluster.network.partition([minority, cluster.ids.filter((id) => !minority.includes(id))]);
      cluster.queue.schedule(Math.max(0, untilMs - cluster.queue.now - 2000), () => cluster.network.partition([]));
    });
  },
};

/** With PreVote, a node that was cut off and rejoins must not depose a healthy leader. */
const isolatedRejoin: Scenario & { observed?: { leader: string; term: number } | null } = {
  name: 'isolated-rejoin',
  description: 'A follower is isolated for several election timeouts, then rejoins; PreVote keeps the leader in place and the term unchanged.',
  run(cluster, prng, untilMs) {
    cluster.queue.schedule(1500, () => {
      const leader = cluster.leader();
      if (!leader) return;
      const victim = prng.pick(cluster.ids.filter((id) => id !== leader.id));
      const term = leader.actor!.raft.term;
      cluster.log('sim', 'info', 'fault.isolate', { node: victim });
      cluster.network.isolate(victim, cluster.ids);
      cluster.queue.schedule(3000, () => {
        cluster.log('sim', 'info', 'fault.heal');
        cluster.network.partition([]);
        cluster.queue.schedule(2000, () => {
          const now = cluster.leader();
          if (!now || now.id !== leader.id || now.actor!.raft.term !== term) {
            cluster.monitor.fail('prevote', `after ${victim} rejoined, leadership went from ${leader.id} (term ${term}) to ${now ? `${now.id} (term ${now.actor!.raft.term})` : 'nobody'}`);
          }
        });
      });
    });
  },
};

const flappingLinks: Scenario = {
  name: 'flapping-links',
  description: 'Links between random pairs go up and down every few tens of milliseconds.',
  run(cluster, prng, untilMs) {
    every(cluster, prng, 15, 80, untilMs, () => {
      const [a, b] = prng.sample(cluster.ids, 2);
      const up = prng.chance(0.5);
      cluster.network.setLink(a!, b!, up);
      cluster.network.setLink(b!, a!, up);
    });
  },
};

const wholeClusterRestart: Scenario = {
  name: 'whole-cluster-restart',
  description: 'Every node loses power at once, losing unsynced writes, and comes back, the old leader last; acknowledged writes survive.',
  run(cluster, prng, untilMs) {
    every(cluster, prng, 1500, 3000, untilMs, () => {
      // The old leader comes back last: the others must not have promised what they lost.
      const leader = cluster.leader()?.id;
      powerLoss(cluster, (node) => (node === leader ? prng.int(800, 1400) : prng.int(10, 400)));
    });
  },
};

const laggingSnapshot: Scenario & { victim?: string } = {
  name: 'lagging-snapshot',
  description: 'A follower is cut off while the others compact their logs; it is brought back by InstallSnapshot.',
  snapshotEntries: 50,
  run(cluster, prng, untilMs) {
    cluster.queue.schedule(500, () => {
      const leader = cluster.leader();
      const victim = prng.pick(cluster.ids.filter((id) => id !== leader?.id));
      cluster.log('sim', 'info', 'fault.isolate', { node: victim });
      cluster.network.isolate(victim, cluster.ids);
      cluster.queue.schedule(Math.max(0, untilMs - cluster.queue.now - 4000), () => {
        cluster.log('sim', 'info', 'fault.heal');
        cluster.network.partition([]);
        cluster.queue.schedule(3000, () => {
          const raft = cluster.node(victim).actor?.raft;
          const lead = cluster.leader()?.actor?.raft;
          if (!raft || !lead) return;
          if (raft.log.snapshot.index === 0) cluster.monitor.fail('snapshot', `${victim} caught up without a snapshot; the scenario did not exercise InstallSnapshot`);
          else if (raft.log.applied + 200 < lead.log.applied) cluster.monitor.fail('snapshot', `${victim} is still behind 3 s after healing: applied ${raft.log.applied}, leader ${lead.log.applied}`);
        });
      });
    });
  },
};

const membershipUnderLoad: Scenario = {
  name: 'membership-under-load',
  description: 'Under load, a new node joins as a learner and is promoted, and an old voter (sometimes the leader) is removed.',
  run(cluster, prng, untilMs) {
    let joined = 0;
    every(cluster, prng, 1000, 2000, untilMs - 2000, () => {
      const leader = cluster.leader();
      if (!leader) return;
      const config = leader.actor!.config;
      const learner = config.learners[0];
      if (learner) {
        leader.actor!.proposeConfigChange({ type: 'promote', node: learner }, () => {});
      } else if (config.voters.length > 3 && prng.chance(0.5)) {
        const victim = prng.pick(config.voters);
        cluster.log('sim', 'info', 'member.remove', { node: victim });
        leader.actor!.proposeConfigChange({ type: 'remove', node: victim }, () => {});
      } else {
        const id = `j${++joined}`;
        cluster.addNode(id, []).start();
        cluster.log('sim', 'info', 'member.addLearner', { node: id });
        leader.actor!.proposeConfigChange({ type: 'addLearner', node: id }, () => {});
      }
    });
  },
};

const leaderTransfer: Scenario = {
  name: 'leader-transfer',
  description: 'Leadership is handed to a chosen follower again and again under load; each time the chosen node takes over.',
  run(cluster, prng, untilMs) {
    every(cluster, prng, 800, 1200, untilMs - 1000, () => {
      const leader = cluster.leader();
      if (!leader) return;
      const target = prng.pick(leader.actor!.config.voters.filter((id) => id !== leader.id));
      cluster.log('sim', 'info', 'transfer', { from: leader.id, to: target });
      leader.actor!.transferLeadership(target);
      cluster.queue.schedule(600, () => {
        const now = cluster.leader();
        if (now?.id !== target) cluster.monitor.fail('leader-transfer', `leadership was handed from ${leader.id} to ${target}, but 600 ms later the leader is ${now?.id ?? 'nobody'}`);
      });
    });
  },
};

const electionStorm: Scenario = {
  name: 'election-storm',
  description: 'The leader is cut off again and again while voters crash and restart in the middle of elections; no term may ever have two leaders.',
  nodes: 5,
  run(cluster, prng, untilMs) {
    // Jitter spreads vote requests out, so some arrive after a voter came back.
    cluster.network.conditions = { ...cluster.network.conditions, jitterMs: 40 };
    every(cluster, prng, 100, 700, untilMs, () => {
      const leader = cluster.leader();
      if (leader) {
        cluster.network.isolate(leader.id, cluster.ids);
        cluster.queue.schedule(prng.int(200, 900), () => cluster.network.partition([]));
      }
    });
    // Voters crash right after granting a vote and come straight back, mid-election.
    const votes = new Map<string, string>();
    cluster.drainListeners.push((node) => {
      const raft = node.actor!.raft;
      const vote = `${raft.term}:${raft.vote}`;
      if (raft.vote === null || raft.vote === node.id || votes.get(node.id) === vote) return;
      votes.set(node.id, vote);
      if (cluster.queue.now >= untilMs || !prng.chance(0.5)) return;
      // Late enough that the vote was synced and sent (a sync takes up to 2 ms).
      cluster.queue.schedule(2.5 + prng.float() * 3, () => {
        node.crash();
        cluster.queue.schedule(prng.float() * 3, () => cluster.restart(node.id));
      });
    });
  },
};

export const scenarios: Scenario[] = [
  electionStorm,
  leaderCrashMidCommit,
  figure8,
  figure8Exact,
  followerCrashBeforeSync,
  minorityLeader,
  isolatedRejoin,
  flappingLinks,
  wholeClusterRestart,
  laggingSnapshot,
  membershipUnderLoad,
  leaderTransfer,
];

export function findScenario(name: string): Scenario {
  const scenario = scenarios.find((s) => s.name === name);
  if (!scenario) throw new Error(`unknown scenario '${name}': run --list-scenarios to see the names`);
  return scenario;
}
