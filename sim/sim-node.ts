import type { Actor } from '../node/core/actor/actor.ts';
import type { Env, LogLevel, TimerId } from '../node/core/actor/env.ts';
import { Mailbox, MailboxFullError } from '../node/core/actor/mailbox.ts';
import type { EventQueue } from './event-queue.ts';
import type { Prng } from './prng.ts';
import type { DiskFaults } from './sim-disk.ts';
import { SimDisk } from './sim-disk.ts';

export const mailboxLengthMax = 10_000;

export interface SimNodeWorld {
  queue: EventQueue;
  send(from: string, to: string, message: unknown): void;
  log(node: string, level: LogLevel, event: string, fields?: Record<string, unknown>): void;
  /** Called after each mailbox drain, so checkers can inspect the node's state. */
  afterDrain(node: SimNode): void;
}

/**
 * The simulated host of one node: a mailbox drained at a virtual instant, timers on the
 * event queue, a crash-prone disk, and an `Env` built from them. A crash bumps the epoch,
 * so timers, disk completions and deliveries meant for the dead incarnation are dropped.
 */
export class SimNode<A extends Actor = Actor> {
  readonly disk: SimDisk;
  actor: A | null = null;
  up = false;
  private epoch = 0;
  private readonly mailbox: Mailbox<unknown>;
  private drainScheduled = false;
  private nextTimer = 1;
  /** Timers scheduled and neither fired nor cancelled; only these may fire. */
  private pendingTimers = new Set<TimerId>();
  overflows = 0;

  constructor(
    readonly id: string,
    private readonly world: SimNodeWorld,
    private readonly prng: Prng,
    diskFaults: DiskFaults,
    private readonly factory: (env: Env) => A,
  ) {
    this.mailbox = new Mailbox(id, mailboxLengthMax);
    this.disk = new SimDisk(world.queue, prng.fork('disk'), diskFaults, (message) => this.deliverInternal(message, this.epoch));
  }

  start(): void {
    if (this.up) return;
    this.up = true;
    this.epoch++;
    this.world.log(this.id, 'info', 'node.start');
    this.actor = this.factory(this.makeEnv(this.epoch));
    this.scheduleDrain();
  }

  crash(): void {
    if (!this.up) return;
    this.up = false;
    this.epoch++;
    this.mailbox.clear();
    this.pendingTimers.clear();
    this.actor = null;
    this.disk.crash();
    this.world.log(this.id, 'info', 'node.crash');
  }

  /** A message from the network. A full mailbox refuses it, as an overloaded node would. */
  deliver(message: unknown): void {
    if (!this.up) return;
    try {
      this.mailbox.push(message);
    } catch (error) {
      if (!(error instanceof MailboxFullError)) throw error;
      this.overflows++;
      this.world.log(this.id, 'warn', 'mailbox.full');
      return;
    }
    this.scheduleDrain();
  }

  private deliverInternal(message: unknown, epoch: number): void {
    if (epoch !== this.epoch || !this.up) return;
    // The actor's own completions must never be refused: losing one would wedge it.
    this.mailbox.push(message);
    this.scheduleDrain();
  }

  private scheduleDrain(): void {
    if (this.drainScheduled) return;
    this.drainScheduled = true;
    const epoch = this.epoch;
    this.world.queue.schedule(0, () => {
      this.drainScheduled = false;
      if (epoch !== this.epoch || !this.actor) return;
      const actor = this.actor;
      for (let message = this.mailbox.shift(); message !== undefined; message = this.mailbox.shift()) {
        actor.receive(message);
        if (epoch !== this.epoch) return;
      }
      actor.drained();
      this.world.afterDrain(this);
    });
  }

  private makeEnv(epoch: number): Env {
    const random = this.prng.fork(`random-${epoch}`);
    return {
      self: this.id,
      now: () => this.world.queue.now,
      random: () => random.float(),
      send: (to, message) => {
        if (epoch === this.epoch) this.world.send(this.id, to, message);
      },
      timer: (delayMs, message) => {
        const id = this.nextTimer++;
        this.pendingTimers.add(id);
        this.world.queue.schedule(delayMs, () => {
          if (!this.pendingTimers.delete(id)) return;
          this.deliverInternal(message, epoch);
        });
        return id;
      },
      cancel: (id) => {
        this.pendingTimers.delete(id);
      },
      storage: this.disk,
      log: (level, event, fields) => {
        if (epoch === this.epoch) this.world.log(this.id, level, event, fields);
      },
    };
  }
}
