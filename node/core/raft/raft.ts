import type {
  AppendRequest,
  AppendResponse,
  ClusterConfig,
  ConfigChange,
  Entry,
  HardState,
  HeartbeatRequest,
  HeartbeatResponse,
  InstallSnapshot,
  NodeId,
  RaftMessage,
  Snapshot,
  VoteRequest,
} from '../../../protocol/raft-messages.ts';
import { assert } from './assert.ts';
import { applyChange, decodeConfig, encodeConfig, quorumSize } from './config.ts';
import { Progress } from './progress.ts';
import { RaftLog } from './raft-log.ts';
import type { ReadState, Ready, Role, SoftState } from './ready.ts';

/**
 * Deliberately wrong behaviours, for the checker self-tests only: each must be caught by
 * the simulator's checkers. Never set outside tests.
 */
export type RaftBug = 'commitEarlierTerm' | 'forgetVote' | 'ackBeforePersist';

export interface RaftOptions {
  id: NodeId;
  /** Base election timeout in ticks; each node randomizes it in [base, 2·base). */
  electionTicks: number;
  heartbeatTicks: number;
  preVote: boolean;
  checkQuorum: boolean;
  /** A float in [0, 1); seeded in the simulator. */
  random: () => number;
  appendBytesMax: number;
  inflightMessagesMax: number;
  inflightBytesMax: number;
  bug?: RaftBug;
}

/** What a node recovers from stable storage at start. */
export interface RaftState {
  hardState: HardState;
  snapshot: Snapshot;
  entries: Entry[];
}

export type ProposeResult = { ok: true; index: number; term: number } | { ok: false; reason: 'notLeader' | 'transferring' | 'configPending' | 'badConfig'; message: string };

/**
 * The Raft protocol as a pure object, after etcd's raft package: `step` and `tick` change
 * state and queue work; `ready` hands the work out as one batch; `advance` acknowledges
 * it. It never touches the clock, the network or the disk.
 */
export class Raft {
  readonly id: NodeId;
  term: number;
  vote: NodeId | null;
  lead: NodeId | null = null;
  role: Role = 'follower';
  readonly log: RaftLog;
  config: ClusterConfig;
  private progress = new Map<NodeId, Progress>();
  private votes = new Map<NodeId, boolean>();
  private electionElapsed = 0;
  private heartbeatElapsed = 0;
  private randomizedElectionTicks = 0;
  private leadTransferee: NodeId | null = null;
  /** Index of the latest configuration entry not yet applied; one change at a time. */
  private pendingConfigIndex = 0;
  private outbox: RaftMessage[] = [];
  private readStates: ReadState[] = [];
  /** Reads waiting for the leader's first commit in its term, or for a quorum of heartbeat acks. */
  private pendingReads: { context: number; index: number; round: number }[] = [];
  private readRound = 0;
  private readRoundAcks = new Map<NodeId, number>();
  private readRoundToBroadcast = false;
  /**
   * Appends owed to followers, sent once per ready() rather than once per proposal or
   * acknowledgement: under load a batch then reaches each follower as one message (and
   * one acknowledgement comes back), instead of one per entry. `commit` also owes an
   * empty append to followers with nothing new, to tell them the commit index moved.
   */
  private appendsOwed: 'entries' | 'commit' | null = null;
  private previousHardState: HardState;
  private previousSoftState: SoftState;
  private readonly options: RaftOptions;

  constructor(options: RaftOptions, state: RaftState) {
    assert(options.heartbeatTicks > 0 && options.electionTicks > options.heartbeatTicks, 'election timeout must exceed the heartbeat interval');
    this.options = options;
    this.id = options.id;
    this.term = state.hardState.term;
    this.vote = options.bug === 'forgetVote' ? null : state.hardState.vote;
    this.log = new RaftLog(state.snapshot, state.entries, state.hardState.commit);
    this.config = state.snapshot.config;
    this.previousHardState = { ...state.hardState };
    this.becomeFollower(this.term, null);
    this.previousSoftState = this.softState();
  }

  // ---------------------------------------------------------------- public input

  /** Advance logical time by one tick: elections on followers, heartbeats and CheckQuorum on leaders. */
  tick(): void {
    if (this.role === 'leader') this.tickLeader();
    else this.tickElection();
  }

  /** The single entry point for messages from peers. */
  step(m: RaftMessage): void {
    if (m.to !== this.id) return;
    if (m.term > this.term) {
      if (m.type === 'vote' && !m.transfer && this.inLease()) return;
      if (m.type === 'vote' && m.preVote) {
        // A pre-vote never changes our term.
      } else if (m.type === 'voteResponse' && m.preVote && m.granted) {
        // We adopt the higher term only when the real election starts.
      } else if (m.type === 'append' || m.type === 'heartbeat' || m.type === 'snapshot') {
        this.becomeFollower(m.term, m.from);
      } else {
        this.becomeFollower(m.term, null);
      }
    } else if (m.term < this.term) {
      if (m.type === 'append' || m.type === 'heartbeat') {
        // Tell a stale leader about the new term so it steps down; without this a node
        // cut off with PreVote on could never disrupt it, and never be told either.
        this.send({ type: 'appendResponse', to: m.from, term: this.term, reject: true, index: 0, hintIndex: 0, hintTerm: 0 });
      } else if (m.type === 'vote' && m.preVote) {
        this.send({ type: 'voteResponse', to: m.from, term: this.term, preVote: true, granted: false });
      }
      return;
    }

    if (m.type === 'vote') return this.handleVoteRequest(m);
    switch (this.role) {
      case 'leader':
        return this.stepLeader(m);
      case 'candidate':
      case 'preCandidate':
        return this.stepCandidate(m);
      case 'follower':
        return this.stepFollower(m);
    }
  }

  /** Append a command to the log, if we lead. The entry is committed later, or lost if leadership is. */
  propose(data: Uint8Array): ProposeResult {
    const refusal = this.refuseProposal();
    if (refusal) return refusal;
    return this.appendEntry('normal', data);
  }

  /** Propose one single-server membership change. Only one may be pending at a time. */
  proposeConfigChange(change: ConfigChange): ProposeResult {
    const refusal = this.refuseProposal();
    if (refusal) return refusal;
    if (this.pendingConfigIndex > this.log.applied) {
      return { ok: false, reason: 'configPending', message: 'another membership change is still in progress; retry when it is applied' };
    }
    const next = applyChange(this.config, change);
    if (typeof next === 'string') return { ok: false, reason: 'badConfig', message: next };
    const result = this.appendEntry('config', encodeConfig(next));
    if (result.ok) this.pendingConfigIndex = result.index;
    return result;
  }

  /**
   * Ask for a linearizable read. `context` comes back in a ReadState once a quorum has
   * confirmed this node still leads; the read is then served at the returned index.
   */
  readIndex(context: number): ProposeResult {
    if (this.role !== 'leader') return this.notLeader();
    // Until an entry of our own term commits, our commit index may lag the true one.
    this.pendingReads.push({ context, index: this.log.committed, round: 0 });
    if (this.committedInTerm()) this.readRoundToBroadcast = true;
    return { ok: true, index: this.log.committed, term: this.term };
  }

  /** Hand leadership to `to` once its log is caught up. */
  transferLeadership(to: NodeId): ProposeResult {
    if (this.role !== 'leader') return this.notLeader();
    if (to === this.id || !this.config.voters.includes(to)) return { ok: false, reason: 'badConfig', message: `${to} is not another voter, so it cannot take over` };
    this.leadTransferee = to;
    this.electionElapsed = 0;
    const pr = this.progress.get(to)!;
    if (pr.match === this.log.lastIndex()) this.send({ type: 'timeoutNow', to, term: this.term });
    else this.sendAppend(to, false);
    return { ok: true, index: this.log.lastIndex(), term: this.term };
  }

  /** Where a snapshot of the state machine taken now stands: the applied index, its term and the configuration as of it. */
  snapshotPoint(): Omit<Snapshot, 'data'> {
    const index = this.log.applied;
    return { index, term: this.log.term(index)!, config: this.config };
  }

  /**
   * Replace the log prefix with a durable snapshot the state machine took at a
   * snapshotPoint, perhaps a while ago: entries applied since stay in the log.
   */
  compact(snapshot: Snapshot): void {
    this.log.compact(snapshot);
  }

  // ---------------------------------------------------------------- output

  hasReady(): boolean {
    return (
      this.outbox.length > 0 ||
      this.readRoundToBroadcast ||
      this.appendsOwed !== null ||
      this.readStates.length > 0 ||
      this.log.pendingSnapshot !== null ||
      this.log.stabled < this.log.lastIndex() ||
      this.log.committed > this.log.applied ||
      !sameHardState(this.hardState(), this.previousHardState) ||
      !sameSoftState(this.softState(), this.previousSoftState)
    );
  }

  /** Take the next batch of work. Call `advance` with it once it is carried out. */
  ready(): Ready {
    if (this.readRoundToBroadcast) this.broadcastReadRound();
    if (this.appendsOwed !== null) this.sendOwedAppends();
    const hardState = this.hardState();
    const softState = this.softState();
    const ready: Ready = {
      snapshot: this.log.pendingSnapshot,
      entries: this.log.unstableEntries(),
      hardState: sameHardState(hardState, this.previousHardState) ? null : hardState,
      messages: this.outbox,
      committedEntries: this.log.committedUnapplied(),
      readStates: this.readStates,
      softState: sameSoftState(softState, this.previousSoftState) ? null : softState,
    };
    this.outbox = [];
    this.readStates = [];
    if (ready.hardState) this.previousHardState = ready.hardState;
    if (ready.softState) this.previousSoftState = ready.softState;
    return ready;
  }

  /** Acknowledge that a batch from `ready` was persisted, sent and applied. */
  advance(ready: Ready): void {
    if (ready.snapshot) {
      if (this.log.pendingSnapshot === ready.snapshot) this.log.pendingSnapshot = null;
      if (ready.snapshot.index > this.log.applied) this.log.applied = ready.snapshot.index;
      this.config = ready.snapshot.config;
      this.syncProgressWithConfig();
    }
    const last = ready.entries[ready.entries.length - 1];
    if (last) this.log.stableTo(last.index, last.term);
    for (const entry of ready.committedEntries) {
      if (entry.index <= this.log.applied) continue;
      if (entry.type === 'config') this.applyConfig(decodeConfig(entry.data), entry.index);
      this.log.appliedTo(entry.index);
    }
    if (this.role === 'leader') {
      // The leader counts its own copy only once it is durable, like any follower's.
      this.progress.get(this.id)?.maybeUpdate(this.log.stabled);
      if (this.maybeCommit()) this.appendsOwed = 'commit';
    }
  }

  hardState(): HardState {
    return { term: this.term, vote: this.vote, commit: this.log.committed };
  }

  softState(): SoftState {
    return { role: this.role, lead: this.lead, term: this.term };
  }

  /** The leader's view of each follower, for status pages and tests. */
  progressOf(id: NodeId): Readonly<Progress> | undefined {
    return this.progress.get(id);
  }

  isVoter(): boolean {
    return this.config.voters.includes(this.id);
  }

  // ---------------------------------------------------------------- roles

  private becomeFollower(term: number, lead: NodeId | null): void {
    this.reset(term);
    this.role = 'follower';
    this.lead = lead;
  }

  private becomePreCandidate(): void {
    assert(this.role !== 'leader', 'a leader does not campaign');
    // A pre-candidate keeps its term and vote: it only asks whether it could win.
    this.votes.clear();
    this.role = 'preCandidate';
    this.lead = null;
  }

  private becomeCandidate(): void {
    assert(this.role !== 'leader', 'a leader does not campaign');
    this.reset(this.term + 1);
    this.vote = this.id;
    this.role = 'candidate';
  }

  private becomeLeader(): void {
    assert(this.role === 'candidate', 'only a candidate becomes leader');
    this.reset(this.term);
    this.role = 'leader';
    this.lead = this.id;
    // Every new leader commits a no-op of its own term: only then can it commit earlier
    // entries (§5.4.2) and serve reads. Treat it as a pending configuration change so no
    // membership change starts before it, which closes the single-server change bug.
    const noop = this.appendEntry('noop', new Uint8Array(0));
    assert(noop.ok, 'the leader can always append its no-op');
    this.pendingConfigIndex = this.log.lastIndex();
  }

  private reset(term: number): void {
    if (this.term !== term) {
      this.term = term;
      this.vote = null;
    }
    this.lead = null;
    this.electionElapsed = 0;
    this.heartbeatElapsed = 0;
    this.randomizedElectionTicks = this.options.electionTicks + Math.floor(this.options.random() * this.options.electionTicks);
    this.votes.clear();
    this.leadTransferee = null;
    this.pendingReads = [];
    this.readRoundAcks.clear();
    this.readRoundToBroadcast = false;
    this.appendsOwed = null;
    this.syncProgressWithConfig(true);
  }

  private syncProgressWithConfig(rebuild = false): void {
    const members = [...this.config.voters, ...this.config.learners];
    if (rebuild) this.progress.clear();
    for (const id of [...this.progress.keys()]) if (!members.includes(id)) this.progress.delete(id);
    for (const id of members) {
      const isLearner = this.config.learners.includes(id);
      const existing = this.progress.get(id);
      if (existing && existing.isLearner === isLearner) continue;
      const pr = new Progress(this.log.lastIndex() + 1, isLearner, this.options);
      if (existing) {
        pr.match = existing.match;
        pr.next = existing.next;
      }
      if (id === this.id) pr.match = this.log.stabled;
      pr.recentActive = true;
      this.progress.set(id, pr);
    }
  }

  private applyConfig(config: ClusterConfig, index: number): void {
    this.config = config;
    this.syncProgressWithConfig();
    if (this.role !== 'leader') return;
    if (!config.voters.includes(this.id)) {
      // A leader removed from the configuration hands over by stepping down; the
      // remaining voters elect a leader after one election timeout.
      this.becomeFollower(this.term, null);
      return;
    }
    if (this.leadTransferee !== null && !config.voters.includes(this.leadTransferee)) this.leadTransferee = null;
    for (const id of this.progress.keys()) if (id !== this.id && this.progress.get(id)!.next <= index) this.sendAppend(id, false);
    // With fewer voters, entries may already be committed.
    if (this.maybeCommit()) this.appendsOwed = 'commit';
  }

  // ---------------------------------------------------------------- elections

  private tickElection(): void {
    this.electionElapsed++;
    if (this.isVoter() && this.electionElapsed >= this.randomizedElectionTicks) {
      this.electionElapsed = 0;
      this.campaign(this.options.preVote ? 'pre' : 'real', false);
    }
  }

  private tickLeader(): void {
    this.heartbeatElapsed++;
    this.electionElapsed++;
    if (this.electionElapsed >= this.options.electionTicks) {
      this.electionElapsed = 0;
      if (this.options.checkQuorum && !this.quorumActive()) {
        this.becomeFollower(this.term, null);
        return;
      }
      this.leadTransferee = null;
    }
    for (const [id, pr] of this.progress) {
      if (pr.state !== 'snapshot') continue;
      // An InstallSnapshot may have been lost; after an election timeout, probe again.
      if (++pr.snapshotTicks >= this.options.electionTicks) {
        pr.becomeProbe();
        this.sendAppend(id, false);
      }
    }
    if (this.heartbeatElapsed >= this.options.heartbeatTicks) {
      this.heartbeatElapsed = 0;
      this.broadcastHeartbeat(0);
    }
  }

  private quorumActive(): boolean {
    let active = 0;
    for (const id of this.config.voters) {
      const pr = this.progress.get(id);
      if (id === this.id || pr?.recentActive) active++;
      if (pr) pr.recentActive = false;
    }
    return active >= quorumSize(this.config.voters.length);
  }

  /** Whether we heard from a live leader within the election timeout (CheckQuorum's lease). */
  private inLease(): boolean {
    return this.options.checkQuorum && this.lead !== null && this.electionElapsed < this.options.electionTicks;
  }

  private campaign(kind: 'pre' | 'real', transfer: boolean): void {
    if (kind === 'pre') this.becomePreCandidate();
    else this.becomeCandidate();
    const term = kind === 'pre' ? this.term + 1 : this.term;
    this.votes.set(this.id, true);
    if (this.tallyVotes() === 'won') return this.winElection(kind);
    for (const id of this.config.voters) {
      if (id === this.id) continue;
      this.send({ type: 'vote', to: id, term, preVote: kind === 'pre', lastIndex: this.log.lastIndex(), lastTerm: this.log.lastTerm(), transfer });
    }
  }

  private winElection(kind: 'pre' | 'real'): void {
    if (kind === 'pre') this.campaign('real', false);
    else this.becomeLeader();
  }

  private tallyVotes(): 'won' | 'lost' | 'pending' {
    let granted = 0;
    let rejected = 0;
    for (const id of this.config.voters) {
      const vote = this.votes.get(id);
      if (vote === true) granted++;
      else if (vote === false) rejected++;
    }
    const quorum = quorumSize(this.config.voters.length);
    if (granted >= quorum) return 'won';
    if (rejected > this.config.voters.length - quorum) return 'lost';
    return 'pending';
  }

  private handleVoteRequest(m: VoteRequest): void {
    const canVote = this.vote === m.from || (this.vote === null && this.lead === null) || (m.preVote && m.term > this.term);
    if (canVote && this.log.isUpToDate(m.lastIndex, m.lastTerm)) {
      // A grant carries the candidate's term, so it is not mistaken for a stale answer.
      this.send({ type: 'voteResponse', to: m.from, term: m.term, preVote: m.preVote, granted: true });
      if (!m.preVote) {
        this.electionElapsed = 0;
        this.vote = m.from;
      }
    } else {
      this.send({ type: 'voteResponse', to: m.from, term: this.term, preVote: m.preVote, granted: false });
    }
  }

  private stepCandidate(m: RaftMessage): void {
    switch (m.type) {
      case 'append':
      case 'heartbeat':
      case 'snapshot':
        this.becomeFollower(m.term, m.from);
        return this.stepFollower(m);
      case 'voteResponse': {
        if (m.preVote !== (this.role === 'preCandidate')) return;
        this.votes.set(m.from, m.granted);
        const result = this.tallyVotes();
        if (result === 'won') this.winElection(this.role === 'preCandidate' ? 'pre' : 'real');
        else if (result === 'lost') this.becomeFollower(this.term, null);
        return;
      }
      default:
        return;
    }
  }

  private stepFollower(m: RaftMessage): void {
    switch (m.type) {
      case 'append':
        this.electionElapsed = 0;
        this.lead = m.from;
        return this.handleAppend(m);
      case 'heartbeat':
        this.electionElapsed = 0;
        this.lead = m.from;
        return this.handleHeartbeat(m);
      case 'snapshot':
        this.electionElapsed = 0;
        this.lead = m.from;
        return this.handleSnapshot(m);
      case 'timeoutNow':
        if (this.isVoter()) this.campaignForTransfer();
        return;
      default:
        return;
    }
  }

  private campaignForTransfer(): void {
    // Leader transfer skips PreVote: the leader itself asked, so nobody should refuse.
    this.becomeCandidate();
    this.votes.set(this.id, true);
    if (this.tallyVotes() === 'won') return this.becomeLeader();
    for (const id of this.config.voters) {
      if (id !== this.id) this.send({ type: 'vote', to: id, term: this.term, preVote: false, lastIndex: this.log.lastIndex(), lastTerm: this.log.lastTerm(), transfer: true });
    }
  }

  // ---------------------------------------------------------------- follower side of replication

  private handleAppend(m: AppendRequest): void {
    if (m.prevIndex < this.log.committed) {
      this.send({ type: 'appendResponse', to: m.from, term: this.term, reject: false, index: this.log.committed, hintIndex: 0, hintTerm: 0 });
      return;
    }
    const lastNewIndex = this.log.maybeAppend(m.prevIndex, m.prevTerm, m.commit, m.entries);
    if (lastNewIndex !== null) {
      this.send({ type: 'appendResponse', to: m.from, term: this.term, reject: false, index: lastNewIndex, hintIndex: 0, hintTerm: 0 });
      return;
    }
    const hintIndex = this.log.findConflictByTerm(Math.min(m.prevIndex, this.log.lastIndex()), m.prevTerm);
    this.send({ type: 'appendResponse', to: m.from, term: this.term, reject: true, index: m.prevIndex, hintIndex, hintTerm: this.log.term(hintIndex) ?? 0 });
  }

  private handleHeartbeat(m: HeartbeatRequest): void {
    const lastIndex = this.log.lastIndex();
    if (m.commit > lastIndex) {
      // The leader believes we hold entries we do not: our synced log was cut. Say where it
      // really ends, so the leader sends them again (see Progress.forgetBeyond).
      this.send({ type: 'appendResponse', to: m.from, term: this.term, reject: true, index: m.commit, hintIndex: lastIndex, hintTerm: this.log.term(lastIndex) ?? 0 });
    }
    this.log.commitTo(Math.min(m.commit, lastIndex));
    this.send({ type: 'heartbeatResponse', to: m.from, term: this.term, readRound: m.readRound });
  }

  private handleSnapshot(m: InstallSnapshot): void {
    const snapshot = m.snapshot;
    if (snapshot.index <= this.log.committed) {
      // Old news: tell the leader where we are.
    } else if (this.log.matchTerm(snapshot.index, snapshot.term)) {
      // We hold the snapshot's last entry, so we hold everything before it too.
      this.log.commitTo(snapshot.index);
    } else {
      this.log.restore(snapshot);
      this.config = snapshot.config;
      this.syncProgressWithConfig();
    }
    this.send({ type: 'appendResponse', to: m.from, term: this.term, reject: false, index: this.log.committed, hintIndex: 0, hintTerm: 0 });
  }

  // ---------------------------------------------------------------- leader side of replication

  private stepLeader(m: RaftMessage): void {
    const pr = this.progress.get(m.from);
    if (!pr) return;
    switch (m.type) {
      case 'appendResponse':
        pr.recentActive = true;
        return this.handleAppendResponse(m, pr);
      case 'heartbeatResponse':
        pr.recentActive = true;
        return this.handleHeartbeatResponse(m, pr);
      default:
        return;
    }
  }

  private handleAppendResponse(m: AppendResponse, pr: Progress): void {
    if (m.reject && m.hintIndex < pr.match) {
      if (pr.forgetBeyond(m.hintIndex)) this.sendAppend(m.from, false);
      return;
    }
    if (m.reject) {
      // Fast backtracking: skip every index of a term the follower cannot match.
      const hint = m.hintTerm > 0 ? this.log.findConflictByTerm(m.hintIndex, m.hintTerm) : m.hintIndex;
      if (pr.maybeDecreaseTo(m.index, hint)) {
        if (pr.state === 'replicate') pr.becomeProbe();
        this.sendAppend(m.from, false);
      }
      return;
    }
    const wasPaused = pr.isPaused();
    if (pr.maybeUpdate(m.index)) {
      if (pr.state === 'probe') pr.becomeReplicate();
      else if (pr.state === 'snapshot' && pr.match >= pr.pendingSnapshot) pr.becomeProbe();
      else if (pr.state === 'replicate') pr.freeUpTo(m.index);
      if (this.maybeCommit()) this.appendsOwed = 'commit';
      // A freed window, or entries beyond what the last append carried, go out at ready().
      else if (this.appendsOwed === null && (wasPaused || pr.next <= this.log.lastIndex())) this.appendsOwed = 'entries';
      if (m.from === this.leadTransferee && pr.match === this.log.lastIndex()) this.send({ type: 'timeoutNow', to: m.from, term: this.term });
    }
  }

  private handleHeartbeatResponse(m: HeartbeatResponse, pr: Progress): void {
    pr.probeSent = false;
    if (pr.state === 'replicate' && pr.isPaused()) pr.freeFirstInflight();
    if (pr.match < this.log.lastIndex()) this.sendAppend(m.from, false);
    if (m.readRound > 0) this.ackReadRound(m.from, m.readRound);
  }

  /**
   * Send the next append to `to`. With `onlyIfEntries`, skip it when there is nothing new
   * to carry. Returns whether a message went out.
   */
  private sendAppend(to: NodeId, onlyIfEntries: boolean): boolean {
    const pr = this.progress.get(to);
    if (!pr || to === this.id || pr.isPaused()) return false;
    const prevIndex = pr.next - 1;
    const prevTerm = this.log.term(prevIndex);
    if (prevTerm === undefined) return this.sendSnapshot(to, pr);
    const lastIndex = this.log.lastIndex();
    if (onlyIfEntries && pr.next > lastIndex) return false;
    const entries = this.log.slice(pr.next, lastIndex, this.options.appendBytesMax);
    const commit = this.log.committed;
    this.send({ type: 'append', to, term: this.term, prevIndex, prevTerm, entries, commit });
    let bytes = 0;
    for (const entry of entries) bytes += entry.data.byteLength;
    pr.sentEntries(prevIndex + entries.length, bytes);
    return true;
  }

  private sendSnapshot(to: NodeId, pr: Progress): boolean {
    if (!pr.recentActive) return false;
    const snapshot = this.log.snapshot;
    this.send({ type: 'snapshot', to, term: this.term, snapshot });
    pr.becomeSnapshot(snapshot.index);
    return true;
  }

  private sendOwedAppends(): void {
    const owed = this.appendsOwed;
    this.appendsOwed = null;
    if (this.role !== 'leader') return;
    for (const id of this.progress.keys()) {
      if (id === this.id) continue;
      if (owed === 'commit') this.sendAppend(id, false);
      while (this.sendAppend(id, true)) {
        // Keep the pipeline full while the flow-control window allows.
      }
    }
  }

  private broadcastHeartbeat(readRound: number): void {
    for (const [id, pr] of this.progress) {
      if (id === this.id) continue;
      // Never tell a follower of a commit beyond what it is known to hold.
      this.send({ type: 'heartbeat', to: id, term: this.term, commit: Math.min(pr.match, this.log.committed), readRound });
    }
  }

  /** Advance the commit index to the highest index a quorum holds, if it is of our term. */
  private maybeCommit(): boolean {
    const matches = this.config.voters.map((id) => this.progress.get(id)?.match ?? 0).sort((a, b) => b - a);
    const index = matches[quorumSize(matches.length) - 1] ?? 0;
    if (index <= this.log.committed) return false;
    // Figure 8: an entry of an earlier term is never committed by counting replicas.
    if (this.log.term(index) !== this.term && this.options.bug !== 'commitEarlierTerm') return false;
    const hadCommittedInTerm = this.committedInTerm();
    this.log.commitTo(index);
    if (!hadCommittedInTerm && this.pendingReads.length > 0) {
      for (const read of this.pendingReads) read.index = Math.max(read.index, this.log.committed);
      this.readRoundToBroadcast = true;
    }
    return true;
  }

  private committedInTerm(): boolean {
    return this.log.term(this.log.committed) === this.term;
  }

  private appendEntry(type: Entry['type'], data: Uint8Array): ProposeResult {
    const entry: Entry = { term: this.term, index: this.log.lastIndex() + 1, type, data };
    this.log.append([entry]);
    this.appendsOwed ??= 'entries';
    // A single voter commits as soon as its own copy is durable (see advance).
    return { ok: true, index: entry.index, term: entry.term };
  }

  private refuseProposal(): Extract<ProposeResult, { ok: false }> | null {
    if (this.role !== 'leader') return this.notLeader();
    if (this.leadTransferee !== null) return { ok: false, reason: 'transferring', message: `leadership is moving to ${this.leadTransferee}; retry there shortly` };
    return null;
  }

  private notLeader(): Extract<ProposeResult, { ok: false }> {
    return { ok: false, reason: 'notLeader', message: this.lead ? `this node is not the leader; retry at ${this.lead}` : 'there is no leader right now; retry shortly' };
  }

  // ---------------------------------------------------------------- linearizable reads

  private broadcastReadRound(): void {
    this.readRoundToBroadcast = false;
    if (!this.committedInTerm()) return;
    this.readRound++;
    for (const read of this.pendingReads) if (read.round === 0) read.round = this.readRound;
    this.broadcastHeartbeat(this.readRound);
    // Our own acknowledgement; alone, it is a quorum.
    this.ackReadRound(this.id, this.readRound);
  }

  private ackReadRound(from: NodeId, round: number): void {
    if ((this.readRoundAcks.get(from) ?? 0) < round) this.readRoundAcks.set(from, round);
    // The highest round a quorum (us included) has confirmed.
    const acks = this.config.voters.map((id) => this.readRoundAcks.get(id) ?? 0).sort((a, b) => b - a);
    const confirmed = acks[quorumSize(acks.length) - 1] ?? 0;
    let released = 0;
    while (released < this.pendingReads.length) {
      const read = this.pendingReads[released]!;
      if (read.round === 0 || read.round > confirmed) break;
      this.readStates.push({ index: read.index, context: read.context });
      released++;
    }
    if (released > 0) this.pendingReads.splice(0, released);
  }

  // ---------------------------------------------------------------- helpers

  private send(message: Outgoing): void {
    // The callers build each message fresh, so it is stamped in place rather than copied.
    const stamped = message as RaftMessage;
    stamped.from = this.id;
    this.outbox.push(stamped);
  }
}

type Outgoing = RaftMessage extends infer M ? (M extends RaftMessage ? Omit<M, 'from'> : never) : never;

function sameHardState(a: HardState, b: HardState): boolean {
  return a.term === b.term && a.vote === b.vote && a.commit === b.commit;
}

function sameSoftState(a: SoftState, b: SoftState): boolean {
  return a.role === b.role && a.lead === b.lead && a.term === b.term;
}
