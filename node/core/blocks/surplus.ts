// Surplus copies: a node that holds a block its live placement no longer names (an owner
// came back, a node joined, or this node is being drained) gives its copy up, but only
// after every current owner confirmed that it holds a verified copy and counts itself an
// owner at the same ring epoch. Then the release goes through the log, so nobody reads
// from this node any more, and only then is the file deleted.

import type { Env, TimerId } from '../actor/env.ts';
import type { NodeId } from '../../../protocol/raft-messages.ts';
import type { BlockHash, BlockPeerMessage } from '../../../protocol/wire.ts';
import { blocksAddress, type BlockInternalMessage } from './block-messages.ts';
import type { BlockStore } from './block-store.ts';
import type { Placement } from './placement.ts';
import type { RegisterBatcher } from './register-batcher.ts';

export interface SurplusOptions {
  node: NodeId;
  /** How long an owner may take to confirm its copy; silence counts as "no". */
  confirmTimeoutMs: number;
  /** Surplus blocks being confirmed or released at once; a later scan finds the rest. */
  checksMax: number;
}

interface Check {
  hash: BlockHash;
  size: number;
  epoch: number;
  /** Confirmation request ids still unanswered. */
  waiting: Set<number>;
  timer: TimerId;
  startedMs: number;
  phase: 'confirming' | 'releasing';
}

type ConfirmMessage = Extract<BlockPeerMessage, { type: 'block.confirm' }>;
type ConfirmedMessage = Extract<BlockPeerMessage, { type: 'block.confirmed' }>;

/** Decides, per block, when this node's surplus copy may go; see the file comment. */
export class SurplusDropper {
  private readonly checks = new Map<BlockHash, Check>();
  private readonly asks = new Map<number, BlockHash>();
  /** Copies given up since start, for metrics. */
  dropped = 0;

  constructor(
    private readonly env: Env,
    private readonly options: SurplusOptions,
    private readonly placement: Placement,
    private readonly store: BlockStore,
    private readonly releaser: RegisterBatcher,
    private readonly nextId: () => number,
    /** False while the block is being written or copied here, or was written since `sinceMs`. */
    private readonly mayDrop: (hash: BlockHash, sinceMs: number) => boolean,
    private readonly onDropped: () => void,
    /** A check gave up (an owner said no or did not answer): the block should be looked at again later. */
    private readonly onAbandoned: () => void = () => undefined,
  ) {}

  /** True while `hash` is being confirmed or released here. */
  busy(hash: BlockHash): boolean {
    return this.checks.has(hash);
  }

  /** Asks `owners` to confirm their copies of `hash`; false when too many checks are under way. */
  consider(hash: BlockHash, size: number, owners: readonly NodeId[]): boolean {
    if (this.checks.has(hash)) return true;
    if (this.checks.size >= this.options.checksMax) return false;
    if (owners.length === 0 || owners.includes(this.options.node)) return true;
    const timer = this.env.timer(this.options.confirmTimeoutMs, { type: 'blocks.surplus-timeout', hash, id: 0 } satisfies BlockInternalMessage);
    const check: Check = { hash, size, epoch: this.placement.ringEpoch, waiting: new Set(), timer, startedMs: this.env.now(), phase: 'confirming' };
    this.checks.set(hash, check);
    for (const owner of owners) {
      const id = this.nextId();
      check.waiting.add(id);
      this.asks.set(id, hash);
      this.env.send(blocksAddress(owner), { type: 'block.confirm', from: this.env.self, id, hash, epoch: check.epoch } satisfies BlockPeerMessage);
    }
    return true;
  }

  /** A peer asks whether we hold `hash`: yes only for a verified copy we own at the same epoch and are not giving up. */
  answer(message: ConfirmMessage): void {
    const self = this.options.node;
    const owns = this.placement.ringEpoch === message.epoch && this.placement.targets(message.hash).includes(self);
    const ok = owns && !this.checks.has(message.hash) && this.store.read(message.hash).state === 'ok';
    this.env.send(message.from, { type: 'block.confirmed', from: this.env.self, id: message.id, ok } satisfies BlockPeerMessage);
  }

  /** An owner's answer; false when it answers none of our questions. */
  onConfirmed(message: ConfirmedMessage): boolean {
    const hash = this.asks.get(message.id);
    if (hash === undefined) return false;
    this.asks.delete(message.id);
    const check = this.checks.get(hash);
    if (!check || check.phase !== 'confirming' || !check.waiting.delete(message.id)) return true;
    if (!message.ok) this.abandon(check);
    else if (check.waiting.size === 0) this.release(check);
    return true;
  }

  onTimeout(message: Extract<BlockInternalMessage, { type: 'blocks.surplus-timeout' }>): void {
    const check = this.checks.get(message.hash);
    if (check && check.phase === 'confirming') this.abandon(check);
  }

  // Every owner confirmed: the log forgets this copy first, so no reader is sent here
  // after the file is gone; a crash in between leaves an orphan file the sweep removes.
  private release(check: Check): void {
    this.env.cancel(check.timer);
    if (check.epoch !== this.placement.ringEpoch || !this.mayDrop(check.hash, check.startedMs)) return this.abandon(check);
    check.phase = 'releasing';
    const queued = this.releaser.add({ hash: check.hash, size: check.size, owners: [this.options.node] }, (outcome) => {
      this.checks.delete(check.hash);
      if (!outcome.ok) return this.onAbandoned();
      if (!this.mayDrop(check.hash, check.startedMs)) return;
      if (this.store.remove(check.hash)) {
        this.dropped++;
        this.onDropped();
      }
    });
    if (!queued) this.abandon(check);
  }

  private abandon(check: Check): void {
    this.env.cancel(check.timer);
    this.checks.delete(check.hash);
    for (const [id, hash] of this.asks) if (hash === check.hash) this.asks.delete(id);
    this.onAbandoned();
  }
}
