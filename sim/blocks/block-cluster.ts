// The block model of the simulator: N nodes, each a metadata actor (the real RaftActor
// over the real MetadataStateMachine and MetadataService) and a block actor (the real
// BlockActor, reading that state machine as its directory), on simulated disks and the
// simulated network. A client uploads, deletes and collects garbage while nodes crash
// and block copies are corrupted, never more than R−1 failures at once.
//
// Checkers: (a) no block that a retained version refers to is ever without a good copy
// on some disk, and after healing every such block is back at R good copies; (b) garbage
// collection never forgets a block a retained version refers to.

import type { LogLevel } from '../../node/core/actor/env.ts';
import type { BlockDirectory } from '../../node/core/blocks/block-directory.ts';
import { BlockActor } from '../../node/core/blocks/block-actor.ts';
import { packedBlocks, packFile } from '../../node/core/blocks/pack-format.ts';
import { MetadataService } from '../../node/core/metadata/service.ts';
import { MetadataStateMachine } from '../../node/core/metadata/state-machine.ts';
import { defaultRaftActorOptions, RaftActor } from '../../node/core/raft/raft-actor.ts';
import { EventQueue } from '../event-queue.ts';
import { Prng } from '../prng.ts';
import { SimNetwork } from '../sim-network.ts';
import { SimNode } from '../sim-node.ts';
import type { CheckFailure } from '../types.ts';
import { BlockClient } from './block-client.ts';
import { simHash } from './sim-hash.ts';

export interface BlockSimOptions {
  seed: number;
  nodes: number;
  replication: number;
  durationMs: number;
  /** Quiet time after healing for repair to restore every copy. */
  settleMs: number;
  /** How often the checkers look at every disk. */
  checkIntervalMs: number;
}

export const defaultBlockSim: Omit<BlockSimOptions, 'seed'> = { nodes: 5, replication: 3, durationMs: 30_000, settleMs: 15_000, checkIntervalMs: 500 };

export interface BlockSimResult {
  seed: number;
  ok: boolean;
  failures: CheckFailure[];
  uploads: number;
  deletes: number;
  gcPasses: number;
  crashes: number;
  corruptions: number;
  events: number;
}

interface BlockSimNode {
  id: string;
  meta: SimNode<RaftActor>;
  blocks: SimNode<BlockActor>;
  stateMachine: MetadataStateMachine | null;
}

const metadataTiming = { heartbeatIntervalMs: 250, downAfterMs: 1500, gcGraceMs: 2000, gcIntervalMs: 3000 };
const blockTiming = { dropProtectMs: 1000, repairScanIntervalMs: 100, repairFullScanIntervalMs: 5000, scrubBytesPerSecond: 64 * 1024, scrubTickMs: 500, scrubBlockBytesMin: 1024, orphanGraceMs: 2000, orphanSweepIntervalMs: 2000, replicateTimeoutMs: 1000, registerTimeoutMs: 1500 };

/** See the file comment. Build one per seed and call `run`. */
export class BlockSimCluster {
  readonly queue = new EventQueue();
  readonly prng: Prng;
  readonly network: SimNetwork;
  readonly nodes: BlockSimNode[] = [];
  readonly client: BlockClient;
  readonly failures: CheckFailure[] = [];
  private crashes = 0;
  private corruptions = 0;
  /** Nodes down or holding a corrupted file right now: at most R−1. */
  private failed = new Set<string>();

  constructor(readonly options: BlockSimOptions) {
    this.prng = new Prng(options.seed);
    this.network = new SimNetwork(this.queue, this.prng.fork('network'), (_from, to, message) => this.route(to, message));
    const ids = Array.from({ length: options.nodes }, (_, i) => `n${i + 1}`);
    for (const id of ids) this.nodes.push(this.makeNode(id, ids));
    const upIds = () => this.nodes.filter((node) => node.meta.up).map((node) => node.id);
    this.client = new BlockClient(() => (upIds().length > 0 ? upIds() : ids), this.queue, this.prng.fork('client'), (to, message) => this.network.send('client/blocks', to, message));
  }

  run(): BlockSimResult {
    for (const node of this.nodes) {
      node.meta.start();
      node.blocks.start();
    }
    this.client.start();
    this.scheduleFaults(this.prng.fork('faults'));
    this.scheduleChecks();
    this.queue.runUntil(this.options.durationMs);
    this.client.stop();
    for (const node of this.nodes) this.restart(node);
    this.failed.clear();
    this.queue.runUntil(this.options.durationMs + this.options.settleMs);
    this.checkNoLoss(true);
    return {
      seed: this.options.seed,
      ok: this.failures.length === 0,
      failures: this.failures.slice(0, 5),
      uploads: this.client.uploads,
      deletes: this.client.deletes,
      gcPasses: this.client.gcPasses,
      crashes: this.crashes,
      corruptions: this.corruptions,
      events: this.queue.processed,
    };
  }

  private makeNode(id: string, ids: string[]): BlockSimNode {
    const world = (afterDrain: () => void) => ({
      queue: this.queue,
      send: (from: string, to: string, message: unknown) => this.network.send(from, to, message),
      log: (_node: string, _level: LogLevel, _event: string) => {},
      afterDrain,
    });
    const node: BlockSimNode = { id, meta: null!, blocks: null!, stateMachine: null };
    const nodes = ids.map((other) => ({ id: other, url: `sim://${other}` }));
    node.meta = new SimNode<RaftActor>(id, world(() => {}), this.prng.fork(`meta-${id}`), { tear: false }, (env) => {
      const stateMachine = (node.stateMachine = new MetadataStateMachine({ ringMembers: ids }));
      const service = new MetadataService(env, { ...metadataTiming, node: id, clusterId: 'sim', nodes, replication: this.options.replication, virtualNodes: 16 }, stateMachine);
      return new RaftActor(env, { ...defaultRaftActorOptions, snapshotEntries: 500, segmentBytesMax: 64 * 1024, id, initialVoters: ids }, stateMachine, (message, actor) => service.handle(message, actor));
    });
    const directory = currentDirectory(() => node.stateMachine);
    node.blocks = new SimNode<BlockActor>(`${id}/blocks`, world(() => {}), this.prng.fork(`blocks-${id}`), { tear: false }, (env) => {
      return new BlockActor(env, { ...blockTiming, node: id, nodes: ids, replication: this.options.replication, virtualNodes: 16, sha256: simHash, directory });
    });
    return node;
  }

  private route(to: string, message: unknown): void {
    if (to === this.client.address) return this.client.receive(message);
    const slash = to.indexOf('/');
    const node = this.nodes.find((n) => n.id === (slash === -1 ? to : to.slice(0, slash)));
    if (!node) return;
    if (slash === -1) return node.meta.deliver(message);
    // Client sessions live on the metadata actor's host in production; here the client has its own address.
    if (to.endsWith('/blocks')) return node.blocks.deliver(message);
  }

  // ------------------------------------------------------------------ faults

  private scheduleFaults(prng: Prng): void {
    const budget = this.options.replication - 1;
    const next = (): void => {
      const delayMs = prng.int(500, 3000);
      this.queue.schedule(delayMs, () => {
        if (this.queue.now >= this.options.durationMs) return;
        next();
        if (this.failed.size >= budget) return;
        const healthy = this.nodes.filter((node) => !this.failed.has(node.id));
        const victim = prng.pick(healthy);
        if (prng.chance(0.6)) this.crash(victim, prng.int(500, 6000));
        else this.corrupt(victim, prng);
      });
    };
    next();
  }

  private crash(node: BlockSimNode, downMs: number): void {
    this.crashes++;
    this.failed.add(node.id);
    node.meta.crash();
    node.blocks.crash();
    node.stateMachine = null;
    this.queue.schedule(downMs, () => {
      this.restart(node);
      // A restarted node counts as failed until it has had time to catch up and be repaired.
      this.queue.schedule(8000, () => this.failed.delete(node.id));
    });
  }

  private restart(node: BlockSimNode): void {
    if (!node.meta.up) node.meta.start();
    if (!node.blocks.up) node.blocks.start();
  }

  // A flipped bit in one block copy: the owner is failed until scrub or a read replaces the copy.
  private corrupt(node: BlockSimNode, prng: Prng): void {
    const held = [...packedBlocks(node.blocks.disk).values()];
    if (held.length === 0) return;
    const copy = prng.pick(held);
    if (!node.blocks.disk.corrupt(packFile(copy.pack), copy.offset + prng.int(0, copy.length - 1))) return;
    this.corruptions++;
    this.failed.add(node.id);
    this.queue.schedule(8000, () => this.failed.delete(node.id));
  }

  // ------------------------------------------------------------------ checkers

  private scheduleChecks(): void {
    const tick = (): void => {
      this.checkNoLoss(false);
      this.checkGcKeepsReferenced();
      if (this.queue.now < this.options.durationMs) this.queue.schedule(this.options.checkIntervalMs, tick);
    };
    this.queue.schedule(this.options.checkIntervalMs, tick);
  }

  /** The most advanced state machine among the nodes up: what the cluster has decided. */
  private latest(): MetadataStateMachine | null {
    let best: MetadataStateMachine | null = null;
    for (const node of this.nodes) if (node.stateMachine && (!best || node.stateMachine.appliedIndex > best.appliedIndex)) best = node.stateMachine;
    return best;
  }

  /** (a): every referenced block has a good copy somewhere; at the end, R good copies on the nodes. */
  private checkNoLoss(final: boolean): void {
    if (this.failures.length > 0) return;
    const sm = this.latest();
    if (!sm) return;
    const held = this.nodes.map((node) => ({ disk: node.blocks.disk, copies: packedBlocks(node.blocks.disk) }));
    for (const hash of referencedBlocks(sm)) {
      const good = held.filter(({ disk, copies }) => {
        const copy = copies.get(hash);
        const data = copy === undefined ? null : disk.readRange(packFile(copy.pack), copy.offset, copy.length);
        return data !== null && simHash(data) === hash;
      }).length;
      const wanted = final ? this.options.replication : 1;
      if (good >= wanted) continue;
      const when = final ? `${this.options.settleMs} ms after every fault healed` : `at ${this.queue.now} ms`;
      this.failures.push({ checker: 'block-loss', message: `block ${hash.slice(0, 12)}…, referenced by a retained version, has ${good} good copies ${when}; want at least ${wanted}` });
      return;
    }
  }

  /** (b): a block a retained version refers to is never forgotten by the registry, so GC never deletes it. */
  private checkGcKeepsReferenced(): void {
    if (this.failures.length > 0) return;
    for (const node of this.nodes) {
      const sm = node.stateMachine;
      if (!sm) continue;
      const forgotten = sm.missingBlocks([...referencedBlocks(sm)]);
      if (forgotten.length === 0) continue;
      this.failures.push({ checker: 'gc-referenced', message: `node ${node.id} at index ${sm.appliedIndex}: block ${forgotten[0]!.slice(0, 12)}… is referenced by a retained version but not registered` });
      return;
    }
  }
}

/** Runs one seed of the block model. */
export function runBlockSeed(seed: number, options: Partial<Omit<BlockSimOptions, 'seed'>> = {}): BlockSimResult {
  return new BlockSimCluster({ ...defaultBlockSim, ...options, seed }).run();
}

function referencedBlocks(sm: MetadataStateMachine): Set<string> {
  const hashes = new Set<string>();
  for (const file of sm.list('default', '', true)) for (const version of sm.history('default', file.path)) for (const block of version.blocks) hashes.add(block.hash);
  return hashes;
}

// The block actor outlives no crash, but the state machine it reads is rebuilt on each
// restart of the metadata actor. A rebuilt one numbers its registry versions afresh, so
// the first question about changes after a rebuild is answered "look at everything".
function currentDirectory(current: () => MetadataStateMachine | null): BlockDirectory {
  const empty = new MetadataStateMachine();
  const sm = () => current() ?? empty;
  let askedOf: MetadataStateMachine | null = null;
  return {
    get blocksVersion() {
      return sm().blocksVersion;
    },
    get ringEpoch() {
      return sm().ringEpoch;
    },
    liveNodes: () => sm().liveNodes(),
    ringMembers: () => sm().ringMembers(),
    isDown: (node) => sm().isDown(node),
    block: (hash) => sm().block(hash),
    blocks: () => sm().blocks(),
    ownersChangedSince: (version) => {
      const asked = sm();
      const known = asked === askedOf;
      askedOf = asked;
      return known ? asked.ownersChangedSince(version) : null;
    },
  };
}
