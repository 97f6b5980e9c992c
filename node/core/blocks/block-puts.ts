// Coordinating a block upload: this node copies the block to R nodes chosen from the
// placement ring, waits until the copies are durable, has the metadata state machine
// register where they are, and only then tells the client the block is stored. A node
// that does not answer in time is suspected and the next node in preference order takes
// its place (sloppy placement, as in Dynamo), so one dead node does not stall uploads.

import type { Env, TimerId } from '../actor/env.ts';
import { raftboxError, type RaftboxError } from '../../../protocol/errors.ts';
import type { NodeId } from '../../../protocol/raft-messages.ts';
import type { Address, BlockHash, BlockPeerMessage } from '../../../protocol/wire.ts';
import { blocksAddress, respond, type BlockInternalMessage } from './block-messages.ts';
import type { BlockStore, WriteOutcome } from './block-store.ts';
import type { RegisterBatcher, RegisterOutcome } from './register-batcher.ts';
import type { Suspects } from './suspects.ts';

export interface BlockPutsOptions {
  node: NodeId;
  /** Copies wanted, already capped at the cluster size. */
  replication: number;
  replicateTimeoutMs: number;
  /** Most client puts waiting for an answer, all hashes together. */
  putsInFlightMax: number;
  /** Most block bytes held in memory by puts in flight. */
  putBytesInFlightMax: number;
}

interface PutFlow {
  hash: BlockHash;
  data: Uint8Array;
  waiters: { from: Address; id: number }[];
  preference: NodeId[];
  tried: Set<NodeId>;
  /** Nodes whose copy is durable. */
  durable: NodeId[];
  /** Replicate requests awaiting an answer, by request id. */
  pending: Map<number, { node: NodeId; timer: TimerId }>;
  localPending: boolean;
  /** Why nodes could not take a copy, for the error sentence; at most one per node. */
  failures: string[];
  phase: 'copying' | 'registering';
}

type ReplicatedMessage = Extract<BlockPeerMessage, { type: 'block.replicated' }>;

export class BlockPuts {
  private readonly flows = new Map<BlockHash, PutFlow>();
  private readonly replicateRequests = new Map<number, BlockHash>();
  private waiting = 0;
  private bytesInFlight = 0;

  constructor(
    private readonly env: Env,
    private readonly options: BlockPutsOptions,
    private readonly ring: { preference(hash: BlockHash): NodeId[] },
    private readonly store: BlockStore,
    private readonly suspects: Suspects,
    private readonly register: RegisterBatcher,
    private readonly nextId: () => number,
  ) {}

  /** Store a verified block for the client at `from`; concurrent puts of one hash share one flow. */
  put(from: Address, id: number, hash: BlockHash, data: Uint8Array): void {
    const existing = this.flows.get(hash);
    if (this.waiting >= this.options.putsInFlightMax || (!existing && this.bytesInFlight + data.byteLength > this.options.putBytesInFlightMax)) {
      const error = raftboxError('overloaded', `node ${this.options.node} already has ${this.waiting} block uploads in flight; retry with backoff`);
      return respond(this.env, from, id, { ok: false, error });
    }
    this.waiting++;
    if (existing) {
      existing.waiters.push({ from, id });
      return;
    }
    const flow: PutFlow = {
      hash,
      data,
      waiters: [{ from, id }],
      preference: this.ring.preference(hash),
      tried: new Set(),
      durable: [],
      pending: new Map(),
      localPending: false,
      failures: [],
      phase: 'copying',
    };
    this.flows.set(hash, flow);
    this.bytesInFlight += data.byteLength;
    this.advance(flow);
  }

  /** A peer's answer to a replicate request. */
  onReplicated(message: ReplicatedMessage): void {
    const settled = this.settle(message.id, message.from);
    if (!settled) return this.env.log('debug', 'blocks.replicated-unexpected', { id: message.id, from: message.from });
    const { flow, node } = settled;
    this.suspects.clear(node);
    if (message.ok) flow.durable.push(node);
    else flow.failures.push(`${node} refused (${message.error?.code ?? 'internal'}: ${message.error?.message ?? 'no reason given'})`);
    this.advance(flow);
  }

  /** A replicate request went unanswered: suspect the node and try the next one. */
  onReplicateTimeout(message: Extract<BlockInternalMessage, { type: 'blocks.replicate-timeout' }>): void {
    const settled = this.settle(message.id, null);
    if (!settled) return;
    const { flow, node } = settled;
    this.suspects.suspect(node, this.env.now());
    this.env.log('warn', 'blocks.node-suspected', { node, hash: flow.hash, timeoutMs: this.options.replicateTimeoutMs });
    flow.failures.push(`${node} did not answer within ${this.options.replicateTimeoutMs} ms`);
    this.advance(flow);
  }

  get inFlight(): number {
    return this.waiting;
  }

  /** True while an upload of `hash` is in flight here: its file must not be dropped meanwhile. */
  busy(hash: BlockHash): boolean {
    return this.flows.has(hash);
  }

  private settle(id: number, from: Address | null): { flow: PutFlow; node: NodeId } | null {
    const flow = this.flows.get(this.replicateRequests.get(id) ?? '');
    const request = flow?.pending.get(id);
    if (!flow || !request) return null;
    if (from !== null && from !== blocksAddress(request.node)) return null;
    this.env.cancel(request.timer);
    flow.pending.delete(id);
    this.replicateRequests.delete(id);
    return { flow, node: request.node };
  }

  // Start copies until R are durable or in flight, then decide: register, wait, or give up.
  private advance(flow: PutFlow): void {
    if (flow.phase !== 'copying') return;
    const majority = Math.floor(this.options.replication / 2) + 1;
    while (flow.durable.length + flow.pending.size + (flow.localPending ? 1 : 0) < this.options.replication) {
      const node = this.nextTarget(flow, majority);
      if (node === null) break;
      flow.tried.add(node);
      if (node === this.options.node) this.copyLocally(flow);
      else this.copyTo(flow, node);
      if (!this.flows.has(flow.hash)) return;
    }
    const inFlight = flow.pending.size + (flow.localPending ? 1 : 0);
    if (flow.durable.length >= this.options.replication) return this.registerBlock(flow);
    if (inFlight > 0) return;
    if (flow.durable.length >= majority) return this.registerBlock(flow);
    const error = raftboxError(
      'unavailable',
      `block ${flow.hash} reached only ${flow.durable.length} of the ${majority} nodes it needs at least (${flow.failures.join('; ') || 'no node to try'}); retry when more nodes are up`,
    );
    this.finish(flow, { ok: false, error });
  }

  // Unsuspected nodes in preference order first. Suspected ones are tried only when a
  // majority is otherwise out of reach, so stale suspicion alone never fails a put.
  private nextTarget(flow: PutFlow, majority: number): NodeId | null {
    const now = this.env.now();
    const untried = flow.preference.filter((node) => !flow.tried.has(node));
    const trusted = untried.find((node) => !this.suspects.isSuspected(node, now));
    if (trusted !== undefined) return trusted;
    const possible = flow.durable.length + flow.pending.size + (flow.localPending ? 1 : 0);
    return possible < majority ? (untried[0] ?? null) : null;
  }

  private copyLocally(flow: PutFlow): void {
    const start = this.store.write(flow.hash, flow.data, (outcome) => this.onLocalWritten(flow.hash, outcome));
    if (start === 'present') flow.durable.push(this.options.node);
    else if (start === 'pending') flow.localPending = true;
    else flow.failures.push(`${this.options.node} has too many writes in flight`);
  }

  // The client's bytes are only as safe as this write: if it fails, the put fails with its reason.
  private onLocalWritten(hash: BlockHash, outcome: WriteOutcome): void {
    const flow = this.flows.get(hash);
    if (!flow || !flow.localPending) return;
    flow.localPending = false;
    if (!outcome.ok) return this.finish(flow, outcome);
    flow.durable.push(this.options.node);
    this.advance(flow);
  }

  private copyTo(flow: PutFlow, node: NodeId): void {
    const id = this.nextId();
    const message: BlockPeerMessage = { type: 'block.replicate', from: this.env.self, id, hash: flow.hash, data: flow.data };
    this.env.send(blocksAddress(node), message);
    const timer = this.env.timer(this.options.replicateTimeoutMs, { type: 'blocks.replicate-timeout', id } satisfies BlockInternalMessage);
    flow.pending.set(id, { node, timer });
    this.replicateRequests.set(id, flow.hash);
  }

  private registerBlock(flow: PutFlow): void {
    flow.phase = 'registering';
    const owners = flow.preference.filter((node) => flow.durable.includes(node));
    const entry = { hash: flow.hash, size: flow.data.byteLength, owners };
    const queued = this.register.add(entry, (outcome) => this.onRegistered(flow.hash, outcome));
    if (!queued) this.finish(flow, { ok: false, error: raftboxError('overloaded', `too many blocks are waiting to be registered on node ${this.options.node}; retry with backoff`) });
  }

  private onRegistered(hash: BlockHash, outcome: RegisterOutcome): void {
    const flow = this.flows.get(hash);
    if (!flow) return;
    this.finish(flow, outcome.ok ? { ok: true } : outcome);
  }

  private finish(flow: PutFlow, outcome: { ok: true } | { ok: false; error: RaftboxError }): void {
    this.flows.delete(flow.hash);
    this.waiting -= flow.waiters.length;
    this.bytesInFlight -= flow.data.byteLength;
    for (const [id, request] of flow.pending) {
      this.env.cancel(request.timer);
      this.replicateRequests.delete(id);
    }
    const replicas = flow.durable.length;
    for (const waiter of flow.waiters) {
      respond(this.env, waiter.from, waiter.id, outcome.ok ? { ok: true, result: { replicas } } : outcome);
    }
  }
}
