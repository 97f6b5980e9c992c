// The block actor of one node, at address `<node>/blocks`: it stores blocks on this
// node's disk, coordinates uploads that clients send it (copies to R nodes, then
// registration with the metadata state machine), serves downloads with every copy
// verified, answers its peers' replicate and fetch requests, and reports its counts to
// the node's metadata actor for the status page.

import type { Actor } from '../actor/actor.ts';
import type { Env } from '../actor/env.ts';
import { raftboxError, type RaftboxError } from '../../../protocol/errors.ts';
import type { NodeId } from '../../../protocol/raft-messages.ts';
import { virtualNodesDefault } from '../../../protocol/ring.ts';
import type { BlockHash, BlockPeerMessage, BlockStatsMessage, BlockUpload, PutOutcome, ReplicaOutcome, RequestMessage, ResponseMessage, StorageFailedMessage } from '../../../protocol/wire.ts';
import type { BlockDirectory } from './block-directory.ts';
import { respond, wireError, type BlockInternalMessage, type PackSyncedMessage } from './block-messages.ts';
import { BlockGets, type GetSources } from './block-gets.ts';
import { Placement } from './placement.ts';
import { Repairer, type RepairStats } from './repairer.ts';
import { Scrubber, type ScrubStats } from './scrubber.ts';
import { BlockPuts } from './block-puts.ts';
import { BlockStore, blockBytesMax, isBlockHash, packBytesMaxDefault, type LocalRead } from './block-store.ts';
import { RegisterBatcher } from './register-batcher.ts';
import { Suspects } from './suspects.ts';
import { SurplusDropper } from './surplus.ts';
import { OrphanSweeper } from './orphan-sweeper.ts';

export interface BlockActorOptions {
  node: NodeId;
  /** Every node of the cluster, this one included: the placement ring. */
  nodes: NodeId[];
  /** SHA-256 as lowercase hex, synchronous; the host passes node:crypto, a browser build hash-wasm. */
  sha256: (bytes: Uint8Array) => string;
  /** Copies per block; capped at the number of nodes. */
  replication?: number;
  virtualNodes?: number;
  /** How long a peer may take to store or send a block before it is suspected. */
  replicateTimeoutMs?: number;
  /** How long a suspected node is passed over. */
  suspectMs?: number;
  putsInFlightMax?: number;
  putBytesInFlightMax?: number;
  /** Most block bytes one replicate message to a peer carries; see BlockPutsOptions. */
  replicateBatchBytesMax?: number;
  getsInFlightMax?: number;
  /** Local block writes in flight (client puts and peers' replicas together). */
  writesInFlightMax?: number;
  registerRetriesMax?: number;
  registerTimeoutMs?: number;
  registerBackoffMs?: number;
  registerBatchBlocksMax?: number;
  statsIntervalMs?: number;
  /** The node's replicated registry and ring; without it (a block actor tested alone) there is no re-replication. */
  directory?: BlockDirectory | null;
  /** Bandwidth budget of re-replication and repair copies fetched by this node. */
  repairBytesPerSecond?: number;
  repairsInFlightMax?: number;
  repairQueueMax?: number;
  repairTickMs?: number;
  repairScanIntervalMs?: number;
  repairFullScanIntervalMs?: number;
  /** See RepairerOptions.scanSliceBlocks. */
  repairScanSliceBlocks?: number;
  /** See RepairerOptions.startupChecksMs. */
  repairStartupChecksMs?: number;
  /** Rate of the background scrub; 0 turns it off. */
  scrubBytesPerSecond?: number;
  scrubTickMs?: number;
  scrubStepBytesMax?: number;
  /** See ScrubberOptions.blockBytesMin. */
  scrubBlockBytesMin?: number;
  /** See ScrubberOptions.busyTicksMax. */
  scrubBusyTicksMax?: number;
  /** A block written here this recently is never dropped by GC, whose decision may predate the write. */
  dropProtectMs?: number;
  /** How long an owner may take to confirm its copy before a surplus copy here is kept after all. */
  surplusConfirmTimeoutMs?: number;
  surplusChecksMax?: number;
  /** A block copy no registry entry names this node an owner of is deleted after staying so this long. */
  orphanGraceMs?: number;
  /** How often to look for such files; 0 turns the sweep off. */
  orphanSweepIntervalMs?: number;
  orphansTrackedMax?: number;
  /** Files a step of the orphan sweep looks at; a step runs every orphanSweepStepMs until the pass is done. */
  orphanSweepSliceBlocks?: number;
  /** See packBytesMaxDefault. */
  packBytesMax?: number;
  /** How often to look for a pack worth compacting; 0 turns compaction off. */
  compactIntervalMs?: number;
}

export const blockActorDefaults = {
  replication: 3,
  virtualNodes: virtualNodesDefault,
  replicateTimeoutMs: 2000,
  suspectMs: 5000,
  putsInFlightMax: 256,
  putBytesInFlightMax: 256 * 1024 * 1024,
  replicateBatchBytesMax: 1024 * 1024,
  getsInFlightMax: 256,
  writesInFlightMax: 512,
  registerRetriesMax: 5,
  registerTimeoutMs: 5000,
  registerBackoffMs: 100,
  registerBatchBlocksMax: 512,
  statsIntervalMs: 1000,
  directory: null,
  repairBytesPerSecond: 256 * 1024 * 1024,
  repairsInFlightMax: 16,
  repairQueueMax: 1_000_000,
  repairTickMs: 100,
  repairScanIntervalMs: 250,
  repairFullScanIntervalMs: 60_000,
  repairScanSliceBlocks: 20_000,
  repairStartupChecksMs: 10_000,
  scrubBytesPerSecond: 4 * 1024 * 1024,
  scrubTickMs: 1000,
  scrubStepBytesMax: 32 * 1024 * 1024,
  scrubBlockBytesMin: 16 * 1024,
  scrubBusyTicksMax: 9,
  dropProtectMs: 60_000,
  surplusConfirmTimeoutMs: 5000,
  surplusChecksMax: 256,
  orphanGraceMs: 60 * 60 * 1000,
  orphanSweepIntervalMs: 5 * 60 * 1000,
  orphansTrackedMax: 1_000_000,
  orphanSweepSliceBlocks: 20_000,
  packBytesMax: packBytesMaxDefault,
  compactIntervalMs: 1000,
} satisfies Partial<BlockActorOptions>;

/** Local message from the node's metadata actor: the log forgot these blocks, so drop their copies here. */
export interface BlocksDropMessage {
  type: 'blocks.drop';
  hashes: BlockHash[];
}

type ResolvedOptions = Required<BlockActorOptions>;

/** Concurrent writes of one block share a storage put; this bounds who may wait on it. */
const waitersPerWriteMax = 64;
const registerBackoffMsMax = 5000;
/** Recent writes remembered to protect them from a GC drop decided before they happened. */
const recentWritesMax = 100_000;
/** Between two slices of an orphan sweep: 20,000 files a slice take about 12 ms (measured), so a million are done in 5 s. */
const orphanSweepStepMs = 100;

export class BlockActor implements Actor {
  private readonly options: ResolvedOptions;
  private readonly store: BlockStore;
  private readonly register: RegisterBatcher;
  private readonly puts: BlockPuts;
  private readonly gets: BlockGets;
  private readonly placement: Placement;
  private readonly repairer: Repairer;
  private readonly scrubber: Scrubber;
  private readonly releaser: RegisterBatcher;
  private readonly surplus: SurplusDropper;
  private readonly orphans: OrphanSweeper | null;
  private readonly recentWrites = new Map<BlockHash, number>();
  /** Corrupt or missing copies replaced from another owner when a read found them. */
  readRepairs = 0;
  private nextRequestId = 1;
  private statsSent = { blocks: -1, bytes: -1 };
  private statsTimerArmed = false;
  private compactTimerArmed = false;

  constructor(private readonly env: Env, options: BlockActorOptions) {
    this.options = { ...blockActorDefaults, ...withoutUndefined(options) } as ResolvedOptions;
    const o = this.options;
    if (!Number.isInteger(o.replication) || o.replication < 1) throw new RangeError(`replication must be a positive integer, got ${o.replication}`);
    const replication = Math.max(1, Math.min(o.replication, new Set(o.nodes).size));
    this.placement = new Placement(o.nodes, o.virtualNodes, replication, o.directory);
    const nextId = () => this.nextRequestId++;
    const suspects = new Suspects(o.suspectMs);
    this.store = new BlockStore(env.storage, { node: o.node, sha256: o.sha256, writesInFlightMax: o.writesInFlightMax, waitersPerWriteMax, packBytesMax: o.packBytesMax });
    this.register = this.batcher('blocks.register', o.putsInFlightMax + o.repairsInFlightMax, nextId);
    this.releaser = this.batcher('blocks.release', o.surplusChecksMax, nextId);
    const putOptions = {
      node: o.node,
      replication,
      replicateTimeoutMs: o.replicateTimeoutMs,
      putsInFlightMax: o.putsInFlightMax,
      putBytesInFlightMax: o.putBytesInFlightMax,
      replicateBatchBytesMax: o.replicateBatchBytesMax,
    };
    this.puts = new BlockPuts(env, putOptions, this.placement, this.store, suspects, this.register, nextId);
    this.gets = new BlockGets(env, { node: o.node, sha256: o.sha256, fetchTimeoutMs: o.replicateTimeoutMs, getsInFlightMax: o.getsInFlightMax }, this.getSources(), this.store, suspects, nextId);
    const repairOptions = {
      node: o.node,
      sha256: o.sha256,
      repairBytesPerSecond: o.repairBytesPerSecond,
      repairsInFlightMax: o.repairsInFlightMax,
      repairQueueMax: o.repairQueueMax,
      fetchTimeoutMs: o.replicateTimeoutMs,
      scanIntervalMs: o.repairScanIntervalMs,
      fullScanIntervalMs: o.repairFullScanIntervalMs,
      scanSliceBlocks: o.repairScanSliceBlocks,
      startupChecksMs: o.repairStartupChecksMs,
    };
    const surplusOptions = { node: o.node, confirmTimeoutMs: o.surplusConfirmTimeoutMs, checksMax: o.surplusChecksMax };
    const mayDrop = (hash: BlockHash, sinceMs: number) => !this.busy(hash, false) && (this.recentWrites.get(hash) ?? -Infinity) < sinceMs;
    // A surplus check that gave up is tried again once its owners had time to catch up,
    // not only at the next scan of every block, a minute on.
    this.surplus = new SurplusDropper(env, surplusOptions, this.placement, this.store, this.releaser, nextId, mayDrop, () => this.noticeStats(), () => this.repairer.rescanIn(o.surplusConfirmTimeoutMs));
    const onSurplus = (hash: BlockHash, size: number, targets: NodeId[]) => void this.surplus.consider(hash, size, targets);
    this.repairer = new Repairer(env, repairOptions, o.directory, this.placement, this.store, this.register, nextId, onSurplus);
    const orphanOptions = { node: o.node, orphanGraceMs: o.orphanGraceMs, orphansTrackedMax: o.orphansTrackedMax, sliceBlocks: o.orphanSweepSliceBlocks };
    this.orphans = o.directory === null || o.orphanSweepIntervalMs <= 0 ? null : new OrphanSweeper(orphanOptions, o.directory, this.store, (hash) => this.busy(hash, true));
    if (this.orphans !== null) env.timer(o.orphanSweepIntervalMs, { type: 'blocks.orphan-sweep' } satisfies BlockInternalMessage);
    const scrubOptions = { node: o.node, scrubBytesPerSecond: o.scrubBytesPerSecond, scrubTickMs: o.scrubTickMs, stepBytesMax: o.scrubStepBytesMax, blockBytesMin: o.scrubBlockBytesMin, busyTicksMax: o.scrubBusyTicksMax };
    this.scrubber = new Scrubber(env, scrubOptions, o.directory, this.placement, this.store, this.repairer);
    if (o.directory !== null) env.timer(o.repairTickMs, { type: 'blocks.repair-tick' } satisfies BlockInternalMessage);
    this.store.scan();
    env.log('info', 'blocks.started', { node: o.node, blocks: this.store.blocks, bytes: this.store.bytes, replication });
    // Not sent now: the node's metadata actor may not be listening yet at start-up, and a
    // count it never heard would stay unsent until the count changed.
    this.noticeStats();
  }

  receive(message: unknown): void {
    const type = typeof message === 'object' && message !== null ? (message as { type?: unknown }).type : undefined;
    switch (type) {
      case 'request':
        return this.onRequest(message as RequestMessage);
      case 'response':
        if (!this.register.onResponse(message as ResponseMessage) && !this.releaser.onResponse(message as ResponseMessage)) this.env.log('debug', 'blocks.response-unexpected', { id: (message as ResponseMessage).id });
        return;
      case 'block.replicate':
        return this.onReplicate(message as Extract<BlockPeerMessage, { type: 'block.replicate' }>);
      case 'block.replicated':
        return this.puts.onReplicated(message as Extract<BlockPeerMessage, { type: 'block.replicated' }>);
      case 'block.fetch':
        return this.onFetch(message as Extract<BlockPeerMessage, { type: 'block.fetch' }>);
      case 'block.fetched':
        if (this.repairer.onFetched(message as Extract<BlockPeerMessage, { type: 'block.fetched' }>)) return;
        return this.gets.onFetched(message as Extract<BlockPeerMessage, { type: 'block.fetched' }>);
      case 'block.confirm':
        return this.surplus.answer(message as Extract<BlockPeerMessage, { type: 'block.confirm' }>);
      case 'block.confirmed':
        if (!this.surplus.onConfirmed(message as Extract<BlockPeerMessage, { type: 'block.confirmed' }>)) this.env.log('debug', 'blocks.confirmed-unexpected', {});
        return;
      case 'blocks.drop':
        return this.onDrop(message as BlocksDropMessage);
      case 'storage.failed':
        return this.onStorageFailed(message as StorageFailedMessage);
      default:
        return this.onInternal(message as BlockInternalMessage);
    }
  }

  /** Registration batches go out once per mailbox drain, so a burst of stored blocks shares one. */
  drained(): void {
    this.repairer.pump();
    this.puts.flush();
    this.register.flush();
    this.releaser.flush();
  }

  /** Surplus copies given up and orphan files deleted since start, for metrics. */
  get cleanupStats(): { surplusDropped: number; orphansDeleted: number } {
    return { surplusDropped: this.surplus.dropped, orphansDeleted: this.orphans?.deleted ?? 0 };
  }

  /** Registers stored blocks (`blocks.register`) or releases surplus copies (`blocks.release`) through the log. */
  private batcher(op: 'blocks.register' | 'blocks.release', queueMax: number, nextId: () => number): RegisterBatcher {
    const o = this.options;
    const options = {
      op,
      metadata: o.node,
      // A fresh session per incarnation: after a restart the seq counts from 1 again, which
      // the old session would refuse as stale.
      client: `${this.env.self}#${op === 'blocks.release' ? 'r' : ''}${Math.floor(this.env.random() * 2 ** 48).toString(36)}`,
      timeoutMs: o.registerTimeoutMs,
      backoffMs: o.registerBackoffMs,
      backoffMsMax: registerBackoffMsMax,
      retriesMax: o.registerRetriesMax,
      batchBlocksMax: o.registerBatchBlocksMax,
      queueMax,
    };
    return new RegisterBatcher(this.env, options, nextId);
  }

  // Whether a copy here is in use: being written, copied, or (when `surplusToo`) given up.
  private busy(hash: BlockHash, surplusToo: boolean): boolean {
    return this.puts.busy(hash) || this.repairer.busy(hash) || (surplusToo && this.surplus.busy(hash));
  }

  /** Re-replication and repair counters, for metrics. */
  get repairStats(): RepairStats {
    return this.repairer.stats;
  }

  /** Scrub totals since start, for metrics. */
  get scrubStats(): ScrubStats {
    return { ...this.scrubber.totals };
  }

  private getSources(): GetSources {
    return {
      preference: (hash) => this.placement.preference(hash),
      owners: (hash) => this.options.directory?.block(hash)?.owners.filter((node) => this.placement.isLive(node)) ?? null,
      repairLocal: (hash, data) => {
        const start = this.store.write(hash, data, (outcome) => {
          if (outcome.ok) this.readRepairs++;
        });
        if (start !== 'overloaded') this.env.log('warn', 'blocks.read-repair', { hash, node: this.options.node });
      },
    };
  }

  // GC forgot these blocks. Copies being written or copied right now are kept: the log
  // decided before they arrived, and their registration will name them again.
  private onDrop(message: BlocksDropMessage): void {
    const cutoff = this.env.now() - this.options.dropProtectMs;
    let dropped = 0;
    for (const hash of message.hashes) {
      const writtenAt = this.recentWrites.get(hash);
      if (this.puts.busy(hash) || this.repairer.busy(hash) || (writtenAt !== undefined && writtenAt > cutoff)) continue;
      if (this.store.remove(hash)) dropped++;
    }
    if (dropped > 0) {
      this.env.log('info', 'blocks.dropped', { node: this.options.node, dropped });
      this.noticeStats();
    }
  }

  private onInternal(message: BlockInternalMessage): void {
    switch (message?.type) {
      case 'blocks.read-done':
        if (message.error !== undefined) this.env.log('warn', 'blocks.read-failed', { error: message.error });
        return this.store.onReadDone(message);
      case 'blocks.pack-synced':
        for (const hash of this.store.onSynced(message)) this.rememberWrite(hash);
        return this.noticeStats();
      case 'blocks.compact-tick':
        this.compactTimerArmed = false;
        // The pack is read off the thread; the next turn is armed once its copies are queued.
        if (!this.store.compactOne(() => this.armCompaction())) this.armCompaction();
        return;
      case 'blocks.repair-tick':
        this.env.timer(this.options.repairTickMs, { type: 'blocks.repair-tick' } satisfies BlockInternalMessage);
        return this.repairer.tick();
      case 'blocks.repair-pump':
        return this.repairer.onPumpDue();
      case 'blocks.repair-fetch-timeout':
        return this.repairer.onFetchTimeout(message);
      case 'blocks.surplus-timeout':
        return this.surplus.onTimeout(message);
      case 'blocks.orphan-sweep':
        return this.sweepOrphans();
      case 'blocks.orphan-step':
        return this.stepOrphanSweep();
      case 'blocks.scrub-tick':
        return this.scrubber.onTick();
      case 'blocks.scrub-step':
        return this.scrubber.step(message.pass);
      case 'blocks.replicate-timeout':
        return this.puts.onReplicateTimeout(message);
      case 'blocks.fetch-timeout':
        return this.gets.onFetchTimeout(message);
      case 'blocks.register-timeout':
      case 'blocks.register-retry':
        return this.register.onTimer(message);
      case 'blocks.stats-due':
        this.statsTimerArmed = false;
        return this.sendStats();
      default:
        this.env.log('debug', 'blocks.unknown-message', { type: String((message as { type?: unknown } | null)?.type) });
    }
  }

  private onRequest(message: RequestMessage): void {
    const request = message.request;
    if (request?.op === 'blocks.put' || request?.op === 'blocks.put-many' || request?.op === 'blocks.get') this.scrubber.noteBusy();
    if (request?.op === 'blocks.put') {
      const refusal = this.checkBlock(request.hash, request.data);
      if (refusal) return respond(this.env, message.from, message.id, { ok: false, error: refusal });
      return this.puts.put(request.hash, request.data, (result) => respond(this.env, message.from, message.id, result.ok ? { ok: true, result: { replicas: result.replicas } } : result));
    }
    if (request?.op === 'blocks.put-many') return this.putMany(message, request.blocks);
    if (request?.op === 'blocks.get') {
      if (!isBlockHash(request.hash)) return respond(this.env, message.from, message.id, { ok: false, error: badHash(request.hash) });
      return this.gets.get(message.from, message.id, request.hash);
    }
    if (request?.op === 'admin.scrub') {
      const started = this.scrubber.runPass((report) => respond(this.env, message.from, message.id, { ok: true, result: report }));
      if (!started) respond(this.env, message.from, message.id, { ok: false, error: raftboxError('overloaded', `node ${this.options.node} is already running a scrub pass; retry when it finishes`) });
      return;
    }
    const error = raftboxError('bad_message', `the block actor of node ${this.options.node} serves blocks.put, blocks.put-many and blocks.get, not '${String(request?.op)}'`);
    respond(this.env, message.from, message.id, { ok: false, error });
  }

  // A block must be named right, fit the limit, and hash to its name.
  private checkBlock(hash: unknown, data: unknown): RaftboxError | null {
    if (!isBlockHash(hash)) return badHash(hash);
    if (!(data instanceof Uint8Array)) return raftboxError('bad_message', `block ${hash} carries no bytes`);
    if (data.byteLength > blockBytesMax) return raftboxError('bad_message', `block ${hash} is ${data.byteLength} bytes; a block is at most ${blockBytesMax} bytes`);
    const actual = this.options.sha256(data);
    if (actual !== hash) return raftboxError('hash_mismatch', `the ${data.byteLength} bytes sent as block ${hash} hash to ${actual}; send the bytes that match the name`, { expected: hash, actual });
    return null;
  }

  // Each block of the batch is checked and stored on its own; one answer carries every outcome.
  private putMany(message: RequestMessage, blocks: BlockUpload[]): void {
    const settle = gather<PutOutcome>(blocks.length, (outcomes) => respond(this.env, message.from, message.id, { ok: true, result: { outcomes } }));
    blocks.forEach(({ hash, data }, index) => {
      const refusal = this.checkBlock(hash, data);
      if (refusal) return settle(index, { error: wireError(refusal) });
      this.puts.put(hash, data, (result) => settle(index, result.ok ? { replicas: result.replicas } : { error: wireError(result.error) }));
    });
  }

  private onReplicate(message: Extract<BlockPeerMessage, { type: 'block.replicate' }>): void {
    this.scrubber.noteBusy();
    const answer = (outcomes: ReplicaOutcome[]) => this.env.send(message.from, { type: 'block.replicated', from: this.env.self, id: message.id, outcomes } satisfies BlockPeerMessage);
    const gathered = gather<ReplicaOutcome>(message.blocks.length, answer);
    const settle = (index: number, outcome: { ok: true } | { ok: false; error: RaftboxError }) => gathered(index, outcome.ok ? { ok: true } : { ok: false, error: wireError(outcome.error) });
    message.blocks.forEach(({ hash, data }, index) => {
      const refusal = this.checkBlock(hash, data);
      if (refusal) return settle(index, { ok: false, error: refusal });
      const start = this.store.write(hash, data, (outcome) => settle(index, outcome));
      if (start === 'present') settle(index, { ok: true });
      if (start === 'overloaded') settle(index, { ok: false, error: raftboxError('overloaded', `node ${this.options.node} has too many block writes in flight`) });
    });
  }

  private onFetch(message: Extract<BlockPeerMessage, { type: 'block.fetch' }>): void {
    const answer = (local: LocalRead): void => {
      if (local.state === 'corrupt') this.env.log('warn', 'blocks.corrupt', { hash: message.hash, node: this.options.node, size: local.size });
      this.env.send(message.from, { type: 'block.fetched', from: this.env.self, id: message.id, data: local.state === 'ok' ? local.data : null } satisfies BlockPeerMessage);
    };
    if (!isBlockHash(message.hash)) return answer({ state: 'missing' });
    this.store.readLater(message.hash, answer);
  }

  private onStorageFailed(message: StorageFailedMessage): void {
    const done = message.done as PackSyncedMessage | null;
    if (done?.type !== 'blocks.pack-synced') return this.env.log('debug', 'blocks.storage-failed-unknown', { code: message.code });
    this.env.log('error', 'blocks.write-failed', { pack: done.pack, code: message.code, message: message.message });
    this.store.onFailed(message);
  }

  private sweepOrphans(): void {
    this.env.timer(this.options.orphanSweepIntervalMs, { type: 'blocks.orphan-sweep' } satisfies BlockInternalMessage);
    // A pass still under way when the next is due (a huge store, a short interval) just goes on.
    if (this.orphans!.sweeping) return;
    this.orphans!.begin();
    this.stepOrphanSweep();
  }

  private stepOrphanSweep(): void {
    const deleted = this.orphans!.step(this.env.now());
    if (this.orphans!.sweeping) this.env.timer(orphanSweepStepMs, { type: 'blocks.orphan-step' } satisfies BlockInternalMessage);
    if (deleted === 0) return;
    this.env.log('info', 'blocks.orphans-deleted', { node: this.options.node, deleted });
    this.noticeStats();
  }

  private rememberWrite(hash: BlockHash): void {
    this.recentWrites.delete(hash);
    this.recentWrites.set(hash, this.env.now());
    if (this.recentWrites.size > recentWritesMax) this.recentWrites.delete(this.recentWrites.keys().next().value as BlockHash);
  }

  // A pack worth compacting is looked at one interval later, one pack per interval, so
  // compaction never competes with a burst of writes for long.
  private armCompaction(): void {
    if (this.compactTimerArmed || this.options.compactIntervalMs <= 0 || !this.store.compactionDue()) return;
    this.compactTimerArmed = true;
    this.env.timer(this.options.compactIntervalMs, { type: 'blocks.compact-tick' } satisfies BlockInternalMessage);
  }

  // Counts go to the metadata actor at most once per interval, and only when they changed.
  private noticeStats(): void {
    this.armCompaction();
    if (this.statsTimerArmed) return;
    this.statsTimerArmed = true;
    this.env.timer(this.options.statsIntervalMs, { type: 'blocks.stats-due' } satisfies BlockInternalMessage);
  }

  private sendStats(): void {
    const { blocks, bytes } = this.store;
    if (blocks === this.statsSent.blocks && bytes === this.statsSent.bytes) return;
    this.statsSent = { blocks, bytes };
    this.env.send(this.options.node, { type: 'blocks.stats', blocks, bytes } satisfies BlockStatsMessage);
  }
}

/** Collects one outcome per item, in item order, and hands them to `done` once the last arrives (at once when there are none). */
function gather<T>(count: number, done: (outcomes: T[]) => void): (index: number, outcome: T) => void {
  const outcomes: T[] = new Array(count);
  let remaining = count;
  if (count === 0) done(outcomes);
  return (index, outcome) => {
    outcomes[index] = outcome;
    if (--remaining === 0) done(outcomes);
  };
}

function badHash(hash: unknown): RaftboxError {
  return raftboxError('bad_message', `a block name is 64 lowercase hex characters (its SHA-256), got '${String(hash).slice(0, 80)}'`);
}

function withoutUndefined<T extends object>(value: T): Partial<T> {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as Partial<T>;
}
