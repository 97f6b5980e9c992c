// Re-replication and repair: copies blocks to this node from a surviving replica. Every
// node scans the replicated registry when the ring or the registry changes and takes on
// the blocks that lack copies and whose live placement names it, so the work spreads
// over all the nodes with no coordinator, and copies travel node to node. The same
// machinery fetches a good copy to replace one that scrub or a read found corrupt.

import type { Env, TimerId } from '../actor/env.ts';
import type { NodeId } from '../../../protocol/raft-messages.ts';
import type { BlockHash, BlockPeerMessage } from '../../../protocol/wire.ts';
import type { BlockDirectory } from './block-directory.ts';
import { blocksAddress, type BlockInternalMessage } from './block-messages.ts';
import { blockBytesMax, type BlockStore } from './block-store.ts';
import type { Placement } from './placement.ts';
import type { RegisterBatcher } from './register-batcher.ts';
import { TokenBucket } from './token-bucket.ts';

export interface RepairerOptions {
  node: NodeId;
  sha256: (bytes: Uint8Array) => string;
  /** Bytes per second this node may fetch for repairs: the bandwidth budget. */
  repairBytesPerSecond: number;
  /** Copies fetched at once. */
  repairsInFlightMax: number;
  /** Blocks waiting to be copied; a scan that finds more takes the rest on a later scan. */
  repairQueueMax: number;
  fetchTimeoutMs: number;
  /** Least time between two registry scans, so a burst of uploads does not cause a scan each. */
  scanIntervalMs: number;
  /** A full scan, which also checks this node's own copies exist, at least this often. */
  fullScanIntervalMs: number;
  /**
   * Blocks a scan of every block looks at per tick; the rest wait for the next ticks. The
   * scan runs on the node's one event loop at about half a microsecond a block, so done in
   * one go it would hold every request up for half a second per million blocks.
   */
  scanSliceBlocks: number;
  /**
   * For this long after start, scans of changed blocks also check this node's own copies
   * exist. The scan at start looks at every block, but the registry catches up with the
   * log only after it, and a copy lost while the node was down should come back then,
   * not a full interval later.
   */
  startupChecksMs: number;
}

/** `rereplicate`: this node should gain a copy and register it; `repair`: it already owns the block and replaces a bad copy. */
export type RepairKind = 'rereplicate' | 'repair';

interface Job {
  hash: BlockHash;
  size: number;
  kind: RepairKind;
  /** Live copies when queued: fewer goes first. */
  copies: number;
  sources: NodeId[];
  waiters: ((ok: boolean) => void)[];
}

interface Fetch {
  job: Job;
  node: NodeId;
  timer: TimerId;
}

type FetchedMessage = Extract<BlockPeerMessage, { type: 'block.fetched' }>;

type BlockView = { readonly size: number; readonly owners: readonly NodeId[] };

interface Sweep {
  /** The registry's blocks, read as the slices go: a block registered meanwhile is seen or left to the scans of changes. */
  blocks: Iterator<[BlockHash, BlockView]>;
  checkOwn: boolean;
  full: boolean;
  found: number;
}

/** Counters for the node's metrics and `status`: what repair has done since start. */
export interface RepairStats {
  copiedBlocks: number;
  copiedBytes: number;
  failedBlocks: number;
  queuedBlocks: number;
  inFlightBlocks: number;
}

export class Repairer {
  private queue: Job[] = [];
  private readonly jobs = new Map<BlockHash, Job>();
  private readonly fetches = new Map<number, Fetch>();
  private readonly bucket: TokenBucket;
  private seenVersion = -1;
  /** The last scan stopped early (the queue was full): the next looks at every block. */
  private incomplete = false;
  /** When a scan of every block is wanted again (a surplus check gave up), or null. */
  private rescanAtMs: number | null = null;
  /** A scan of every block under way, a slice per tick; null when none is. */
  private sweep: Sweep | null = null;
  private lastScanMs = -Infinity;
  private lastFullScanMs = -Infinity;
  private readonly startedMs: number;
  private pumpTimerArmed = false;
  private copiedBlocks = 0;
  private copiedBytes = 0;
  private failedBlocks = 0;

  constructor(
    private readonly env: Env,
    private readonly options: RepairerOptions,
    private readonly directory: BlockDirectory | null,
    private readonly placement: Placement,
    private readonly store: BlockStore,
    private readonly register: RegisterBatcher,
    private readonly nextId: () => number,
    /** Called for a copy here that the placement no longer names while every target holds the block. */
    private readonly onSurplus: ((hash: BlockHash, size: number, targets: NodeId[]) => void) | null = null,
  ) {
    this.bucket = new TokenBucket(options.repairBytesPerSecond, Math.max(blockBytesMax, options.repairBytesPerSecond / 4), env.now());
    this.startedMs = env.now();
  }

  get stats(): RepairStats {
    return { copiedBlocks: this.copiedBlocks, copiedBytes: this.copiedBytes, failedBlocks: this.failedBlocks, queuedBlocks: this.queue.length, inFlightBlocks: this.fetches.size };
  }

  /** Called on the actor's repair tick: scan the registry if it changed (or a full scan is due), then start copies. */
  tick(): void {
    const now = this.env.now();
    if (this.rescanAtMs !== null && now >= this.rescanAtMs) {
      this.rescanAtMs = null;
      this.incomplete = true;
    }
    if (this.directory !== null) {
      const changed = (this.incomplete || this.directory.blocksVersion !== this.seenVersion) && now - this.lastScanMs >= this.options.scanIntervalMs;
      const full = now - this.lastFullScanMs >= this.options.fullScanIntervalMs;
      if (full || changed) this.scan(full, full || now - this.startedMs < this.options.startupChecksMs);
      if (this.sweep !== null) this.continueSweep(this.sweep);
    }
    this.pump();
  }

  /**
   * Look at every block again in `delayMs`. A block is looked at when its owners change or
   * by the scan of every block (once a minute); one whose surplus copy could not be given
   * up this time (an owner had not confirmed yet) would otherwise wait for that.
   */
  rescanIn(delayMs: number): void {
    const at = this.env.now() + delayMs;
    if (this.rescanAtMs === null || at < this.rescanAtMs) this.rescanAtMs = at;
  }

  /** Queue a copy of `hash` to this node from `sources`; `done` hears whether it is now stored here. */
  enqueue(hash: BlockHash, size: number, kind: RepairKind, sources: NodeId[], done?: (ok: boolean) => void): boolean {
    const existing = this.jobs.get(hash);
    if (existing) {
      if (done) existing.waiters.push(done);
      return true;
    }
    if (this.jobs.size >= this.options.repairQueueMax + this.options.repairsInFlightMax) return false;
    const job: Job = { hash, size, kind, copies: sources.length, sources: sources.filter((node) => node !== this.options.node), waiters: done ? [done] : [] };
    this.jobs.set(hash, job);
    // Keep the queue ordered by copies left, fewest first; a stable insert keeps scan order within a count.
    let at = this.queue.length;
    while (at > 0 && this.queue[at - 1]!.copies > job.copies) at--;
    this.queue.splice(at, 0, job);
    return true;
  }

  /** A peer's answer to one of our fetches; false when it answers none of ours. */
  onFetched(message: FetchedMessage): boolean {
    const fetch = this.fetches.get(message.id);
    if (!fetch || message.from !== blocksAddress(fetch.node)) return false;
    this.env.cancel(fetch.timer);
    this.fetches.delete(message.id);
    const data = message.data;
    const { job } = fetch;
    if (data instanceof Uint8Array && data.byteLength === job.size && this.options.sha256(data) === job.hash) {
      const start = this.store.write(job.hash, data, (outcome) => (outcome.ok ? this.stored(job) : this.finish(job, false)));
      if (start === 'present') this.stored(job);
      if (start === 'overloaded') this.finish(job, false);
    } else {
      if (data !== null) this.env.log('warn', 'blocks.corrupt-remote', { hash: job.hash, node: fetch.node });
      this.fetchNext(job);
    }
    this.pump();
    return true;
  }

  onFetchTimeout(message: Extract<BlockInternalMessage, { type: 'blocks.repair-fetch-timeout' }>): void {
    const fetch = this.fetches.get(message.id);
    if (!fetch) return;
    this.fetches.delete(message.id);
    this.fetchNext(fetch.job);
    this.pump();
  }

  onPumpDue(): void {
    this.pumpTimerArmed = false;
    this.pump();
  }

  /** True while `hash` is being copied here: its file must not be dropped meanwhile. */
  busy(hash: BlockHash): boolean {
    return this.jobs.has(hash);
  }

  // ---------------------------------------------------------------- scanning

  // Every node holds the blocks its live placement names: a target that lacks a copy
  // fetches one from a live owner (re-replication after a loss, rebalancing after a join
  // or a drain), so only blocks whose owners changed move. A copy on a node the placement
  // no longer names is surplus once every target holds the block; it is given up after
  // the targets confirm (surplus.ts).
  // `full` looks at every block; `checkOwn` checks that the copies the registry says this
  // node holds, among the blocks looked at, are on disk. A scan of every block starts a
  // sweep, which this tick and the next ones continue a slice at a time; one that starts
  // while another is under way replaces it, since placement may have changed meanwhile.
  private scan(full: boolean, checkOwn: boolean): void {
    const directory = this.directory!;
    const now = this.env.now();
    const since = this.seenVersion;
    const everything = full || this.incomplete;
    this.seenVersion = directory.blocksVersion;
    this.incomplete = false;
    this.lastScanMs = now;
    if (full) this.lastFullScanMs = now;
    const changed = everything ? null : directory.ownersChangedSince(since);
    if (changed === null) {
      const under = this.sweep;
      this.sweep = { blocks: directory.blocks()[Symbol.iterator](), checkOwn: checkOwn || (under?.checkOwn ?? false), full: full || (under?.full ?? false), found: 0 };
      return;
    }
    const mayGiveUp = this.mayGiveUp();
    let found = 0;
    for (const hash of new Set(changed)) {
      const block = directory.block(hash);
      if (block === null) continue;
      const taken = this.consider(hash, block, checkOwn, mayGiveUp);
      if (taken === null) break;
      if (taken) found++;
    }
    if (found > 0) this.env.log('info', 'blocks.rereplicate-scan', { node: this.options.node, found, queued: this.queue.length, full: false });
  }

  private continueSweep(sweep: Sweep): void {
    const mayGiveUp = this.mayGiveUp();
    for (let looked = 0; looked < this.options.scanSliceBlocks; looked++) {
      const next = sweep.blocks.next();
      if (next.done === true) return this.endSweep(sweep);
      const [hash, block] = next.value;
      const taken = this.consider(hash, block, sweep.checkOwn, mayGiveUp);
      if (taken === null) return this.endSweep(sweep);
      if (taken) sweep.found++;
    }
  }

  private endSweep(sweep: Sweep): void {
    this.sweep = null;
    if (sweep.found > 0) this.env.log('info', 'blocks.rereplicate-scan', { node: this.options.node, found: sweep.found, queued: this.queue.length, full: sweep.full });
  }

  // A node running while its own view counts it down is returning and has not applied its
  // up yet: its copies are about to be wanted again, so it gives none of them up.
  private mayGiveUp(): boolean {
    return this.placement.isLive(this.options.node);
  }

  // What one block needs from this node: a copy fetched (true), nothing or a surplus copy
  // given up (false); null when the queue is full, which ends the scan and leaves the
  // blocks not looked at to a scan of every block.
  private consider(hash: BlockHash, block: BlockView, checkOwn: boolean, mayGiveUp: boolean): boolean | null {
    if (this.jobs.has(hash)) return false;
    const self = this.options.node;
    const live = block.owners.filter((node) => this.placement.isLive(node));
    const targets = this.placement.targets(hash);
    if (block.owners.includes(self)) {
      if (checkOwn && !this.store.has(hash) && live.length > 1) this.enqueue(hash, block.size, 'repair', live);
      else if (mayGiveUp && !targets.includes(self) && targets.every((node) => block.owners.includes(node))) this.onSurplus?.(hash, block.size, targets);
      return false;
    }
    if (live.length === 0 || !targets.includes(self)) return false;
    if (!this.enqueue(hash, block.size, 'rereplicate', live)) {
      this.incomplete = true;
      return null;
    }
    return true;
  }

  // ---------------------------------------------------------------- copying

  /** Start queued copies as far as the in-flight limit and the bandwidth budget allow. */
  pump(): void {
    while (this.fetches.size < this.options.repairsInFlightMax && this.queue.length > 0) {
      const job = this.queue[0]!;
      if (!this.bucket.take(job.size, this.env.now())) {
        this.armPump(this.bucket.waitMs(job.size, this.env.now()));
        return;
      }
      this.queue.shift();
      this.fetchNext(job);
    }
  }

  private armPump(delayMs: number): void {
    if (this.pumpTimerArmed) return;
    this.pumpTimerArmed = true;
    this.env.timer(Math.max(1, delayMs), { type: 'blocks.repair-pump' } satisfies BlockInternalMessage);
  }

  private fetchNext(job: Job): void {
    const node = job.sources.shift();
    if (node === undefined) return this.finish(job, false);
    const id = this.nextId();
    this.env.send(blocksAddress(node), { type: 'block.fetch', from: this.env.self, id, hash: job.hash } satisfies BlockPeerMessage);
    const timer = this.env.timer(this.options.fetchTimeoutMs, { type: 'blocks.repair-fetch-timeout', id } satisfies BlockInternalMessage);
    this.fetches.set(id, { job, node, timer });
  }

  private stored(job: Job): void {
    if (!this.jobs.has(job.hash)) return;
    this.copiedBlocks++;
    this.copiedBytes += job.size;
    if (job.kind === 'repair') return this.finish(job, true);
    const queued = this.register.add({ hash: job.hash, size: job.size, owners: [this.options.node] }, (outcome) => this.finish(job, outcome.ok));
    if (!queued) this.finish(job, false);
  }

  private finish(job: Job, ok: boolean): void {
    if (this.jobs.get(job.hash) !== job) return;
    this.jobs.delete(job.hash);
    if (!ok) {
      this.failedBlocks++;
      this.env.log('warn', 'blocks.repair-failed', { hash: job.hash, kind: job.kind });
      // A later scan tries again, with whatever sources the registry then names.
      this.incomplete = true;
    }
    for (const waiter of job.waiters) waiter(ok);
    this.pump();
  }
}
