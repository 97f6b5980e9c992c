import type { Entry } from '../protocol/raft-messages.ts';
import type { Raft } from '../node/core/raft/raft.ts';
import type { CheckFailure } from './types.ts';

/**
 * Raft's safety properties (Figure 3 of the paper), checked while the run goes on:
 * - election safety: at most one leader per term;
 * - state machine safety: no two nodes apply different entries at one index;
 * - leader completeness: a new leader's log holds every entry any node applied;
 * - log matching: logs that agree on (index, term) agree on everything before it;
 * - commit monotonicity: a restarted node never forgets what it had applied.
 * The first violation of each is kept; a run with any fails.
 */
export class SafetyMonitor {
  readonly failures: CheckFailure[] = [];
  private leaders = new Map<number, string>();
  /** What the first node to apply each index applied there. */
  private applied = new Map<number, { term: number; data: Uint8Array; node: string }>();
  private highestApplied = new Map<string, number>();
  private failed = new Set<string>();

  fail(checker: string, message: string): void {
    if (this.failed.has(checker)) return;
    this.failed.add(checker);
    this.failures.push({ checker, message });
  }

  onApply(node: string, entry: Entry): void {
    const seen = this.applied.get(entry.index);
    if (!seen) this.applied.set(entry.index, { term: entry.term, data: entry.data, node });
    else if (seen.term !== entry.term || !sameBytes(seen.data, entry.data)) {
      this.fail('state-machine-safety', `${node} applied an entry of term ${entry.term} at index ${entry.index}, where ${seen.node} applied one of term ${seen.term}`);
    }
    if (entry.index > (this.highestApplied.get(node) ?? 0)) this.highestApplied.set(node, entry.index);
  }

  /** Called after every mailbox drain of a node. */
  observe(node: string, raft: Raft): void {
    if (raft.role !== 'leader') return;
    const known = this.leaders.get(raft.term);
    if (known === undefined) {
      this.leaders.set(raft.term, node);
      this.checkCompleteness(node, raft);
    } else if (known !== node) {
      this.fail('election-safety', `two leaders in term ${raft.term}: ${known} and ${node}`);
    }
  }

  /** A node just restarted from its disk. */
  onRestart(node: string, raft: Raft): void {
    // What must survive is the log: every entry a node applied was in its synced log (or a
    // snapshot) first. The commit index itself may come back lower, as it is not synced
    // on its own; the node relearns it from the leader.
    const before = this.highestApplied.get(node) ?? 0;
    const held = Math.max(raft.log.lastIndex(), raft.log.snapshot.index);
    if (held < before) this.fail('persistence', `${node} restarted with its log ending at ${held}, below the ${before} it had applied before the crash`);
  }

  private checkCompleteness(node: string, raft: Raft): void {
    const log = raft.log;
    for (const [index, seen] of this.applied) {
      if (index <= log.snapshot.index) continue;
      const term = log.term(index);
      if (term !== seen.term) {
        this.fail('leader-completeness', `${node} became leader of term ${raft.term} without the entry at index ${index} (term ${seen.term}) that ${seen.node} applied; it has ${term === undefined ? 'nothing' : `term ${term}`} there`);
        return;
      }
    }
  }

  /** Log matching across every pair of live logs. */
  checkLogMatching(logs: { node: string; raft: Raft }[]): void {
    for (let i = 0; i < logs.length; i++) {
      for (let j = i + 1; j < logs.length; j++) {
        const a = logs[i]!;
        const b = logs[j]!;
        const message = logMismatch(a.raft, b.raft);
        if (message) this.fail('log-matching', `${a.node} and ${b.node}: ${message}`);
      }
    }
  }

  highestAppliedIndex(): number {
    let highest = 0;
    for (const index of this.highestApplied.values()) highest = Math.max(highest, index);
    return highest;
  }

  appliedAt(index: number): { term: number; data: Uint8Array } | undefined {
    return this.applied.get(index);
  }
}

function logMismatch(a: Raft, b: Raft): string | null {
  const lo = Math.max(a.log.firstIndex(), b.log.firstIndex());
  const hi = Math.min(a.log.lastIndex(), b.log.lastIndex());
  // Find the highest index where both agree on the term; everything before must match.
  let agree = hi;
  while (agree >= lo && a.log.term(agree) !== b.log.term(agree)) agree--;
  for (let index = lo; index <= agree; index++) {
    const x = a.log.entry(index)!;
    const y = b.log.entry(index)!;
    if (x.term !== y.term || x.type !== y.type || !sameBytes(x.data, y.data)) return `logs agree at index ${agree} but differ at ${index}`;
  }
  return null;
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a === b) return true;
  if (a.byteLength !== b.byteLength) return false;
  for (let i = 0; i < a.byteLength; i++) if (a[i] !== b[i]) return false;
  return true;
}
