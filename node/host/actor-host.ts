import type { Actor } from '../core/actor/actor.ts';
import type { Env, LogLevel, Storage, TimerId } from '../core/actor/env.ts';
import { Mailbox } from '../core/actor/mailbox.ts';

// Runs one actor on the real event loop: a bounded mailbox for messages from outside, a
// separate queue for the actor's own timers and storage completions, and a drain that
// runs on setImmediate so sockets and disk completions are served between turns.

/** Messages handed to `receive` in one drain before yielding to the event loop. */
export const messagesPerDrainMax = 4096;
/**
 * Timer firings and storage completions waiting for the actor. They are bounded by the
 * actor's own outstanding work, so reaching this means a runaway loop: a bug, not load.
 */
export const internalQueueLengthMax = 1_000_000;
/** setTimeout cannot wait longer (about 24.8 days); longer delays are clamped. */
const timerDelayMsMax = 2 ** 31 - 1;

export interface ActorHostOptions {
  address: string;
  /** Capacity of the mailbox for messages from outside (network, other actors). */
  mailboxLengthMax: number;
  /** Builds the actor's storage; its completions go to `deliverInternal`, which never drops them. */
  storage: (deliverInternal: (message: unknown) => void) => Storage;
  /** Where `env.send` goes: a local actor, a peer link or a client session. */
  route: (to: string, message: unknown) => void;
  log: (level: LogLevel, event: string, fields: Record<string, unknown>) => void;
  /** The actor threw: it has been stopped and its state can no longer be trusted. */
  onCrash: (error: unknown) => void;
  /** Source of env.random(); Math.random when not given. */
  random?: () => number;
}

/**
 * The real host of one actor. `deliver` puts a message from outside in the bounded
 * mailbox (false when full: the caller answers `overloaded`); timers and storage
 * completions bypass the bound and are delivered first. Each drain hands at most
 * `messagesPerDrainMax` messages to `receive`, one at a time, then calls `drained` once.
 * A throwing actor is stopped and reported through `onCrash`.
 */
export class ActorHost {
  readonly address: string;
  readonly storage: Storage;
  private readonly mailbox: Mailbox<unknown>;
  /** Timer firings and storage completions, oldest first from `internalHead`. */
  private internal: unknown[] = [];
  private internalHead = 0;
  private readonly timers = new Map<TimerId, ReturnType<typeof setTimeout>>();
  private nextTimerId = 1;
  private actor: Actor | null = null;
  private drainScheduled = false;
  private stopped = false;

  constructor(private readonly options: ActorHostOptions) {
    this.address = options.address;
    this.mailbox = new Mailbox(options.address, options.mailboxLengthMax);
    this.storage = options.storage((message) => this.deliverInternal(message));
  }

  /** Build the actor with its Env and start draining. A factory that throws (say, corrupt storage) stops the host and rethrows. */
  start(factory: (env: Env) => Actor): void {
    if (this.actor !== null || this.stopped) throw new Error(`actor host ${this.address} was already started`);
    try {
      this.actor = factory(this.makeEnv());
    } catch (error) {
      this.stop();
      throw error;
    }
    if (this.hasMessages()) this.scheduleDrain();
  }

  /** A message from outside. False when the mailbox is full (or the host stopped): the sender should hear `overloaded`. */
  deliver(message: unknown): boolean {
    if (this.stopped) return false;
    if (this.mailbox.length >= this.mailbox.capacity) return false;
    this.mailbox.push(message);
    if (this.actor !== null) this.scheduleDrain();
    return true;
  }

  /** Cancel every timer, drop queued messages; later deliveries and completions are ignored. */
  stop(): void {
    if (this.stopped) return;
    this.stopped = true;
    for (const handle of this.timers.values()) clearTimeout(handle);
    this.timers.clear();
    this.mailbox.clear();
    this.internal = [];
    this.internalHead = 0;
    const actor = this.actor as (Actor & { stop?: unknown }) | null;
    if (actor && typeof actor.stop === 'function') actor.stop();
  }

  get isStopped(): boolean {
    return this.stopped;
  }

  /** Messages waiting: in the mailbox, and internal ones. */
  get queuedMessages(): number {
    return this.mailbox.length + this.internal.length - this.internalHead;
  }

  private deliverInternal(message: unknown): void {
    if (this.stopped) return;
    if (this.internal.length - this.internalHead >= internalQueueLengthMax) {
      return this.crash(new Error(`actor ${this.address} has ${internalQueueLengthMax} timer firings and storage completions waiting: a runaway loop`));
    }
    this.internal.push(message);
    if (this.actor !== null) this.scheduleDrain();
  }

  private hasMessages(): boolean {
    return this.mailbox.length > 0 || this.internalHead < this.internal.length;
  }

  private next(): { message: unknown } | null {
    if (this.internalHead < this.internal.length) {
      const message = this.internal[this.internalHead];
      this.internal[this.internalHead++] = undefined;
      // Reclaim the consumed front once it is most of the array.
      if (this.internalHead > 1024 && this.internalHead * 2 > this.internal.length) {
        this.internal = this.internal.slice(this.internalHead);
        this.internalHead = 0;
      }
      return { message };
    }
    if (this.mailbox.length > 0) return { message: this.mailbox.shift() };
    return null;
  }

  private scheduleDrain(): void {
    if (this.drainScheduled || this.stopped) return;
    this.drainScheduled = true;
    setImmediate(() => this.drain());
  }

  private drain(): void {
    this.drainScheduled = false;
    const actor = this.actor;
    if (this.stopped || actor === null || !this.hasMessages()) return;
    try {
      for (let count = 0; count < messagesPerDrainMax; count++) {
        const next = this.next();
        if (next === null) break;
        actor.receive(next.message);
        if (this.stopped) return;
      }
      actor.drained();
    } catch (error) {
      return this.crash(error);
    }
    // Messages left over, or delivered during drained() (local sends), get the next turn.
    if (this.hasMessages()) this.scheduleDrain();
  }

  private crash(error: unknown): void {
    if (this.stopped) return;
    const fields: Record<string, unknown> = { actor: this.address, error: error instanceof Error ? error.message : String(error) };
    if (error instanceof Error && error.stack) fields.stack = error.stack;
    this.options.log('error', 'actor.crashed', fields);
    this.stop();
    this.options.onCrash(error);
  }

  private makeEnv(): Env {
    const random = this.options.random ?? Math.random;
    return {
      self: this.address,
      now: () => Date.now(),
      random: () => random(),
      send: (to, message) => {
        if (!this.stopped) this.options.route(to, message);
      },
      timer: (delayMs, message) => {
        const id = this.nextTimerId++;
        if (this.stopped) return id;
        const handle = setTimeout(() => {
          this.timers.delete(id);
          this.deliverInternal(message);
        }, Math.min(Math.max(0, delayMs), timerDelayMsMax));
        this.timers.set(id, handle);
        return id;
      },
      cancel: (id) => {
        const handle = this.timers.get(id);
        if (handle === undefined) return;
        clearTimeout(handle);
        this.timers.delete(id);
      },
      storage: this.storage,
      log: (level, event, fields) => this.options.log(level, event, { actor: this.address, ...fields }),
    };
  }
}
