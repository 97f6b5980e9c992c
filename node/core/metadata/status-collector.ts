// Answers `status`: asks every other node for its `node.info`, waits for all answers or
// a timeout, and reports nodes that did not answer as down. The probes are ordinary
// request messages from this node's address, so they travel like any other.

import { raftboxError } from '../../../protocol/errors.ts';
import type { NodeId } from '../../../protocol/raft-messages.ts';
import type { Address, ClusterStatus, NodeAddress, NodeRole, NodeStatus, RequestMessage, ResponseMessage } from '../../../protocol/wire.ts';
import type { Env, TimerId } from '../actor/env.ts';

/** The timer message that ends a status round; it comes back through the service's `handle`. */
export interface StatusTimeoutMessage {
  type: 'metadata.statusTimeout';
  round: number;
}

interface Round {
  replyTo: (status: Omit<ClusterStatus, 'replication'> & { nodes: NodeStatus[] }) => void;
  self: NodeStatus;
  leader: NodeId | null;
  nodes: readonly NodeAddress[];
  replies: Map<NodeId, NodeStatus>;
  waiting: number;
  timer: TimerId;
}

const roles: readonly NodeRole[] = ['leader', 'follower', 'candidate', 'learner', 'down'];

/** Status rounds in progress, and the probes each one sent. */
export class StatusCollector {
  private rounds = new Map<number, Round>();
  private probes = new Map<number, { round: number; node: NodeId }>();
  private nextId = 1;

  constructor(
    private readonly env: Env,
    private readonly self: Address,
    /** The nodes to report, asked afresh for each round: nodes join and leave. */
    private readonly nodes: () => readonly NodeAddress[],
    private readonly timeoutMs: number,
    private readonly roundsMax: number,
  ) {}

  /** Starts a round; `replyTo` gets the nodes (in configuration order), leader and highest term seen. */
  start(self: NodeStatus, leader: NodeId | null, replyTo: Round['replyTo']): void {
    if (this.rounds.size >= this.roundsMax) throw raftboxError('overloaded', `this node is already gathering ${this.roundsMax} status reports; retry shortly`);
    const round = this.nextId++;
    const all = this.nodes();
    const others = all.filter((node) => node.id !== self.id);
    const timer = this.env.timer(this.timeoutMs, { type: 'metadata.statusTimeout', round } satisfies StatusTimeoutMessage);
    this.rounds.set(round, { replyTo, self, leader, nodes: all, replies: new Map(), waiting: others.length, timer });
    for (const node of others) {
      const id = this.nextId++;
      this.probes.set(id, { round, node: node.id });
      const probe: RequestMessage = { type: 'request', from: this.self, id, request: { op: 'node.info' }, hops: 1 };
      this.env.send(node.id, probe);
    }
    if (others.length === 0) this.finish(round);
  }

  /** Takes a response if it answers one of our probes; returns whether it did. */
  onResponse(message: ResponseMessage): boolean {
    const probe = this.probes.get(message.id);
    if (!probe) return false;
    this.probes.delete(message.id);
    const round = this.rounds.get(probe.round);
    if (!round) return true;
    if (message.ok) round.replies.set(probe.node, readStatus(message.result, probe.node));
    round.waiting--;
    if (round.waiting === 0) {
      this.env.cancel(round.timer);
      this.finish(probe.round);
    }
    return true;
  }

  onTimeout(message: StatusTimeoutMessage): void {
    if (this.rounds.has(message.round)) this.finish(message.round);
  }

  private finish(id: number): void {
    const round = this.rounds.get(id)!;
    this.rounds.delete(id);
    for (const [probeId, probe] of this.probes) if (probe.round === id) this.probes.delete(probeId);
    const nodes = round.nodes.map((node) => {
      const status = node.id === round.self.id ? round.self : round.replies.get(node.id);
      return status ? { ...status, id: node.id, url: node.url } : down(node);
    });
    const term = Math.max(0, ...nodes.map((node) => node.term));
    const claimed = nodes.filter((node) => node.role === 'leader').sort((a, b) => b.term - a.term)[0];
    round.replyTo({ leader: round.leader ?? claimed?.id ?? null, term, nodes });
  }
}

function down(node: NodeAddress): NodeStatus {
  return { id: node.id, url: node.url, role: 'down', term: 0, commitIndex: 0, appliedIndex: 0, blocks: 0, bytes: 0 };
}

// A peer's answer is trusted for shape only as far as we check it here.
function readStatus(value: unknown, node: NodeId): NodeStatus {
  const r = (typeof value === 'object' && value !== null ? value : {}) as Record<string, unknown>;
  const count = (field: string): number => (typeof r[field] === 'number' && Number.isFinite(r[field]) ? (r[field] as number) : 0);
  const role = roles.includes(r.role as NodeRole) ? (r.role as NodeRole) : 'down';
  return { id: node, url: '', role, term: count('term'), commitIndex: count('commitIndex'), appliedIndex: count('appliedIndex'), blocks: count('blocks'), bytes: count('bytes') };
}
