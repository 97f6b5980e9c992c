// What a running node reports about itself: one `NodeStats` object (served as JSON at
// `/stats` for the cluster dashboard) and the same figures as Prometheus metrics (served
// at `/metrics`), each registry private to its node so several nodes can share a process.
// Everything is read from the actors at the moment of the request, except the registry's
// block counts (up to a second old while the registry changes: see RegistryCounts);
// nothing is copied on the actors' paths except the peer message counters.

import { Counter, Gauge, Registry, collectDefaultMetrics } from 'prom-client';
import type { NodeStats } from '../../protocol/dashboard-feed.ts';
import type { NodeId } from '../../protocol/raft-messages.ts';
import { PlacementRing } from '../../protocol/ring.ts';
import type { BlockActor } from '../core/blocks/block-actor.ts';
import type { MetadataService } from '../core/metadata/service.ts';
import type { MetadataStateMachine } from '../core/metadata/state-machine.ts';
import type { RaftActor } from '../core/raft/raft-actor.ts';
import type { PeerTraffic } from './peer-traffic.ts';

/** Where the figures come from; the getters return null until the actor exists. */
export interface TelemetrySources {
  id: NodeId;
  replication: number;
  virtualNodes: number;
  raft: () => RaftActor | null;
  service: () => MetadataService | null;
  stateMachine: MetadataStateMachine;
  blocks: () => BlockActor | null;
  sessions: () => number;
  traffic: PeerTraffic;
}

/** While the registry keeps changing, its counts are redone at most this often. */
export const registryRecountMs = 1000;

/**
 * The registry's block counts for `/stats` and `/metrics`. Counting walks every registered
 * block (about 33 ms per million), and the cluster dashboard asks each node four times a
 * second: the counts are kept while the registry and ring are unchanged, and redone at
 * most once every `registryRecountMs` while they change.
 */
export class RegistryCounts {
  private last: { blocksVersion: number; ringEpoch: number; atMs: number; counts: { blocks: number; underReplicated: number } } | null = null;

  constructor(private readonly machine: Pick<MetadataStateMachine, 'blocksVersion' | 'ringEpoch' | 'registryCounts'>, private readonly replication: number) {}

  get(nowMs: number): { blocks: number; underReplicated: number } {
    const { blocksVersion, ringEpoch } = this.machine;
    const last = this.last;
    if (last && ((last.blocksVersion === blocksVersion && last.ringEpoch === ringEpoch) || nowMs - last.atMs < registryRecountMs)) return last.counts;
    const counts = this.machine.registryCounts(this.replication);
    this.last = { blocksVersion, ringEpoch, atMs: nowMs, counts };
    return counts;
  }
}

/** Points sampled around the ring to estimate a node's share; enough for a share to ±0.5 %. */
const ringSamples = 4096;
const roles = ['leader', 'follower', 'candidate', 'learner'] as const;

/** One node's stats and Prometheus registry. */
export class NodeTelemetry {
  readonly registry = new Registry();
  private readonly startedMs = Date.now();
  private ringShareCache: { key: string; share: number } | null = null;
  private readonly registryCounts: RegistryCounts;

  constructor(private readonly sources: TelemetrySources) {
    this.registryCounts = new RegistryCounts(sources.stateMachine, sources.replication);
    this.registry.setDefaultLabels({ node: sources.id });
    collectDefaultMetrics({ register: this.registry, prefix: 'raftbox_' });
    this.registerRaft();
    this.registerBlocks();
    this.registerTraffic();
  }

  /** The node's figures now, or null before its Raft actor has started. */
  stats(): NodeStats | null {
    const actor = this.sources.raft();
    if (!actor) return null;
    const raft = actor.raft;
    const soft = raft.softState();
    const machine = this.sources.stateMachine;
    const info = this.sources.service()?.nodeInfo(actor);
    const registry = this.registryCounts.get(Date.now());
    const repair = this.sources.blocks()?.repairStats;
    const scrub = this.sources.blocks()?.scrubStats;
    const traffic = this.sources.traffic;
    const role = actor.config.learners.includes(this.sources.id) ? 'learner' : soft.role === 'leader' ? 'leader' : soft.role === 'follower' ? 'follower' : 'candidate';
    const contact = role === 'leader' ? 0 : traffic.lastLeaderContactMs === null ? null : Date.now() - traffic.lastLeaderContactMs;
    return {
      id: this.sources.id,
      role,
      term: soft.term,
      leader: soft.lead,
      commitIndex: raft.log.committed,
      appliedIndex: raft.log.applied,
      lastIndex: raft.log.lastIndex(),
      logEntries: raft.log.lastIndex() - raft.log.snapshot.index,
      snapshotIndex: raft.log.snapshot.index,
      blocks: info?.blocks ?? 0,
      bytes: info?.bytes ?? 0,
      registeredBlocks: registry.blocks,
      underReplicated: registry.underReplicated,
      ringShare: this.ringShare(machine.liveNodes()),
      downNodes: machine.ringMembers().filter((node) => machine.isDown(node)),
      ringEpoch: machine.ringEpoch,
      sessions: this.sources.sessions(),
      leaderContactAgeMs: contact,
      messagesSent: traffic.sent,
      messagesReceived: traffic.received,
      messagesDropped: traffic.dropped,
      repair: { copiedBlocks: repair?.copiedBlocks ?? 0, copiedBytes: repair?.copiedBytes ?? 0, failedBlocks: repair?.failedBlocks ?? 0, queuedBlocks: repair?.queuedBlocks ?? 0 },
      scrub: { checked: scrub?.checked ?? 0, corrupt: scrub?.corrupt ?? 0, repaired: scrub?.repaired ?? 0 },
      chaos: traffic.chaos(),
      uptimeMs: Date.now() - this.startedMs,
    };
  }

  /** The Prometheus text exposition of every metric. */
  async metrics(): Promise<string> {
    this.scrape = this.stats();
    try {
      return await this.registry.metrics();
    } finally {
      this.scrape = null;
    }
  }

  // One scrape reads the actors once, however many metrics it fills from them.
  private scrape: NodeStats | null = null;

  private current(): NodeStats | null {
    return this.scrape ?? this.stats();
  }

  private ringShare(live: NodeId[]): number {
    if (!live.includes(this.sources.id)) return 0;
    const key = live.join(',');
    if (this.ringShareCache?.key === key) return this.ringShareCache.share;
    const ring = new PlacementRing(live, this.sources.virtualNodes);
    let owned = 0;
    for (let i = 0; i < ringSamples; i++) {
      const point = Math.floor((i + 0.5) * (2 ** 32 / ringSamples));
      if (ring.owners(point.toString(16).padStart(8, '0'), 1)[0] === this.sources.id) owned++;
    }
    this.ringShareCache = { key, share: owned / ringSamples };
    return this.ringShareCache.share;
  }

  private gauge(name: string, help: string, read: (stats: NodeStats) => number): void {
    const telemetry = this;
    new Gauge({
      name,
      help,
      registers: [this.registry],
      collect() {
        const stats = telemetry.current();
        if (stats) this.set(read(stats));
      },
    });
  }

  /** A counter whose total is kept elsewhere (by an actor); it is set to that total at each scrape. */
  private total(name: string, help: string, read: (stats: NodeStats) => number): void {
    const telemetry = this;
    new Counter({
      name,
      help,
      registers: [this.registry],
      collect() {
        const stats = telemetry.current();
        if (!stats) return;
        this.reset();
        this.inc(read(stats));
      },
    });
  }

  private registerRaft(): void {
    this.gauge('raftbox_raft_term', 'The current Raft term.', (s) => s.term);
    this.gauge('raftbox_raft_commit_index', 'The highest log index known committed.', (s) => s.commitIndex);
    this.gauge('raftbox_raft_applied_index', 'The highest log index applied to the metadata state machine.', (s) => s.appliedIndex);
    this.gauge('raftbox_raft_last_index', 'The index of the last entry in the log.', (s) => s.lastIndex);
    this.gauge('raftbox_raft_log_entries', 'Entries held in the log after the snapshot.', (s) => s.logEntries);
    this.gauge('raftbox_raft_snapshot_index', 'The log index the latest snapshot covers.', (s) => s.snapshotIndex);
    this.gauge('raftbox_raft_is_leader', '1 when this node leads, else 0.', (s) => (s.role === 'leader' ? 1 : 0));
    this.gauge('raftbox_raft_leader_contact_age_seconds', 'Seconds since a leader last sent this node an append or heartbeat (0 on the leader).', (s) => (s.leaderContactAgeMs ?? 0) / 1000);
    const telemetry = this;
    new Gauge({
      name: 'raftbox_raft_role',
      help: 'This node\'s Raft role: 1 for the current role, 0 for the others.',
      labelNames: ['role'],
      registers: [this.registry],
      collect() {
        const stats = telemetry.current();
        if (!stats) return;
        for (const role of roles) this.set({ role }, stats.role === role ? 1 : 0);
      },
    });
    this.gauge('raftbox_sessions', 'Client sessions connected to this node.', (s) => s.sessions);
  }

  private registerBlocks(): void {
    this.gauge('raftbox_blocks_stored', 'Block copies held on this node\'s disk.', (s) => s.blocks);
    this.gauge('raftbox_block_bytes_stored', 'Bytes of the block copies held on this node\'s disk.', (s) => s.bytes);
    this.gauge('raftbox_blocks_registered', 'Distinct blocks the metadata knows.', (s) => s.registeredBlocks);
    this.gauge('raftbox_blocks_under_replicated', 'Blocks with fewer live copies than the replication factor.', (s) => s.underReplicated);
    this.gauge('raftbox_ring_share_ratio', 'The fraction of the placement ring this node holds as first replica.', (s) => s.ringShare);
    this.gauge('raftbox_nodes_down', 'Nodes the log holds down.', (s) => s.downNodes.length);
    this.gauge('raftbox_repair_queued_blocks', 'Blocks waiting to be re-replicated or repaired by this node.', (s) => s.repair.queuedBlocks);
    this.total('raftbox_repair_copied_blocks_total', 'Blocks this node re-replicated or repaired from a peer.', (s) => s.repair.copiedBlocks);
    this.total('raftbox_repair_copied_bytes_total', 'Bytes this node re-replicated or repaired from a peer.', (s) => s.repair.copiedBytes);
    this.total('raftbox_repair_failed_blocks_total', 'Block repairs that failed.', (s) => s.repair.failedBlocks);
    this.total('raftbox_scrub_checked_blocks_total', 'Blocks the scrubber re-hashed.', (s) => s.scrub.checked);
    this.total('raftbox_scrub_corrupt_blocks_total', 'Block copies the scrubber found corrupt.', (s) => s.scrub.corrupt);
  }

  private registerTraffic(): void {
    const traffic = this.sources.traffic;
    for (const [name, byType, help] of [
      ['raftbox_peer_messages_sent_total', traffic.sentByType, 'Messages sent to peers, by message type.'],
      ['raftbox_peer_messages_received_total', traffic.receivedByType, 'Messages received from peers, by message type.'],
    ] as const) {
      new Counter({
        name,
        help,
        labelNames: ['type'],
        registers: [this.registry],
        collect() {
          this.reset();
          for (const [type, count] of byType) this.inc({ type }, count);
        },
      });
    }
    this.total('raftbox_peer_messages_dropped_total', 'Messages to peers dropped by chaos faults.', (s) => s.messagesDropped);
  }
}
