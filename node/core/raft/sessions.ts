/**
 * Exactly-once application of client commands (Raft dissertation §6.3). Each client
 * numbers its commands; a command retried after a failover carries the same number, and
 * the state machine answers it from here instead of applying it twice. A number below
 * the last one seen is a straggler from before the client moved on: it is refused.
 * The table is part of the replicated state, so it is deterministic and bounded: past
 * `sessionsMax`, the session idle for the most log entries is forgotten.
 */
export class SessionTable<R> {
  private sessions = new Map<string, { seq: number; result: R; index: number }>();

  constructor(private readonly sessionsMax: number) {}

  /** What to do with command `seq` from `client`: apply it, answer it again, or refuse it as stale. */
  check(client: string, seq: number): { kind: 'new' } | { kind: 'duplicate'; result: R } | { kind: 'stale'; lastSeq: number } {
    const session = this.sessions.get(client);
    if (!session || seq > session.seq) return { kind: 'new' };
    if (seq === session.seq) return { kind: 'duplicate', result: session.result };
    return { kind: 'stale', lastSeq: session.seq };
  }

  record(client: string, seq: number, result: R, index: number): void {
    this.sessions.delete(client);
    this.sessions.set(client, { seq, result, index });
    if (this.sessions.size > this.sessionsMax) {
      // Map order is insertion order and every record re-inserts, so the first is the idlest.
      const idlest = this.sessions.keys().next().value as string;
      this.sessions.delete(idlest);
    }
  }

  lastSeq(client: string): number {
    return this.sessions.get(client)?.seq ?? 0;
  }

  toJSON(): [string, number, R, number][] {
    return [...this.sessions].map(([client, s]) => [client, s.seq, s.result, s.index]);
  }

  static fromJSON<R>(rows: [string, number, R, number][], sessionsMax: number): SessionTable<R> {
    const table = new SessionTable<R>(sessionsMax);
    for (const [client, seq, result, index] of rows) table.sessions.set(client, { seq, result, index });
    return table;
  }
}
