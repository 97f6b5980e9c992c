// Serving a block download: the local copy if it hashes to its name, otherwise the first
// good copy among the other nodes, asked one at a time in preference order. Every copy is
// verified before it is served, wherever it came from.

import type { Env, TimerId } from '../actor/env.ts';
import { raftboxError } from '../../../protocol/errors.ts';
import type { NodeId } from '../../../protocol/raft-messages.ts';
import type { Address, BlockHash, BlockPeerMessage } from '../../../protocol/wire.ts';
import { blocksAddress, respond, type BlockInternalMessage } from './block-messages.ts';
import { blockBytesMax, type BlockStore, type LocalRead } from './block-store.ts';
import type { Suspects } from './suspects.ts';

export interface BlockGetsOptions {
  node: NodeId;
  sha256: (bytes: Uint8Array) => string;
  fetchTimeoutMs: number;
  getsInFlightMax: number;
}

/** Where a get looks for a block beyond this node: registered owners first, then the placement. */
export interface GetSources {
  preference(hash: BlockHash): NodeId[];
  /** Live registered owners of the block, or null when the registry does not know it. */
  owners(hash: BlockHash): NodeId[] | null;
  /** A good copy arrived for a block whose local copy is corrupt or absent but should be here: store it. */
  repairLocal(hash: BlockHash, data: Uint8Array): void;
}

interface GetFlow {
  from: Address;
  id: number;
  hash: BlockHash;
  /** Nodes still to ask, in order. */
  candidates: NodeId[];
  asking: { node: NodeId; timer: TimerId } | null;
  silent: number;
  /** The local copy is corrupt, or missing though this node is an owner: repair it with what we find. */
  repairLocal: boolean;
}

type FetchedMessage = Extract<BlockPeerMessage, { type: 'block.fetched' }>;

export class BlockGets {
  /** Gets waiting on a peer, by the id of their current fetch request. */
  private readonly fetches = new Map<number, GetFlow>();

  constructor(
    private readonly env: Env,
    private readonly options: BlockGetsOptions,
    private readonly sources: GetSources,
    private readonly store: BlockStore,
    private readonly suspects: Suspects,
    private readonly nextId: () => number,
  ) {}

  /**
   * Answer the client at `from` with the block's verified bytes, or `not_found`. The local
   * copy is read off the actor's thread: a download must not stall Raft on this node.
   */
  get(from: Address, id: number, hash: BlockHash): void {
    this.store.readLater(hash, (local) => this.serve(from, id, hash, local));
  }

  private serve(from: Address, id: number, hash: BlockHash, local: LocalRead): void {
    if (local.state === 'ok') return respond(this.env, from, id, { ok: true, result: { data: local.data } });
    if (local.state === 'corrupt') this.env.log('warn', 'blocks.corrupt', { hash, node: this.options.node, size: local.size, by: 'read' });
    const owners = this.sources.owners(hash);
    const repairLocal = local.state === 'corrupt' || (owners?.includes(this.options.node) ?? false);
    if (this.fetches.size >= this.options.getsInFlightMax) {
      const error = raftboxError('overloaded', `node ${this.options.node} already fetches ${this.fetches.size} blocks from peers; retry with backoff`);
      return respond(this.env, from, id, { ok: false, error });
    }
    const now = this.env.now();
    const others = [...new Set([...(owners ?? []), ...this.sources.preference(hash)])].filter((node) => node !== this.options.node);
    // Suspected nodes are still asked, last: a get has no other way to find the block.
    const candidates = [...others.filter((n) => !this.suspects.isSuspected(n, now)), ...others.filter((n) => this.suspects.isSuspected(n, now))];
    this.askNext({ from, id, hash, candidates, asking: null, silent: 0, repairLocal });
  }

  /** A peer's answer to a fetch. */
  onFetched(message: FetchedMessage): void {
    const flow = this.fetches.get(message.id);
    if (!flow || !flow.asking || message.from !== blocksAddress(flow.asking.node)) {
      return this.env.log('debug', 'blocks.fetched-unexpected', { id: message.id, from: message.from });
    }
    const node = flow.asking.node;
    this.release(message.id, flow);
    this.suspects.clear(node);
    const data = message.data;
    if (data instanceof Uint8Array && data.byteLength <= blockBytesMax && this.options.sha256(data) === flow.hash) {
      if (flow.repairLocal) this.sources.repairLocal(flow.hash, data);
      return respond(this.env, flow.from, flow.id, { ok: true, result: { data } });
    }
    if (data !== null) this.env.log('warn', 'blocks.corrupt-remote', { hash: flow.hash, node });
    this.askNext(flow);
  }

  /** A fetch went unanswered: suspect the node and ask the next. */
  onFetchTimeout(message: Extract<BlockInternalMessage, { type: 'blocks.fetch-timeout' }>): void {
    const flow = this.fetches.get(message.id);
    if (!flow || !flow.asking) return;
    this.suspects.suspect(flow.asking.node, this.env.now());
    flow.silent++;
    this.release(message.id, flow);
    this.askNext(flow);
  }

  private release(fetchId: number, flow: GetFlow): void {
    if (flow.asking) this.env.cancel(flow.asking.timer);
    flow.asking = null;
    this.fetches.delete(fetchId);
  }

  private askNext(flow: GetFlow): void {
    const node = flow.candidates.shift();
    if (node === undefined) return this.giveUp(flow);
    const fetchId = this.nextId();
    const message: BlockPeerMessage = { type: 'block.fetch', from: this.env.self, id: fetchId, hash: flow.hash };
    this.env.send(blocksAddress(node), message);
    const timer = this.env.timer(this.options.fetchTimeoutMs, { type: 'blocks.fetch-timeout', id: fetchId } satisfies BlockInternalMessage);
    flow.asking = { node, timer };
    this.fetches.set(fetchId, flow);
  }

  // Every node that answered lacks a good copy: `not_found`. If some stayed silent, the
  // block may live there, so the honest answer is `unavailable`, which a client retries.
  private giveUp(flow: GetFlow): void {
    const error =
      flow.silent === 0
        ? raftboxError('not_found', `no node holds a good copy of block ${flow.hash}`, { hash: flow.hash })
        : raftboxError('unavailable', `block ${flow.hash} is not on any node that answered, and ${flow.silent} node(s) did not answer; retry when they are back`, { hash: flow.hash });
    respond(this.env, flow.from, flow.id, { ok: false, error });
  }
}
