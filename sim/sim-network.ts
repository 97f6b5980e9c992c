import type { EventQueue } from './event-queue.ts';
import type { Prng } from './prng.ts';

export interface NetworkConditions {
  /** Probability that a message is dropped. */
  loss: number;
  /** Probability that a message is delivered twice. */
  duplicate: number;
  /** One-way delay: base plus a uniform jitter, in ms. */
  delayMs: number;
  jitterMs: number;
  /** Probability that a message is held back for up to `longDelayMs` (long reordering). */
  longDelay: number;
  longDelayMs: number;
  /** Whether a link may deliver out of order. Real links (TCP) are FIFO; reordering is a fault. */
  reorder: boolean;
}

export const calmNetwork: NetworkConditions = { loss: 0, duplicate: 0, delayMs: 1, jitterMs: 1, longDelay: 0, longDelayMs: 0, reorder: false };

/**
 * The simulated network between nodes and clients. Links are directed, so a partition
 * can be one-way; a cut link drops messages silently, as a real one would. Messages are
 * handed over as the same objects: every actor treats received messages and their entries
 * as immutable, which the codec tests and real hosts (which copy) make safe.
 */
export class SimNetwork {
  conditions: NetworkConditions = { ...calmNetwork };
  private cut = new Set<string>();
  /** Extra one-way delay per link, for "slow a link" faults. */
  private slow = new Map<string, number>();
  /** When the last message on each link is due, to keep links FIFO when reordering is off. */
  private lastDue = new Map<string, number>();
  sent = 0;
  delivered = 0;
  dropped = 0;

  constructor(
    private readonly queue: EventQueue,
    private readonly prng: Prng,
    private readonly deliver: (from: string, to: string, message: unknown) => void,
  ) {}

  send(from: string, to: string, message: unknown): void {
    this.sent++;
    if (this.cut.has(link(from, to)) || this.prng.chance(this.conditions.loss)) {
      this.dropped++;
      return;
    }
    const copies = this.prng.chance(this.conditions.duplicate) ? 2 : 1;
    for (let i = 0; i < copies; i++) {
      let delay = this.delayOf(from, to);
      if (!this.conditions.reorder) {
        const key = link(from, to);
        delay = Math.max(delay, (this.lastDue.get(key) ?? 0) - this.queue.now);
        this.lastDue.set(key, this.queue.now + delay);
      }
      this.queue.schedule(delay, () => {
        // A link cut while the message was in flight loses it too.
        if (this.cut.has(link(from, to))) {
          this.dropped++;
          return;
        }
        this.delivered++;
        this.deliver(from, to, message);
      });
    }
  }

  /** Cut (or heal) the link in one direction. */
  setLink(from: string, to: string, up: boolean): void {
    if (up) this.cut.delete(link(from, to));
    else this.cut.add(link(from, to));
  }

  isCut(from: string, to: string): boolean {
    return this.cut.has(link(from, to));
  }

  /** Split nodes into groups that cannot reach each other. Clients keep reaching every node. */
  partition(groups: string[][]): void {
    this.cut.clear();
    for (const a of groups) for (const b of groups) if (a !== b) for (const x of a) for (const y of b) this.cut.add(link(x, y));
  }

  /** Cut `node` off from every peer, both ways. */
  isolate(node: string, peers: string[]): void {
    for (const peer of peers) {
      if (peer === node) continue;
      this.cut.add(link(node, peer));
      this.cut.add(link(peer, node));
    }
  }

  setSlow(from: string, to: string, extraMs: number): void {
    if (extraMs > 0) this.slow.set(link(from, to), extraMs);
    else this.slow.delete(link(from, to));
  }

  healAll(): void {
    this.cut.clear();
    this.slow.clear();
    this.conditions = { ...calmNetwork };
  }

  private delayOf(from: string, to: string): number {
    const c = this.conditions;
    let delay = c.delayMs + this.prng.float() * c.jitterMs + (this.slow.get(link(from, to)) ?? 0);
    if (this.prng.chance(c.longDelay)) delay += this.prng.float() * c.longDelayMs;
    return delay;
  }
}

function link(from: string, to: string): string {
  return from + '>' + to;
}
