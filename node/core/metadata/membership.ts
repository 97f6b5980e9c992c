// Joining and removing nodes, run at the leader. A join adds the node to the placement
// ring through the log (with its URL, so every node dials it and clients see it in the
// cluster map), then to the Raft configuration as a learner; once its log has caught up
// the leader promotes it to voter unless it asked to stay a learner. A removal takes the
// node off the ring first (`leave`), so repair copies its blocks to their new owners,
// waits until no block depends on it, moves leadership away if the node leads, takes it
// out of the Raft configuration, and finally forgets it. Every step is re-derived from
// the replicated state on each tick, so a new leader simply carries on when asked again.

import type { NodeId } from '../../../protocol/raft-messages.ts';
import { PlacementRing } from '../../../protocol/ring.ts';
import type { NodeAddress, RemoveNodeReport, Results, WireError } from '../../../protocol/wire.ts';
import type { RaftActor, RaftFailure } from '../raft/raft-actor.ts';
import type { ApplyResult, MemberCommand } from './commands.ts';
import type { MetadataStateMachine } from './state-machine.ts';

export interface MembershipOptions {
  node: NodeId;
  clusterId: string;
  replication: number;
  virtualNodes: number;
  /** The nodes the cluster was started with, and where they listen. */
  initialNodes: readonly NodeAddress[];
}

type Outcome<T> = { ok: true; result: T } | { ok: false; error: WireError };
type Done<T> = (outcome: Outcome<T>) => void;
/** Proposes a member command with the service's own session; `done` hears how it applied. */
export type ProposeMember = (raft: RaftActor, change: Pick<MemberCommand, 'node' | 'change' | 'url' | 'voter'>, done: Done<unknown>) => void;

interface Removal {
  node: NodeId;
  waiters: Done<RemoveNodeReport>[];
  /** A step's proposal is in flight; the next tick does nothing until it is answered. */
  busy: boolean;
}

/** Removals run at once; each waits for a drain that may take minutes. */
const removalsMax = 4;
/** A learner this close to the leader's commit index counts as caught up. */
const caughtUpEntries = 8;

/** See the file comment. One per node; only the leader's does anything. */
export class Membership {
  private readonly removals = new Map<NodeId, Removal>();
  private configChanging = false;

  constructor(
    private readonly options: MembershipOptions,
    private readonly stateMachine: MetadataStateMachine,
    private readonly proposeMember: ProposeMember,
  ) {}

  /** Every ring member with the URL it listens at: the cluster map's nodes. */
  nodes(): NodeAddress[] {
    const members = this.stateMachine.ringMembers();
    if (members.length === 0) return [...this.options.initialNodes];
    return members.map((id) => ({ id, url: this.stateMachine.joinedNode(id)?.url ?? this.options.initialNodes.find((node) => node.id === id)?.url ?? '' }));
  }

  /** Adds `node` to the ring (if it is not there at `url`) and then as a learner; idempotent, so a joining node may simply retry. */
  join(raft: RaftActor, request: { node: NodeId; url: string; voter: boolean }, done: Done<Results['node.join']>): void {
    const result = { clusterId: this.options.clusterId, initialMembers: [...this.stateMachine.options.ringMembers] };
    const known = this.stateMachine.isMember(request.node) && (this.stateMachine.joinedNode(request.node)?.url ?? this.urlOf(request.node)) === request.url;
    const addLearner = (): void => {
      const config = raft.config;
      if (config.voters.includes(request.node) || config.learners.includes(request.node)) return done({ ok: true, result });
      this.changeConfig(raft, { type: 'addLearner', node: request.node }, (outcome) => done(outcome.ok ? { ok: true, result } : outcome));
    };
    if (known && !this.stateMachine.isLeaving(request.node)) return addLearner();
    this.proposeMember(raft, { node: request.node, change: 'join', url: request.url, voter: request.voter }, (outcome) => (outcome.ok ? addLearner() : done(outcome)));
  }

  /** Starts (or joins the waiters of) the removal of `node`; `done` hears when it is out of the ring and the configuration. */
  remove(raft: RaftActor, node: NodeId, done: Done<RemoveNodeReport>): void {
    const existing = this.removals.get(node);
    if (existing) return void existing.waiters.push(done);
    const config = raft.config;
    if (!this.stateMachine.isMember(node) && !config.voters.includes(node) && !config.learners.includes(node)) {
      // A request repeated after its answer was lost (or after leadership moved) gets the same report.
      const drainedBlocks = this.stateMachine.drainedBlocks(node);
      if (drainedBlocks !== null) return done({ ok: true, result: { node, drainedBlocks } });
      return done({ ok: false, error: { code: 'not_found', message: `there is no node ${node} to remove; the members are ${this.stateMachine.ringMembers().join(', ')}` } });
    }
    if (config.voters.length === 1 && config.voters[0] === node) {
      return done({ ok: false, error: { code: 'bad_message', message: `node ${node} is the only voter; add another node before removing it` } });
    }
    if (this.removals.size >= removalsMax) {
      return done({ ok: false, error: { code: 'overloaded', message: `${removalsMax} removals are already under way; wait for one to finish` } });
    }
    this.removals.set(node, { node, waiters: [done], busy: false });
    this.tick(raft);
  }

  /** Called on the service's heartbeat tick: promotes caught-up learners and moves each removal a step on. */
  tick(raft: RaftActor): void {
    if (raft.raft.softState().role !== 'leader') return this.failRemovals(raft, 'not_leader', 'this node stopped leading while removing a node; ask again and the new leader carries on');
    this.promoteLearners(raft);
    for (const removal of this.removals.values()) if (!removal.busy) this.step(raft, removal);
  }

  private step(raft: RaftActor, removal: Removal): void {
    const { node } = removal;
    const sm = this.stateMachine;
    const config = raft.config;
    const inConfig = config.voters.includes(node) || config.learners.includes(node);
    const next = (outcome: Outcome<unknown>): void => {
      removal.busy = false;
      if (!outcome.ok && outcome.error.code !== 'unavailable') this.finish(removal, outcome);
    };
    if (sm.isMember(node) && !sm.isLeaving(node)) {
      removal.busy = true;
      return this.proposeMember(raft, { node, change: 'leave' }, next);
    }
    if (sm.isMember(node) && !this.drained(node)) return;
    if (inConfig && node === this.options.node) return this.handOver(raft, removal);
    if (inConfig) {
      removal.busy = true;
      return this.changeConfig(raft, { type: 'remove', node }, next);
    }
    if (sm.isMember(node)) {
      removal.busy = true;
      return this.proposeMember(raft, { node, change: 'forget' }, next);
    }
    // The log recorded what the node held when its leave applied, whichever leader proposed it.
    this.finish(removal, { ok: true, result: { node, drainedBlocks: sm.drainedBlocks(node) ?? 0 } });
  }

  // The leader cannot remove itself and keep leading: it hands leadership to the most
  // caught-up voter, and the operator's retry reaches the new leader, which finishes.
  private handOver(raft: RaftActor, removal: Removal): void {
    const voters = raft.config.voters.filter((id) => id !== this.options.node);
    const to = voters.sort((a, b) => (raft.raft.progressOf(b)?.match ?? 0) - (raft.raft.progressOf(a)?.match ?? 0))[0];
    if (to === undefined) return;
    const result = raft.transferLeadership(to);
    if (!result.ok) return;
    this.finish(removal, { ok: false, error: { code: 'not_leader', message: `node ${removal.node} is drained and hands leadership to ${to}; ask again there to finish removing it`, details: { leader: to } } });
  }

  /** True when every block `node` holds also sits on all of its targets on the ring without it. */
  private drained(node: NodeId): boolean {
    const live = this.stateMachine.liveNodes();
    if (live.length === 0) return false;
    const ring = new PlacementRing(live, this.options.virtualNodes);
    const wanted = Math.max(1, Math.min(this.options.replication, live.length));
    for (const [hash, block] of this.stateMachine.blocks()) {
      if (!block.owners.includes(node)) continue;
      if (!ring.owners(hash, wanted).every((target) => block.owners.includes(target))) return false;
    }
    return true;
  }

  private promoteLearners(raft: RaftActor): void {
    if (this.configChanging) return;
    const committed = raft.raft.log.committed;
    for (const learner of raft.config.learners) {
      if (this.stateMachine.joinedNode(learner)?.voter !== true || this.removals.has(learner)) continue;
      if ((raft.raft.progressOf(learner)?.match ?? 0) + caughtUpEntries < committed) continue;
      this.changeConfig(raft, { type: 'promote', node: learner }, () => {});
      return;
    }
  }

  private changeConfig(raft: RaftActor, change: { type: 'addLearner' | 'promote' | 'remove'; node: NodeId }, done: Done<unknown>): void {
    if (this.configChanging) return done({ ok: false, error: { code: 'unavailable', message: 'another membership change is in progress; retry shortly' } });
    this.configChanging = true;
    raft.proposeConfigChange(change, (outcome) => {
      this.configChanging = false;
      done(outcome.ok ? { ok: true, result: outcome.result } : { ok: false, error: failureError(outcome.failure) });
    });
  }

  private finish(removal: Removal, outcome: Outcome<RemoveNodeReport>): void {
    this.removals.delete(removal.node);
    for (const waiter of removal.waiters) waiter(outcome);
  }

  private failRemovals(raft: RaftActor, code: 'not_leader', message: string): void {
    for (const removal of [...this.removals.values()]) this.finish(removal, { ok: false, error: { code, message, details: { leader: raft.leader } } });
  }

  private urlOf(node: NodeId): string | undefined {
    return this.options.initialNodes.find((address) => address.id === node)?.url;
  }
}

/** The error a member command's outcome carries, if it failed. */
export function memberOutcome(outcome: { ok: true; result: unknown } | { ok: false; failure: RaftFailure }): Outcome<unknown> {
  if (!outcome.ok) return { ok: false, error: failureError(outcome.failure) };
  const result = outcome.result as ApplyResult;
  return result.ok ? { ok: true, result: result.result } : { ok: false, error: result.error };
}

function failureError(failure: RaftFailure): WireError {
  if (failure.code === 'not_leader') return { code: 'not_leader', message: failure.message, details: { leader: failure.leader } };
  return { code: 'unavailable', message: failure.message, details: { leader: failure.leader } };
}

