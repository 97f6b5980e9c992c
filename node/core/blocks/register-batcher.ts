// Registers stored blocks with the metadata state machine, so a commit may refer to them.
// One register request is in flight at a time; blocks stored meanwhile wait and go in the
// next one, so a burst of puts costs one Raft entry, not one each. The batch is a client
// session command (client, seq): a retry after a timeout or failover carries the same seq
// and is applied once.

import type { Env, TimerId } from '../actor/env.ts';
import { raftboxError, type RaftboxError } from '../../../protocol/errors.ts';
import type { NodeId } from '../../../protocol/raft-messages.ts';
import type { Address, BlockRef, RequestMessage, ResponseMessage } from '../../../protocol/wire.ts';
import type { BlockInternalMessage } from './block-messages.ts';

export type RegisterEntry = BlockRef & { owners: NodeId[] };
export type RegisterOutcome = { ok: true } | { ok: false; error: RaftboxError };

export interface RegisterBatcherOptions {
  /** `blocks.register` adds the entries' owners; `blocks.release` removes them. Default: register. */
  op?: 'blocks.register' | 'blocks.release';
  /** The node's metadata actor, which forwards to the Raft leader. */
  metadata: Address;
  /** Session id of this batcher; unique per incarnation so a restart never reuses a seq. */
  client: string;
  timeoutMs: number;
  backoffMs: number;
  backoffMsMax: number;
  retriesMax: number;
  batchBlocksMax: number;
  queueMax: number;
}

interface Queued {
  entry: RegisterEntry;
  done: (outcome: RegisterOutcome) => void;
}

interface InFlight {
  id: number;
  seq: number;
  batch: Queued[];
  attempt: number;
  /** `sent`: waiting for an answer to the current attempt; `backoff`: waiting to send the next. */
  phase: 'sent' | 'backoff';
  timer: TimerId;
  lastError: string;
}

export class RegisterBatcher {
  private queue: Queued[] = [];
  private inFlight: InFlight | null = null;
  private seq = 0;

  constructor(
    private readonly env: Env,
    private readonly options: RegisterBatcherOptions,
    private readonly nextId: () => number,
  ) {}

  /** Queue a block for registration; false when the queue is full (the caller answers `overloaded`). */
  add(entry: RegisterEntry, done: (outcome: RegisterOutcome) => void): boolean {
    if (this.queue.length >= this.options.queueMax) return false;
    this.queue.push({ entry, done });
    return true;
  }

  /** Send the queued blocks if no register request is in flight. Called once per mailbox drain. */
  flush(): void {
    if (this.inFlight !== null || this.queue.length === 0) return;
    const batch = this.queue.splice(0, this.options.batchBlocksMax);
    this.seq++;
    this.inFlight = { id: this.nextId(), seq: this.seq, batch, attempt: 0, phase: 'sent', timer: -1, lastError: '' };
    this.send(this.inFlight);
  }

  /** A response from the metadata actor; false when it answers no request of ours. */
  onResponse(message: ResponseMessage): boolean {
    const flight = this.inFlight;
    // Every attempt of a batch shares one id: a late answer to an earlier attempt is an answer to the same command.
    if (flight === null || message.id !== flight.id) return false;
    this.env.cancel(flight.timer);
    if (message.ok) {
      this.finish({ ok: true });
      return true;
    }
    flight.lastError = `${message.error.code}: ${message.error.message}`;
    this.retryLater(flight);
    return true;
  }

  /** A register timer fired; stale ones (from an answered attempt) are ignored. */
  onTimer(message: Extract<BlockInternalMessage, { type: 'blocks.register-timeout' | 'blocks.register-retry' }>): void {
    const flight = this.inFlight;
    if (flight === null || message.id !== flight.id || message.attempt !== flight.attempt) return;
    if (message.type === 'blocks.register-retry') {
      if (flight.phase !== 'backoff') return;
      flight.attempt++;
      return this.send(flight);
    }
    if (flight.phase !== 'sent') return;
    flight.lastError = `no answer within ${this.options.timeoutMs} ms`;
    this.retryLater(flight);
  }

  get queued(): number {
    return this.queue.length + (this.inFlight?.batch.length ?? 0);
  }

  private send(flight: InFlight): void {
    const request: RequestMessage = {
      type: 'request',
      from: this.env.self,
      id: flight.id,
      hops: 0,
      request: { op: this.options.op ?? 'blocks.register', client: this.options.client, seq: flight.seq, blocks: flight.batch.map((q) => q.entry) },
    };
    this.env.send(this.options.metadata, request);
    flight.phase = 'sent';
    flight.timer = this.env.timer(this.options.timeoutMs, { type: 'blocks.register-timeout', id: flight.id, attempt: flight.attempt } satisfies BlockInternalMessage);
  }

  private retryLater(flight: InFlight): void {
    if (flight.attempt >= this.options.retriesMax) {
      const error = raftboxError(
        'unavailable',
        `the metadata leader did not register ${flight.batch.length} stored block(s) after ${flight.attempt + 1} attempts (last: ${flight.lastError}); retry the upload when the cluster has a leader`,
      );
      this.env.log('warn', 'blocks.register-failed', { seq: flight.seq, blocks: flight.batch.length, error: flight.lastError });
      return this.finish({ ok: false, error });
    }
    flight.phase = 'backoff';
    const backoffMs = Math.min(this.options.backoffMs * 2 ** flight.attempt, this.options.backoffMsMax);
    flight.timer = this.env.timer(backoffMs, { type: 'blocks.register-retry', id: flight.id, attempt: flight.attempt } satisfies BlockInternalMessage);
  }

  private finish(outcome: RegisterOutcome): void {
    const batch = this.inFlight?.batch ?? [];
    this.inFlight = null;
    for (const queued of batch) queued.done(outcome);
    this.flush();
  }
}
