/**
 * How the leader sends to one follower:
 * - probe: one append at a time until the follower's match point is found;
 * - replicate: appends stream ahead optimistically, bounded by in-flight counts and bytes;
 * - snapshot: an InstallSnapshot is on its way; nothing else is sent until it is acknowledged.
 */
export type ProgressState = 'probe' | 'replicate' | 'snapshot';

export interface FlowLimits {
  inflightMessagesMax: number;
  inflightBytesMax: number;
}

/** The leader's record of one follower's log. */
export class Progress {
  match = 0;
  next: number;
  state: ProgressState = 'probe';
  /** In probe state, an append is outstanding: wait for its answer or a heartbeat reply. */
  probeSent = false;
  /** Index of the snapshot being installed, in snapshot state. */
  pendingSnapshot = 0;
  /** Ticks spent in snapshot state; a lost snapshot is re-sent after a while. */
  snapshotTicks = 0;
  /** Heard from since the last CheckQuorum round. */
  recentActive = false;
  readonly isLearner: boolean;
  private readonly inflight: { lastIndex: number; bytes: number }[] = [];
  private inflightBytes = 0;

  constructor(next: number, isLearner: boolean, private readonly limits: FlowLimits) {
    this.next = next;
    this.isLearner = isLearner;
  }

  becomeProbe(): void {
    // After a snapshot, resume just past it; otherwise retry right after the match point.
    this.next = this.state === 'snapshot' ? Math.max(this.match, this.pendingSnapshot) + 1 : this.match + 1;
    this.reset('probe');
  }

  becomeReplicate(): void {
    this.next = this.match + 1;
    this.reset('replicate');
  }

  becomeSnapshot(index: number): void {
    this.reset('snapshot');
    this.pendingSnapshot = index;
  }

  private reset(state: ProgressState): void {
    this.state = state;
    this.probeSent = false;
    this.pendingSnapshot = 0;
    this.snapshotTicks = 0;
    this.inflight.length = 0;
    this.inflightBytes = 0;
  }

  /**
   * The follower says its log ends at `lastIndex`, below what it acknowledged: it lost
   * synced entries (a cut or restored-from-backup disk). Forget the match point and probe
   * again, so the lost entries are sent anew instead of the follower stalling forever.
   * Commit never moves back, so this costs only the resend. Returns false when there is
   * nothing to forget.
   */
  forgetBeyond(lastIndex: number): boolean {
    if (lastIndex >= this.match) return false;
    this.match = lastIndex;
    this.next = lastIndex + 1;
    this.reset('probe');
    return true;
  }

  /** Record an acknowledgement up to `index`; false when it tells us nothing new. */
  maybeUpdate(index: number): boolean {
    let updated = false;
    if (index > this.match) {
      this.match = index;
      this.probeSent = false;
      updated = true;
    }
    this.next = Math.max(this.next, index + 1);
    return updated;
  }

  /**
   * A rejection of the append at `rejected`. `hint` is where the follower suggests to
   * retry. Returns false when the rejection is stale (it answers an append we already
   * moved past).
   */
  maybeDecreaseTo(rejected: number, hint: number): boolean {
    if (this.state === 'replicate') {
      if (rejected <= this.match) return false;
      this.next = this.match + 1;
      return true;
    }
    if (this.next - 1 !== rejected) return false;
    this.next = Math.max(Math.min(rejected, hint + 1), this.match + 1);
    this.probeSent = false;
    return true;
  }

  /** Note an append just sent with entries up to `lastIndex`. */
  sentEntries(lastIndex: number, bytes: number): void {
    if (this.state === 'replicate') {
      this.next = lastIndex + 1;
      if (bytes > 0 || lastIndex > this.match) {
        this.inflight.push({ lastIndex, bytes });
        this.inflightBytes += bytes;
      }
    } else if (this.state === 'probe') {
      this.probeSent = true;
    }
  }

  /** Forget in-flight appends the follower acknowledged. */
  freeUpTo(index: number): void {
    let n = 0;
    while (n < this.inflight.length && this.inflight[n]!.lastIndex <= index) {
      this.inflightBytes -= this.inflight[n]!.bytes;
      n++;
    }
    if (n > 0) this.inflight.splice(0, n);
  }

  /**
   * Make room for one append when the window is full. A heartbeat reply proves the
   * follower is alive; if every append that filled the window was lost, the next one
   * reveals the gap, the follower rejects it, and the leader falls back to probing.
   */
  freeFirstInflight(): void {
    const first = this.inflight.shift();
    if (first) this.inflightBytes -= first.bytes;
  }

  /** Whether the leader must hold back appends to this follower. */
  isPaused(): boolean {
    switch (this.state) {
      case 'probe':
        return this.probeSent;
      case 'replicate':
        return this.inflight.length >= this.limits.inflightMessagesMax || this.inflightBytes >= this.limits.inflightBytesMax;
      case 'snapshot':
        return true;
    }
  }
}
