// Counts the messages a node exchanges with its peers, remembers when a leader last spoke
// to it, and, only when the node runs with `--chaos`, applies the faults the cluster
// dashboard asks for: links cut or slowed in the outgoing direction. Faults act on this
// node's own sends, so isolating a node means cutting its sends and every peer's sends
// to it; the supervisor that started the nodes does both.

import type { NodeId } from '../../protocol/raft-messages.ts';
import type { ChaosSettings } from '../../protocol/dashboard-feed.ts';

/** Messages held back by a slowed link at once; past it they are dropped, as a congested link would. */
const delayedMessagesMax = 10_000;
/** The longest delay a link may be given, so a typo cannot stall a link for hours. */
export const chaosDelayMsMax = 10_000;

/** Per-node traffic counters and the optional chaos faults on outgoing peer messages. */
export class PeerTraffic {
  sent = 0;
  received = 0;
  dropped = 0;
  readonly sentByType = new Map<string, number>();
  readonly receivedByType = new Map<string, number>();
  /** Wall-clock ms of the last append or heartbeat from a leader, or null. */
  lastLeaderContactMs: number | null = null;
  private cut = new Set<NodeId>();
  private delayMs = new Map<NodeId, number>();
  private delayed = 0;
  private releasing = false;
  private readonly timers = new Set<NodeJS.Timeout>();

  constructor(readonly chaosEnabled: boolean) {}

  /**
   * Called for every message about to go to peer `peer`. Returns true when the message
   * was taken (dropped by a cut link, or held to be sent later through `send`); false
   * when the caller should send it now.
   */
  outgoing(peer: NodeId, message: unknown, send: () => void): boolean {
    if (this.releasing) return false;
    this.count(this.sentByType, message);
    this.sent++;
    if (!this.chaosEnabled) return false;
    if (this.cut.has(peer)) {
      this.dropped++;
      return true;
    }
    const delay = this.delayMs.get(peer);
    if (delay === undefined) return false;
    if (this.delayed >= delayedMessagesMax) {
      this.dropped++;
      return true;
    }
    this.delayed++;
    const timer = setTimeout(() => {
      this.timers.delete(timer);
      this.delayed--;
      this.releasing = true;
      try {
        send();
      } finally {
        this.releasing = false;
      }
    }, delay);
    this.timers.add(timer);
    return true;
  }

  /** Called for every message a peer delivered to this node. */
  incoming(message: unknown): void {
    this.received++;
    const type = this.count(this.receivedByType, message);
    if (type === 'append' || type === 'heartbeat' || type === 'snapshot') this.lastLeaderContactMs = Date.now();
  }

  /** Replaces the chaos faults; throws a sentence when they are malformed or chaos is off. */
  setChaos(settings: ChaosSettings): void {
    if (!this.chaosEnabled) throw new Error('chaos controls are off on this node; start it with --chaos (raftbox cluster does)');
    const cut = new Set<NodeId>();
    for (const peer of settings.cut) cut.add(String(peer));
    const delays = new Map<NodeId, number>();
    for (const [peer, ms] of Object.entries(settings.delayMs)) {
      if (!Number.isFinite(ms) || ms < 0 || ms > chaosDelayMsMax) throw new Error(`a link delay must be between 0 and ${chaosDelayMsMax} ms, not ${ms}`);
      if (ms > 0) delays.set(peer, ms);
    }
    this.cut = cut;
    this.delayMs = delays;
  }

  chaos(): ChaosSettings | null {
    if (!this.chaosEnabled) return null;
    return { cut: [...this.cut].sort(), delayMs: Object.fromEntries(this.delayMs) };
  }

  /** Drops what slowed links still hold; the node is stopping. */
  close(): void {
    for (const timer of this.timers) clearTimeout(timer);
    this.timers.clear();
    this.delayed = 0;
  }

  private count(byType: Map<string, number>, message: unknown): string {
    const type = typeof message === 'object' && message !== null && typeof (message as { type?: unknown }).type === 'string' ? (message as { type: string }).type : 'unknown';
    // Types come from decoded frames, so the map is bounded by the protocol's message kinds.
    if (byType.has(type) || byType.size < 64) byType.set(type, (byType.get(type) ?? 0) + 1);
    return type;
  }
}
