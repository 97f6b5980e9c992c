import type { LogLevel } from '../node/core/actor/env.ts';
import { defaultRaftActorOptions, RaftActor, type RaftActorOptions } from '../node/core/raft/raft-actor.ts';
import type { RaftBug } from '../node/core/raft/raft.ts';
import type { Operation } from './check/linearizability.ts';
import { SafetyMonitor } from './checkers.ts';
import { EventQueue } from './event-queue.ts';
import { KvStateMachine, kvService, type KvInput, type KvOutput } from './kv.ts';
import { Prng } from './prng.ts';
import { SimNetwork } from './sim-network.ts';
import { SimNode } from './sim-node.ts';
import { defaultWorkload, SimClient, type WorkloadOptions } from './workload.ts';

export interface ClusterOptions {
  seed: number;
  nodes: number;
  clients: number;
  diskTear: boolean;
  snapshotEntries: number;
  trace: boolean;
  bug?: RaftBug;
  raft?: Partial<RaftActorOptions>;
  workload?: Partial<WorkloadOptions>;
}

export interface KvNode {
  actor: RaftActor;
  stateMachine: KvStateMachine;
}

/**
 * A whole simulated deployment: N nodes running the real RaftActor over a KV register,
 * the network between them, workload clients, the safety monitor, and the trace. All of
 * it runs on one event queue, so the seed decides everything.
 */
export class SimCluster {
  readonly queue = new EventQueue();
  readonly prng: Prng;
  readonly network: SimNetwork;
  readonly nodes: SimNode<RaftActor>[] = [];
  readonly ids: string[];
  readonly clients: SimClient[] = [];
  readonly history: Operation<KvInput, KvOutput>[] = [];
  readonly monitor = new SafetyMonitor();
  readonly trace: string[] | null;
  private readonly machines = new Map<string, KvStateMachine>();
  /** Scenario hooks, called after every mailbox drain of a node. */
  readonly drainListeners: ((node: SimNode<RaftActor>) => void)[] = [];

  constructor(readonly options: ClusterOptions) {
    this.prng = new Prng(options.seed);
    this.trace = options.trace ? [] : null;
    this.ids = Array.from({ length: options.nodes }, (_, i) => `n${i + 1}`);
    this.network = new SimNetwork(this.queue, this.prng.fork('network'), (from, to, message) => this.route(from, to, message));
    for (const id of this.ids) this.addNode(id, this.ids);
    const workload = { ...defaultWorkload, ...options.workload };
    for (let i = 1; i <= options.clients; i++) {
      this.clients.push(new SimClient(i, this.ids, this.queue, this.prng.fork(`client-${i}`), (from, to, message) => this.network.send(from, to, message), this.history, workload));
    }
  }

  /** Create a node's host; `initialVoters` is empty for a node that will join later. */
  addNode(id: string, initialVoters: string[]): SimNode<RaftActor> {
    const options: RaftActorOptions = { ...defaultRaftActorOptions, snapshotEntries: this.options.snapshotEntries, segmentBytesMax: 16 * 1024, ...this.options.raft, id, initialVoters };
    if (this.options.bug) options.bug = this.options.bug;
    const world = {
      queue: this.queue,
      send: (from: string, to: string, message: unknown) => this.network.send(from, to, message),
      log: (node: string, level: LogLevel, event: string, fields?: Record<string, unknown>) => this.log(node, level, event, fields),
      afterDrain: (node: SimNode) => {
        const actor = node.actor as RaftActor | null;
        if (!actor) return;
        this.monitor.observe(node.id, actor.raft);
        for (const listener of this.drainListeners) listener(node as SimNode<RaftActor>);
      },
    };
    const node = new SimNode<RaftActor>(id, world, this.prng.fork(`node-${id}`), { tear: this.options.diskTear }, (env) => {
      const stateMachine = new KvStateMachine();
      stateMachine.onApply = (entry) => this.monitor.onApply(id, entry);
      this.machines.set(id, stateMachine);
      return new RaftActor(env, options, stateMachine, kvService(stateMachine));
    });
    if (!this.ids.includes(id)) this.ids.push(id);
    this.nodes.push(node);
    return node;
  }

  node(id: string): SimNode<RaftActor> {
    const node = this.nodes.find((n) => n.id === id);
    if (!node) throw new Error(`no node ${id}`);
    return node;
  }

  stateMachine(id: string): KvStateMachine | undefined {
    return this.machines.get(id);
  }

  start(): void {
    for (const node of this.nodes) node.start();
    for (const client of this.clients) client.start();
  }

  restart(id: string): void {
    const node = this.node(id);
    if (node.up) return;
    node.start();
    this.monitor.onRestart(id, node.actor!.raft);
  }

  /** The node that leads in the highest term, among those up. */
  leader(): SimNode<RaftActor> | null {
    let best: SimNode<RaftActor> | null = null;
    for (const node of this.nodes) {
      const raft = node.actor?.raft;
      if (node.up && raft?.role === 'leader' && (!best || raft.term > best.actor!.raft.term)) best = node;
    }
    return best;
  }

  liveRafts(): { node: string; raft: RaftActor['raft'] }[] {
    return this.nodes.filter((n) => n.up && n.actor).map((n) => ({ node: n.id, raft: n.actor!.raft }));
  }

  run(untilMs: number): void {
    this.queue.runUntil(untilMs);
  }

  private route(from: string, to: string, message: unknown): void {
    if (to.startsWith('client/')) {
      const client = this.clients[Number(to.slice('client/'.length)) - 1];
      client?.receive(from, message);
      return;
    }
    const node = this.nodes.find((n) => n.id === to);
    node?.deliver(message);
  }

  log(node: string, level: LogLevel, event: string, fields?: Record<string, unknown>): void {
    if (!this.trace || level === 'debug') return;
    this.trace.push(`${this.queue.now.toFixed(3)} ${node} ${event}${fields ? ' ' + JSON.stringify(fields) : ''}`);
  }
}
