import type { Operation } from './check/linearizability.ts';
import type { EventQueue } from './event-queue.ts';
import type { KvInput, KvOutput, KvRequest, KvResponse } from './kv.ts';
import type { Prng } from './prng.ts';

export interface WorkloadOptions {
  keys: string[];
  thinkMsMax: number;
  /** How long one attempt waits for an answer before trying another node. */
  attemptTimeoutMs: number;
  /** How long a client keeps retrying one operation before giving up on it. */
  operationDeadlineMs: number;
}

export const defaultWorkload: WorkloadOptions = { keys: ['a', 'b', 'c'], thinkMsMax: 40, attemptTimeoutMs: 250, operationDeadlineMs: 2_000 };

interface Current {
  input: KvInput;
  seq: number;
  call: number;
  attempt: number;
  timer: number;
}

/**
 * A client as real ones behave: one operation at a time, sent to the node it believes
 * leads, retried (with the same session number) at the hinted leader or another node
 * when an attempt fails or times out, and abandoned after a deadline. Abandoned writes
 * enter the history with an unknown outcome: they may or may not have taken effect.
 */
export class SimClient {
  readonly address: string;
  private seq = 0;
  private attempts = 0;
  private target: string;
  private current: Current | null = null;
  private running = false;
  private lastSeen = new Map<string, string | null>();
  /** Writes the cluster acknowledged, by session number. */
  readonly acknowledged: { seq: number; input: KvInput }[] = [];
  completed = 0;
  timedOut = 0;
  /** Time of the last acknowledged operation, for the liveness checker. */
  lastSuccessMs = -1;

  constructor(
    readonly id: number,
    private readonly nodes: string[],
    private readonly queue: EventQueue,
    private readonly prng: Prng,
    private readonly send: (from: string, to: string, message: unknown) => void,
    private readonly history: Operation<KvInput, KvOutput>[],
    private readonly options: WorkloadOptions,
  ) {
    this.address = `client/${id}`;
    this.target = prng.pick(nodes);
  }

  start(): void {
    this.running = true;
    this.scheduleNext();
  }

  /** Stop issuing operations; one in flight is recorded as unknown (writes) or dropped (reads). */
  stop(): void {
    this.running = false;
    if (this.current) this.giveUp();
  }

  receive(from: string, message: unknown): void {
    const response = message as KvResponse;
    const current = this.current;
    if (response.type !== 'kv.response' || !current || response.attempt !== current.attempt) return;
    if (response.ok) {
      this.target = from;
      this.finish(response.output);
      return;
    }
    const failure = response.failure;
    this.target = failure.code === 'not_leader' && failure.leader ? failure.leader : this.otherNode(from);
    this.retry(failure.code === 'not_leader' ? 0 : this.prng.int(5, 30));
  }

  private scheduleNext(): void {
    if (!this.running) return;
    this.queue.schedule(this.prng.float() * this.options.thinkMsMax, () => this.begin());
  }

  private begin(): void {
    if (!this.running || this.current) return;
    const input = this.pickInput();
    const seq = input.kind === 'read' ? 0 : ++this.seq;
    this.current = { input, seq, call: this.queue.now, attempt: 0, timer: 0 };
    this.sendAttempt();
  }

  private pickInput(): KvInput {
    const key = this.prng.pick(this.options.keys);
    const roll = this.prng.float();
    if (roll < 0.5) return { kind: 'read', key };
    // Values are unique, so a read names exactly the write it saw.
    const value = `${this.id}.${this.seq + 1}`;
    if (roll < 0.75) return { kind: 'write', key, value };
    return { kind: 'cas', key, expected: this.lastSeen.get(key) ?? null, value };
  }

  private sendAttempt(): void {
    const current = this.current!;
    current.attempt = ++this.attempts;
    const request: KvRequest = { type: 'kv.request', client: this.address, seq: current.seq, attempt: current.attempt, input: current.input };
    this.send(this.address, this.target, request);
    const attempt = current.attempt;
    this.queue.schedule(this.options.attemptTimeoutMs, () => {
      if (this.current?.attempt !== attempt) return;
      this.target = this.otherNode(this.target);
      this.retry(0);
    });
  }

  private retry(backoffMs: number): void {
    const current = this.current!;
    if (this.queue.now - current.call >= this.options.operationDeadlineMs) return this.giveUp();
    current.attempt = ++this.attempts; // Invalidate the attempt we are abandoning.
    this.queue.schedule(backoffMs, () => {
      if (this.current === current && this.running) this.sendAttempt();
    });
  }

  private finish(output: KvOutput): void {
    const current = this.current!;
    this.current = null;
    this.history.push({ client: this.id, input: current.input, call: current.call, return: this.queue.now, output });
    this.completed++;
    this.lastSuccessMs = this.queue.now;
    const input = current.input;
    if (input.kind === 'read') this.lastSeen.set(input.key, (output as { value: string | null }).value);
    else if ((output as { ok: boolean }).ok) {
      this.lastSeen.set(input.key, input.value);
      this.acknowledged.push({ seq: current.seq, input });
    }
    this.scheduleNext();
  }

  private giveUp(): void {
    const current = this.current!;
    this.current = null;
    this.timedOut++;
    // A read that never answered tells nothing; a write may have happened.
    if (current.input.kind !== 'read') this.history.push({ client: this.id, input: current.input, call: current.call, return: Infinity, output: undefined });
    this.scheduleNext();
  }

  private otherNode(than: string): string {
    const others = this.nodes.filter((node) => node !== than);
    return others.length > 0 ? this.prng.pick(others) : than;
  }
}
