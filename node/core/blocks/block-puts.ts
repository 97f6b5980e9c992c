// Coordinating a block upload: this node copies the block to R nodes chosen from the
// placement ring, waits until the copies are durable, has the metadata state machine
// register where they are, and only then tells the client the block is stored. A node
// that does not answer in time is suspected and the next node in preference order takes
// its place (sloppy placement, as in Dynamo), so one dead node does not stall uploads.
// Copies bound for the same peer during one mailbox drain travel in one message (up to
// `replicateBatchBytesMax`), so a burst of small files costs a few messages, not three
// per file.

import type { Env, TimerId } from '../actor/env.ts';
import { raftboxError, type RaftboxError } from '../../../protocol/errors.ts';
import type { NodeId } from '../../../protocol/raft-messages.ts';
import { blocksPerPutMax } from '../../../protocol/wire-schema.ts';
import type { BlockHash, BlockPeerMessage, BlockUpload } from '../../../protocol/wire.ts';
import { blocksAddress, type BlockInternalMessage } from './block-messages.ts';
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
  /** Most block bytes in one replicate message; a larger block travels alone. */
  replicateBatchBytesMax: number;
}

/** How a put ended: the copies made, or why it failed. */
export type PutResult = { ok: true; replicas: number } | { ok: false; error: RaftboxError };

interface PutFlow {
  hash: BlockHash;
  data: Uint8Array;
  waiters: ((result: PutResult) => void)[];
  preference: NodeId[];
  tried: Set<NodeId>;
  /** Nodes whose copy is durable. */
  durable: NodeId[];
  /** Nodes asked for a copy and not yet answered → the replicate request that carries it (0 while still queued). */
  pending: Map<NodeId, number>;
  localPending: boolean;
  /** Why nodes could not take a copy, for the error sentence; at most one per node. */
  failures: string[];
  phase: 'copying' | 'registering';
}

/** A replicate message sent and not yet answered: which blocks it carried, in order. */
interface ReplicateRequest {
  node: NodeId;
  hashes: BlockHash[];
  timer: TimerId;
}

/** Copies waiting for the end of the drain to go to one peer together. */
interface OutgoingBatch {
  flows: PutFlow[];
  bytes: number;
}

type ReplicatedMessage = Extract<BlockPeerMessage, { type: 'block.replicated' }>;

export class BlockPuts {
  private readonly flows = new Map<BlockHash, PutFlow>();
  private readonly replicateRequests = new Map<number, ReplicateRequest>();
  private readonly outgoing = new Map<NodeId, OutgoingBatch>();
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

  /**
   * Stores a verified block for a client and calls `done` once it is durable on enough
   * nodes and registered, or has failed; concurrent puts of one hash share one flow.
   */
  put(hash: BlockHash, data: Uint8Array, done: (result: PutResult) => void): void {
    const existing = this.flows.get(hash);
    if (this.waiting >= this.options.putsInFlightMax || (!existing && this.bytesInFlight + data.byteLength > this.options.putBytesInFlightMax)) {
      return done({ ok: false, error: raftboxError('overloaded', `node ${this.options.node} already has ${this.waiting} block uploads in flight; retry with backoff`) });
    }
    this.waiting++;
    if (existing) {
      existing.waiters.push(done);
      return;
    }
    const flow: PutFlow = {
      hash,
      data,
      waiters: [done],
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

  /** Sends the copies queued during this drain, one message per peer. */
  flush(): void {
    for (const node of [...this.outgoing.keys()]) this.sendBatch(node);
  }

  /** A peer's answer to a replicate request: one outcome per block it carried. */
  onReplicated(message: ReplicatedMessage): void {
    const request = this.replicateRequests.get(message.id);
    if (!request || message.from !== blocksAddress(request.node)) return this.env.log('debug', 'blocks.replicated-unexpected', { id: message.id, from: message.from });
    this.replicateRequests.delete(message.id);
    this.env.cancel(request.timer);
    this.suspects.clear(request.node);
    request.hashes.forEach((hash, index) => {
      const flow = this.settle(hash, request.node, message.id);
      if (!flow) return;
      const outcome = message.outcomes[index];
      if (outcome?.ok) flow.durable.push(request.node);
      else flow.failures.push(`${request.node} refused (${outcome?.error?.code ?? 'internal'}: ${outcome?.error?.message ?? 'no outcome given for this block'})`);
      this.advance(flow);
    });
  }

  /** A replicate request went unanswered: suspect the node and try the next one for each block. */
  onReplicateTimeout(message: Extract<BlockInternalMessage, { type: 'blocks.replicate-timeout' }>): void {
    const request = this.replicateRequests.get(message.id);
    if (!request) return;
    this.replicateRequests.delete(message.id);
    this.suspects.suspect(request.node, this.env.now());
    this.env.log('warn', 'blocks.node-suspected', { node: request.node, blocks: request.hashes.length, timeoutMs: this.options.replicateTimeoutMs });
    for (const hash of request.hashes) {
      const flow = this.settle(hash, request.node, message.id);
      if (!flow) continue;
      flow.failures.push(`${request.node} did not answer within ${this.options.replicateTimeoutMs} ms`);
      this.advance(flow);
    }
  }

  get inFlight(): number {
    return this.waiting;
  }

  /** True while an upload of `hash` is in flight here: its file must not be dropped meanwhile. */
  busy(hash: BlockHash): boolean {
    return this.flows.has(hash);
  }

  // The flow of `hash` if its copy on `node` is still awaited from request `id`.
  private settle(hash: BlockHash, node: NodeId, id: number): PutFlow | null {
    const flow = this.flows.get(hash);
    if (!flow || flow.pending.get(node) !== id) return null;
    flow.pending.delete(node);
    return flow;
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

  // The copy joins this drain's batch for `node`; a batch that would outgrow a message goes now.
  private copyTo(flow: PutFlow, node: NodeId): void {
    const size = flow.data.byteLength;
    let batch = this.outgoing.get(node);
    if (batch && (batch.bytes + size > this.options.replicateBatchBytesMax || batch.flows.length >= blocksPerPutMax)) {
      this.sendBatch(node);
      batch = undefined;
    }
    if (!batch) {
      batch = { flows: [], bytes: 0 };
      this.outgoing.set(node, batch);
    }
    batch.flows.push(flow);
    batch.bytes += size;
    flow.pending.set(node, 0);
    if (batch.bytes >= this.options.replicateBatchBytesMax) this.sendBatch(node);
  }

  private sendBatch(node: NodeId): void {
    const batch = this.outgoing.get(node);
    if (!batch) return;
    this.outgoing.delete(node);
    // A flow that finished while queued (it failed, say) no longer waits for this copy.
    const flows = batch.flows.filter((flow) => this.flows.get(flow.hash) === flow && flow.pending.get(node) === 0);
    if (flows.length === 0) return;
    const id = this.nextId();
    const blocks: BlockUpload[] = flows.map((flow) => ({ hash: flow.hash, data: flow.data }));
    this.env.send(blocksAddress(node), { type: 'block.replicate', from: this.env.self, id, blocks } satisfies BlockPeerMessage);
    const timer = this.env.timer(this.options.replicateTimeoutMs, { type: 'blocks.replicate-timeout', id } satisfies BlockInternalMessage);
    this.replicateRequests.set(id, { node, hashes: flows.map((flow) => flow.hash), timer });
    for (const flow of flows) flow.pending.set(node, id);
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

  // Copies still awaited are no longer needed: a late answer finds no flow and is ignored.
  private finish(flow: PutFlow, outcome: { ok: true } | { ok: false; error: RaftboxError }): void {
    this.flows.delete(flow.hash);
    this.waiting -= flow.waiters.length;
    this.bytesInFlight -= flow.data.byteLength;
    const result: PutResult = outcome.ok ? { ok: true, replicas: flow.durable.length } : outcome;
    for (const waiter of flow.waiters) waiter(result);
  }
}
