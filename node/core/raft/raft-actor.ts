import type { ClusterConfig, ConfigChange, Entry, NodeId, RaftMessage, Snapshot } from '../../../protocol/raft-messages.ts';
import type { Actor } from '../actor/actor.ts';
import type { Env } from '../actor/env.ts';
import { Raft, type ProposeResult, type RaftBug, type RaftOptions } from './raft.ts';
import type { Ready, SoftState } from './ready.ts';
import { Wal } from './wal.ts';
import { raftboxError } from '../../../protocol/errors.ts';
import type { StorageFailedMessage } from '../../../protocol/wire.ts';

/** The application the log drives. It must be deterministic: same entries, same state. */
export interface StateMachine {
  /** Apply one committed `normal` entry; the result goes back to whoever proposed it. */
  apply(entry: Entry): unknown;
  /**
   * Begins a snapshot of the state at the applied index. Each call of the returned step
   * does a bounded share of the encoding and returns null, until one returns the whole
   * snapshot; entries applied between steps must not show in it.
   */
  beginSnapshot(): () => Uint8Array | null;
  /**
   * Begins replacing the state with a snapshot's. Each call of the returned step does a
   * bounded share of the decoding and returns false, until one installs the new state and
   * returns true; until then the state is the old one.
   */
  beginRestore(data: Uint8Array): () => boolean;
}

/** Runs every step of `stateMachine.beginRestore(data)` at once. */
export function restoreAll(stateMachine: StateMachine, data: Uint8Array): void {
  const step = stateMachine.beginRestore(data);
  while (!step()) {
    // Each step decodes a bounded share.
  }
}

/** Why a proposal or read failed. `unknown` means the command may still commit: retry with the same session sequence. */
export interface RaftFailure {
  code: 'not_leader' | 'unavailable' | 'unknown' | 'bad_config';
  message: string;
  leader: NodeId | null;
}

export type ProposeCallback = (outcome: { ok: true; result: unknown; index: number } | { ok: false; failure: RaftFailure }) => void;
export type ReadCallback = (outcome: { ok: true; index: number } | { ok: false; failure: RaftFailure }) => void;

/** Handles messages that are not Raft's own (client requests), with the actor at hand. */
export type ServiceHandler = (message: unknown, raft: RaftActor) => void;

export interface RaftActorOptions {
  id: NodeId;
  /** Voters of a new cluster; empty for a node that joins an existing one. */
  initialVoters: NodeId[];
  tickMs: number;
  electionTicks: number;
  heartbeatTicks: number;
  preVote: boolean;
  checkQuorum: boolean;
  appendBytesMax: number;
  inflightMessagesMax: number;
  inflightBytesMax: number;
  /** Take a snapshot and compact the log once at least this many entries were applied since the last one (up to twice as many on other members: see compactionSpread)... */
  snapshotEntries: number;
  /**
   * ...and once those entries' bytes add up to at least this share of the last snapshot's
   * size. A snapshot writes the whole state, so a fixed interval would make each write
   * pay more as the state grows; this keeps the snapshot cost per byte written constant
   * (Redis rewrites its append-only file on the same rule), and bounds the log held in
   * memory to about the state's size. 0 counts entries alone.
   */
  snapshotLogRatio: number;
  segmentBytesMax: number;
  bug?: RaftBug;
}

export const defaultRaftActorOptions: Omit<RaftActorOptions, 'id' | 'initialVoters'> = {
  tickMs: 10,
  electionTicks: 30,
  heartbeatTicks: 10,
  preVote: true,
  checkQuorum: true,
  appendBytesMax: 1024 * 1024,
  inflightMessagesMax: 256,
  inflightBytesMax: 16 * 1024 * 1024,
  snapshotEntries: 10_000,
  snapshotLogRatio: 1,
  segmentBytesMax: 64 * 1024 * 1024,
};

type Internal =
  | { type: 'raft.tick' }
  | { type: 'raft.persisted'; step: 'snapshot' | 'log' }
  | { type: 'raft.compacted' }
  | { type: 'raft.snapshot-step'; generation: number }
  | { type: 'raft.restore-step' }
  | { type: 'storage.failed' };

const RAFT_TYPES = new Set(['vote', 'voteResponse', 'append', 'appendResponse', 'heartbeat', 'heartbeatResponse', 'snapshot', 'timeoutNow']);

function sentEarly(message: RaftMessage): boolean {
  return message.type === 'append' || message.type === 'heartbeat';
}

export function isRaftMessage(message: unknown): message is RaftMessage {
  return typeof message === 'object' && message !== null && RAFT_TYPES.has((message as { type?: unknown }).type as string);
}

/**
 * Runs a Raft node inside an actor. Log work is a strict pipeline, one Ready at a time:
 * a Ready batch is persisted (snapshot file, then log records and one sync), then its
 * messages are sent, its entries applied, and `advance` called. Messages that arrive
 * meanwhile are stepped into Raft and leave with the next batch, which gives group
 * commit: one sync covers everything that piled up during the previous one.
 *
 * A compaction's snapshot is saved beside that pipeline, not in it: writing and syncing
 * a large state takes long, and the log must keep taking writes meanwhile. The log is
 * compacted once the snapshot is durable.
 */
export class RaftActor implements Actor {
  readonly raft: Raft;
  private readonly wal: Wal;
  /** The Ready being persisted, sent and applied. */
  private inFlight: Ready | null = null;
  /**
   * A snapshot for compaction being encoded, a step per timer turn so the node keeps
   * serving meanwhile; `data` is set once done, and then it is saved.
   */
  private compaction: { generation: number; snapshot: Omit<Snapshot, 'data'>; step: () => Uint8Array | null; data: Uint8Array | null } | null = null;
  private compactionGeneration = 0;
  /** A compaction's snapshot on its way to disk, while Readies go on. */
  private savingCompaction: Snapshot | null = null;
  /** Size of the newest snapshot, and the bytes of entries applied after its point: see `snapshotLogRatio`. */
  private snapshotBytes = 0;
  private bytesAppliedSinceSnapshot = 0;
  /** compactionSpread's answer for the configuration it was worked out from. */
  private spread: { config: ClusterConfig; factor: number } | null = null;
  /** A snapshot from the leader being installed into the state machine, a step per timer turn; the Ready that brought it waits. */
  private restoring: { ready: Ready; snapshot: Snapshot; step: () => boolean } | null = null;
  private proposals = new Map<number, { term: number; callback: ProposeCallback }>();
  private reads = new Map<number, ReadCallback>();
  private confirmedReads: { index: number; callback: ReadCallback }[] = [];
  private nextReadContext = 1;
  private softState: SoftState;
  private stopped = false;
  /** Term and vote as last written with a sync: a change to either must be durable before anything depends on it. */
  private syncedVote: { term: number; vote: string | null };

  constructor(
    private readonly env: Env,
    private readonly options: RaftActorOptions,
    private readonly stateMachine: StateMachine,
    private readonly service: ServiceHandler | null = null,
  ) {
    this.wal = new Wal(env.storage, options.segmentBytesMax);
    const bootstrap: Snapshot = { index: 0, term: 0, config: { voters: [...options.initialVoters].sort(), learners: [] }, data: new Uint8Array(0) };
    const state = this.wal.recover(bootstrap);
    this.syncedVote = { term: state.hardState.term, vote: state.hardState.vote };
    // Nothing is served before the node starts, so its own snapshot is restored in one go.
    if (state.snapshot.index > 0) restoreAll(stateMachine, state.snapshot.data);
    this.snapshotBytes = state.snapshot.data.byteLength;
    const raftOptions: RaftOptions = { ...options, random: () => env.random() };
    this.raft = new Raft(raftOptions, state);
    this.softState = this.raft.softState();
    env.log('info', 'raft.started', { term: state.hardState.term, snapshot: state.snapshot.index, lastIndex: this.raft.log.lastIndex(), commit: this.raft.log.committed });
    env.timer(options.tickMs, { type: 'raft.tick' } satisfies Internal);
  }

  get id(): NodeId {
    return this.options.id;
  }

  receive(message: unknown): void {
    if (this.stopped) return;
    if (isRaftMessage(message)) return this.raft.step(message);
    const internal = message as Internal;
    switch (internal.type) {
      case 'raft.tick':
        this.raft.tick();
        this.env.timer(this.options.tickMs, { type: 'raft.tick' } satisfies Internal);
        return;
      case 'raft.persisted':
        return this.onPersisted(internal.step);
      case 'raft.compacted':
        return this.onCompacted();
      case 'raft.snapshot-step':
        return this.onSnapshotStep(internal.generation);
      case 'raft.restore-step':
        return this.onRestoreStep();
      case 'storage.failed':
        return this.onStorageFailed(message as unknown as StorageFailedMessage);
      default:
        this.service?.(message, this);
    }
  }

  drained(): void {
    if (this.stopped) return;
    this.noticeSoftState();
    this.pump();
  }

  /** Stop reacting: the host is shutting this node down (or the simulator crashed it). */
  stop(): void {
    this.stopped = true;
  }

  // ---------------------------------------------------------------- API for services

  /** Propose a command; `callback` fires when it is applied, or when it can no longer be. */
  propose(data: Uint8Array, callback: ProposeCallback): void {
    this.track(this.raft.propose(data), callback);
  }

  proposeConfigChange(change: ConfigChange, callback: ProposeCallback): void {
    this.track(this.raft.proposeConfigChange(change), callback);
  }

  /** A linearizable read: `callback` fires once this node's state machine reflects every write acknowledged before the call. */
  read(callback: ReadCallback): void {
    const context = this.nextReadContext++;
    const result = this.raft.readIndex(context);
    if (!result.ok) return callback({ ok: false, failure: this.failure(result) });
    this.reads.set(context, callback);
  }

  /** Send a message to a client or peer on the service's behalf. */
  reply(to: string, message: unknown): void {
    this.env.send(to, message);
  }

  transferLeadership(to: NodeId): ProposeResult {
    return this.raft.transferLeadership(to);
  }

  get leader(): NodeId | null {
    return this.raft.lead;
  }

  get config(): ClusterConfig {
    return this.raft.config;
  }

  // ---------------------------------------------------------------- pipeline

  private pump(): void {
    const log = this.raft.log;
    if (this.compaction?.data && this.savingCompaction === null) this.saveCompaction();
    if (this.inFlight !== null) return;
    if (this.compaction === null && this.savingCompaction === null && log.pendingSnapshot === null && this.compactionDue()) this.beginCompaction();
    // A snapshot from the leader replaces the snapshot file too, so it waits for a compaction's save to land.
    if (log.pendingSnapshot !== null && this.savingCompaction !== null) return;
    if (!this.raft.hasReady()) return;
    const ready = this.raft.ready();
    this.inFlight = ready;
    if (this.options.bug === 'ackBeforePersist') this.sendAll(ready);
    else this.sendLeaderTraffic(ready);
    if (ready.snapshot) return this.wal.saveSnapshot(ready.snapshot, { type: 'raft.persisted', step: 'snapshot' } satisfies Internal);
    this.persistLog(ready);
  }

  private persistLog(ready: Ready): void {
    if (ready.snapshot === null && ready.entries.length === 0 && ready.hardState === null) return this.onPersisted('log');
    const vote = ready.hardState ?? this.syncedVote;
    if (ready.snapshot === null && ready.entries.length === 0 && vote.term === this.syncedVote.term && vote.vote === this.syncedVote.vote) {
      // Only the commit index moved. It need not be durable (a restarted node relearns it
      // from the leader, as etcd's MustSync also reasons), so nothing is written: the next
      // batch with entries or a new term carries it, and applying does not wait for a sync.
      return this.onPersisted('log');
    }
    this.wal.append(ready.snapshot, ready.entries, ready.hardState);
    this.syncedVote = { term: vote.term, vote: vote.vote };
    this.wal.sync({ type: 'raft.persisted', step: 'log' } satisfies Internal);
  }

  private onPersisted(step: 'snapshot' | 'log'): void {
    const ready = this.inFlight;
    if (!ready) return;
    if (step === 'snapshot') return this.persistLog(ready);
    if (this.options.bug !== 'ackBeforePersist') this.sendRest(ready);
    if (ready.snapshot) return this.beginRestore(ready, ready.snapshot);
    this.finishReady(ready);
  }

  /** Applies a persisted Ready's committed entries, serves its reads and moves Raft on to the next. */
  private finishReady(ready: Ready): void {
    for (const entry of ready.committedEntries) this.applyEntry(entry);
    for (const state of ready.readStates) {
      const callback = this.reads.get(state.context);
      this.reads.delete(state.context);
      if (callback) this.confirmedReads.push({ index: state.index, callback });
    }
    this.raft.advance(ready);
    this.inFlight = null;
    this.serveConfirmedReads();
    this.noticeSoftState();
    this.pump();
  }

  private sendAll(ready: Ready): void {
    for (const message of ready.messages) this.env.send(message.to, message);
  }

  /**
   * A leader's appends and heartbeats leave before its own write of the same entries
   * (Raft dissertation §10.2.1): they promise nothing about this node's disk, and the
   * leader counts itself toward a quorum only once the write is durable (at advance). So
   * the leader's sync overlaps the followers' round trip instead of preceding it.
   * Everything that does depend on our disk (votes, append responses) waits.
   */
  private sendLeaderTraffic(ready: Ready): void {
    for (const message of ready.messages) if (sentEarly(message)) this.env.send(message.to, message);
  }

  private sendRest(ready: Ready): void {
    for (const message of ready.messages) if (!sentEarly(message)) this.env.send(message.to, message);
  }

  /**
   * Installs a snapshot from the leader, a step per timer turn: decoding a large one at
   * once would stall the node for seconds. It is already durable, so a crash meanwhile
   * restarts from it; the Ready that brought it is finished once it is installed.
   */
  private beginRestore(ready: Ready, snapshot: Snapshot): void {
    // A compaction being encoded describes the state this snapshot replaces.
    this.compaction = null;
    this.restoring = { ready, snapshot, step: this.stateMachine.beginRestore(snapshot.data) };
    this.onRestoreStep();
  }

  private onRestoreStep(): void {
    const restoring = this.restoring;
    if (restoring === null) return;
    if (!restoring.step()) {
      this.env.timer(0, { type: 'raft.restore-step' } satisfies Internal);
      return;
    }
    this.restoring = null;
    const { ready, snapshot } = restoring;
    this.snapshotBytes = snapshot.data.byteLength;
    this.bytesAppliedSinceSnapshot = 0;
    this.env.log('info', 'raft.snapshotRestored', { index: snapshot.index, term: snapshot.term });
    for (const [index, proposal] of this.proposals) {
      if (index > snapshot.index) continue;
      // Our proposal may or may not be inside the snapshot: its outcome is unknown here.
      this.proposals.delete(index);
      proposal.callback({ ok: false, failure: { code: 'unknown', message: 'the command was superseded by a snapshot; retry it with the same session sequence', leader: this.raft.lead } });
    }
    this.finishReady(ready);
  }

  private applyEntry(entry: Entry): void {
    if (entry.index <= this.raft.log.applied) return;
    this.bytesAppliedSinceSnapshot += entry.data.byteLength;
    const result = entry.type === 'normal' ? this.stateMachine.apply(entry) : undefined;
    const proposal = this.proposals.get(entry.index);
    if (!proposal) return;
    this.proposals.delete(entry.index);
    if (proposal.term === entry.term) proposal.callback({ ok: true, result, index: entry.index });
    else proposal.callback({ ok: false, failure: { code: 'unknown', message: 'leadership changed before the command committed; retry it with the same session sequence', leader: this.raft.lead } });
  }

  private serveConfirmedReads(): void {
    const applied = this.raft.log.applied;
    this.confirmedReads = this.confirmedReads.filter((read) => {
      if (read.index > applied) return true;
      read.callback({ ok: true, index: read.index });
      return false;
    });
  }

  private compactionDue(): boolean {
    const log = this.raft.log;
    const entries = log.applied - log.snapshot.index;
    if (entries < this.options.snapshotEntries || this.bytesAppliedSinceSnapshot < this.snapshotBytes * this.options.snapshotLogRatio) return false;
    return entries >= this.options.snapshotEntries * this.compactionSpread();
  }

  /**
   * How much later than `snapshotEntries` this node takes its snapshot: 1 for the first
   * member in id order, up to nearly 2 for the last. Every replica applies the same
   * entries, so with one threshold they would all encode and save a snapshot at the same
   * moment, and every quorum would be slow together (measured: a 64-client write load lost
   * up to a third of its throughput in that second, its p99 went from about 30 to 100-200
   * ms). Spread out, one slow node at a time leaves a quorum at full speed. Later
   * snapshots keep the offset: each comes once the log has grown by the node's own last
   * snapshot size.
   */
  private compactionSpread(): number {
    const config = this.raft.config;
    if (this.spread?.config !== config) {
      const members = [...config.voters, ...config.learners].sort();
      const rank = members.indexOf(this.options.id);
      this.spread = { config, factor: rank <= 0 ? 1 : 1 + rank / members.length };
    }
    return this.spread.factor;
  }

  private beginCompaction(): void {
    this.bytesAppliedSinceSnapshot = 0;
    const generation = ++this.compactionGeneration;
    this.compaction = { generation, snapshot: this.raft.snapshotPoint(), step: this.stateMachine.beginSnapshot(), data: null };
    this.onSnapshotStep(generation);
  }

  // One step per timer turn: sockets, disk completions and Raft ticks are served between them.
  private onSnapshotStep(generation: number): void {
    const compaction = this.compaction;
    if (compaction === null || compaction.generation !== generation || compaction.data !== null) return;
    compaction.data = compaction.step();
    if (compaction.data === null) this.env.timer(0, { type: 'raft.snapshot-step', generation } satisfies Internal);
    else this.snapshotBytes = compaction.data.byteLength;
  }

  private saveCompaction(): void {
    const { snapshot, data } = this.compaction!;
    this.compaction = null;
    // A snapshot installed from the leader meanwhile may already cover this one.
    if (snapshot.index <= this.raft.log.snapshot.index) return;
    this.savingCompaction = { ...snapshot, data: data! };
    this.wal.saveSnapshot(this.savingCompaction, { type: 'raft.compacted' } satisfies Internal);
  }

  private onCompacted(): void {
    const snapshot = this.savingCompaction;
    if (!snapshot) return;
    this.savingCompaction = null;
    if (snapshot.index > this.raft.log.snapshot.index) {
      this.raft.compact(snapshot);
      this.wal.dropCoveredSegments(snapshot.index);
      this.env.log('debug', 'raft.compacted', { index: snapshot.index });
    }
    this.pump();
  }

  /**
   * A log or snapshot write failed, so what Raft believes is on disk may not be. Going on
   * could acknowledge a write that a restart forgets, so the node stops (as etcd does);
   * the host turns the error into an exit with its sentence. Restarting once the disk has
   * room recovers from the log as it was last synced.
   */
  private onStorageFailed(failure: StorageFailedMessage): void {
    this.stopped = true;
    const code = failure.code === 'disk_full' ? 'disk_full' : 'internal';
    throw raftboxError(code, `node ${this.options.id} stopped because its Raft log could not be written: ${failure.message}`);
  }

  // ---------------------------------------------------------------- bookkeeping

  private track(result: ProposeResult, callback: ProposeCallback): void {
    if (!result.ok) return callback({ ok: false, failure: this.failure(result) });
    this.proposals.set(result.index, { term: result.term, callback });
  }

  private failure(result: Extract<ProposeResult, { ok: false }>): RaftFailure {
    const code = result.reason === 'notLeader' ? 'not_leader' : result.reason === 'badConfig' ? 'bad_config' : 'unavailable';
    return { code, message: result.message, leader: this.raft.lead };
  }

  /** Log role changes, and fail what only a leader could finish once we are not one. */
  private noticeSoftState(): void {
    const now = this.raft.softState();
    const before = this.softState;
    if (now.role === before.role && now.lead === before.lead && now.term === before.term) return;
    this.softState = now;
    this.env.log('info', 'raft.role', { role: now.role, term: now.term, leader: now.lead });
    if (before.role !== 'leader' || (now.role === 'leader' && now.term === before.term)) return;
    const failure: RaftFailure = { code: 'unknown', message: 'this node lost leadership; the command may still commit, so retry it with the same session sequence', leader: now.lead };
    for (const proposal of this.proposals.values()) proposal.callback({ ok: false, failure });
    this.proposals.clear();
    const readFailure: RaftFailure = { code: 'not_leader', message: 'this node lost leadership before the read was confirmed; retry at the new leader', leader: now.lead };
    for (const callback of this.reads.values()) callback({ ok: false, failure: readFailure });
    this.reads.clear();
    // Reads a quorum already confirmed stay valid: they are served once applied.
  }
}
