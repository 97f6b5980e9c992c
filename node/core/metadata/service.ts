// The client-facing side of a node's metadata: it turns request messages into
// linearizable reads (ReadIndex) and log proposals at the leader, forwards them once from
// a follower, answers cluster questions locally, and pushes applied commits to watchers.
// The RaftActor hands it every message that is not Raft's own.

import { isRaftboxError, raftboxError } from '../../../protocol/errors.ts';
import { entryBytesMax } from '../../../protocol/limits.ts';
import { normalizePath, normalizePrefix } from '../../../protocol/paths.ts';
import type { NodeId } from '../../../protocol/raft-messages.ts';
import {
  defaultNamespace,
  type Address,
  type BlockStatsMessage,
  type ClusterMap,
  type NodeHeartbeatMessage,
  type FileInfo,
  type NodeAddress,
  type NodeStatus,
  type PushMessage,
  type Request,
  type RequestMessage,
  type ResponseMessage,
  type SessionClosedMessage,
  type WireError,
} from '../../../protocol/wire.ts';
import type { Env } from '../actor/env.ts';
import type { RaftActor, RaftFailure } from '../raft/raft-actor.ts';
import { checkCommand, checkNamespace, encodeCommand, toWireError, type ApplyResult, type MetadataCommand } from './commands.ts';
import { FailureDetector, type NodeChange } from './failure-detector.ts';
import { Membership, memberOutcome } from './membership.ts';
import { changesLimitDefault, changesLimitMax, type MetadataStateMachine } from './state-machine.ts';
import { StatusCollector, type StatusTimeoutMessage } from './status-collector.ts';
import { Watchers } from './watchers.ts';


/** Most files in one page of a listing. */
export const listPageFilesMax = 5000;
/** About how many bytes of file records one listing page carries: well inside a frame. */
export const listPageBytesMax = 2 * 1024 * 1024;
export interface MetadataServiceOptions {
  node: NodeId;
  clusterId: string;
  /** Every node of the cluster, in the order status reports them. */
  nodes: NodeAddress[];
  replication: number;
  virtualNodes: number;
  /** Proposals and reads waiting for Raft; past it, requests are refused `overloaded`. */
  proposalsMax: number;
  /** Watches this node serves. */
  watchersMax: number;
  /** How long `status` waits for the other nodes before reporting them down. */
  statusTimeoutMs: number;
  /** How often this node tells the leader it is alive. */
  heartbeatIntervalMs: number;
  /** How long the leader waits without a heartbeat before it declares a node down through the log. */
  downAfterMs: number;
  /** How long a block no retained version refers to is kept after it was last registered. */
  gcGraceMs: number;
  /** How often the leader runs a garbage-collection pass on its own. */
  gcIntervalMs: number;
}

export const defaultMetadataServiceOptions = {
  proposalsMax: 4096,
  watchersMax: 10_000,
  statusTimeoutMs: 500,
  heartbeatIntervalMs: 250,
  downAfterMs: 1500,
  gcGraceMs: 60 * 60 * 1000,
  gcIntervalMs: 10 * 60 * 1000,
};

/** Local message to the node's block actor: drop these blocks' copies (garbage collection). Never on the wire. */
export interface BlocksDropMessage {
  type: 'blocks.drop';
  hashes: string[];
}

type ServiceTimer = { type: 'metadata.heartbeatTick' } | { type: 'metadata.gcTick' } | { type: 'metadata.failureCheck' };

/** How often the leader looks for silent nodes; finer than the heartbeat so detection adds little to the timeout. */
const failureCheckMs = 50;

type Defaulted = keyof typeof defaultMetadataServiceOptions;

/** Status rounds gathered at once; each holds a timer and one probe per node. */
const statusRoundsMax = 64;
/** Hashes one `blocks.has` may ask about. */
const hashesPerQueryMax = 10_000;

type Reply = (result: unknown) => void;

/** See the file comment. Build one per node; pass `(m, r) => service.handle(m, r)` to the RaftActor. */
export class MetadataService {
  readonly options: MetadataServiceOptions;
  private pending = 0;
  private readonly watchers: Watchers;
  private readonly status: StatusCollector;
  private blockStats = { blocks: 0, bytes: 0 };
  private readonly detector: FailureDetector;
  /** The session this node's own proposals (node changes, GC passes) use; fresh per incarnation. */
  private readonly ownClient: string;
  private ownSeq = 0;
  private readonly proposingChanges = new Set<string>();
  private gcRunning = false;
  private readonly membership: Membership;

  constructor(
    private readonly env: Env,
    options: Omit<MetadataServiceOptions, Defaulted> & Partial<Pick<MetadataServiceOptions, Defaulted>>,
    private readonly stateMachine: MetadataStateMachine,
  ) {
    this.options = { ...defaultMetadataServiceOptions, ...options };
    this.watchers = new Watchers(this.options.watchersMax);
    const { node, clusterId, replication, virtualNodes } = this.options;
    this.membership = new Membership({ node, clusterId, replication, virtualNodes, initialNodes: this.options.nodes }, stateMachine, (raft, change, done) => {
      raft.propose(encodeCommand({ kind: 'member', client: this.ownClient, seq: ++this.ownSeq, ...change }), (outcome) => done(memberOutcome(outcome)));
    });
    this.status = new StatusCollector(env, this.options.node, () => this.membership.nodes(), this.options.statusTimeoutMs, statusRoundsMax);
    stateMachine.onCommit = (namespace, index, files) => this.push(namespace, index, files);
    stateMachine.onRestored = (previousIndex) => this.pushRestored(previousIndex);
    stateMachine.onBlocksDropped = (hashes) => this.env.send(`${this.options.node}/blocks`, { type: 'blocks.drop', hashes } satisfies BlocksDropMessage);
    this.detector = new FailureDetector(this.options.downAfterMs);
    this.ownClient = `${env.self}#own-${Math.floor(env.random() * 2 ** 48).toString(36)}`;
    env.timer(this.options.heartbeatIntervalMs, { type: 'metadata.heartbeatTick' } satisfies ServiceTimer);
    env.timer(this.options.gcIntervalMs, { type: 'metadata.gcTick' } satisfies ServiceTimer);
    env.timer(failureCheckMs, { type: 'metadata.failureCheck' } satisfies ServiceTimer);
  }

  /** Proposals and reads waiting for Raft now. */
  get pendingCount(): number {
    return this.pending;
  }

  /** Handles one message that is not Raft's own: a request, a probe's answer, a local notice or our own timer. */
  handle(message: unknown, raft: RaftActor): void {
    if (typeof message !== 'object' || message === null) return;
    const typed = message as { type?: unknown };
    switch (typed.type) {
      case 'request':
        return this.onRequest(message as RequestMessage, raft);
      case 'response':
        if (!this.status.onResponse(message as ResponseMessage)) this.env.log('debug', 'metadata.strayResponse', { id: (message as ResponseMessage).id });
        return;
      case 'metadata.statusTimeout':
        return this.status.onTimeout(message as StatusTimeoutMessage);
      case 'blocks.stats':
        return this.onBlockStats(message as BlockStatsMessage);
      case 'session.closed':
        return this.watchers.remove((message as SessionClosedMessage).address);
      case 'node.heartbeat':
        return this.onHeartbeat(message as NodeHeartbeatMessage, raft);
      case 'metadata.heartbeatTick':
        this.env.timer(this.options.heartbeatIntervalMs, { type: 'metadata.heartbeatTick' } satisfies ServiceTimer);
        return this.onHeartbeatTick(raft);
      case 'metadata.failureCheck':
        this.env.timer(failureCheckMs, { type: 'metadata.failureCheck' } satisfies ServiceTimer);
        this.detector.leading(raft.raft.softState().role === 'leader', this.env.now());
        return this.proposeNodeChanges(raft);
      case 'metadata.gcTick':
        this.env.timer(this.options.gcIntervalMs, { type: 'metadata.gcTick' } satisfies ServiceTimer);
        if (raft.raft.softState().role === 'leader' && !this.gcRunning) this.collectGarbage(raft, () => {});
        return;
      default:
        this.env.log('debug', 'metadata.unknownMessage', { type: String(typed.type) });
    }
  }

  private onRequest(message: RequestMessage, raft: RaftActor): void {
    if (typeof message.from !== 'string' || typeof message.id !== 'number') return;
    const reply: Reply = (result) => raft.reply(message.from, { type: 'response', id: message.id, ok: true, result } satisfies ResponseMessage);
    try {
      this.route(message, raft, reply);
    } catch (error) {
      if (!isRaftboxError(error)) throw error;
      this.fail(message, raft, toWireError(error));
    }
  }

  private route(message: RequestMessage, raft: RaftActor, reply: Reply): void {
    const request = message.request as Request | undefined;
    if (typeof request !== 'object' || request === null) throw raftboxError('bad_message', 'a request message must carry a request object');
    switch (request.op) {
      case 'stat':
      case 'list':
      case 'history':
      case 'changes':
        return this.read(message, raft, this.query(request), reply);
      case 'commit':
      case 'blocks.register':
      case 'blocks.release':
        return this.write(message, raft, request, reply);
      case 'node.join':
        if (!this.leading(message, raft)) return;
        return this.membership.join(raft, { node: request.node, url: request.url, voter: request.voter !== false }, (outcome) => (outcome.ok ? reply(outcome.result) : this.fail(message, raft, outcome.error)));
      case 'admin.remove-node':
        if (!this.leading(message, raft)) return;
        return this.membership.remove(raft, request.node, (outcome) => (outcome.ok ? reply(outcome.result) : this.fail(message, raft, outcome.error)));
      case 'watch':
        return this.watch(message.from, request, raft, reply);
      case 'unwatch':
        this.watchers.remove(message.from);
        return reply({});
      case 'cluster':
        return reply(this.clusterMap(raft));
      case 'node.info':
        return reply(this.nodeInfo(raft));
      case 'status':
        return this.status.start(this.nodeInfo(raft), raft.leader, (partial) => reply({ ...this.markDown(partial), replication: this.replication() }));
      case 'admin.scrub':
        return this.forwardScrub(message, raft);
      case 'admin.gc':
        if (!this.leading(message, raft)) return;
        return this.collectGarbage(raft, (outcome) => (outcome.ok ? reply(outcome.result) : this.fail(message, raft, outcome.error)));
      case 'blocks.has':
        return reply({ missing: this.stateMachine.missingBlocks(hashList(request.hashes)) });
      case 'blocks.put':
      case 'blocks.put-many':
      case 'blocks.get':
        throw raftboxError('bad_message', `${request.op} is served by the block actor, at address ${this.options.node}/blocks, not by the metadata actor`);
      default:
        throw raftboxError('bad_message', `unknown request op ${JSON.stringify((request as { op?: unknown }).op)}`);
    }
  }

  // ---------------------------------------------------------------- reads and writes

  /** Checks a read's arguments now (so bad ones fail before any hop) and returns the query to run once ReadIndex confirms. */
  private query(request: Extract<Request, { op: 'stat' | 'list' | 'history' | 'changes' }>): () => unknown {
    const namespace = checkNamespace(request.namespace ?? defaultNamespace);
    const sm = this.stateMachine;
    switch (request.op) {
      case 'stat': {
        const path = normalizePath(request.path);
        const version = request.version === undefined || request.version === null ? undefined : count(request.version, 'version', 1);
        return () => sm.stat(namespace, path, version);
      }
      case 'list': {
        const prefix = normalizePrefix(request.prefix ?? '');
        const includeDeleted = request.includeDeleted === true;
        const after = request.after === undefined || request.after === null ? undefined : normalizePath(request.after);
        const limit = Math.min(listPageFilesMax, request.limit === undefined || request.limit === null ? listPageFilesMax : count(request.limit, 'limit', 1));
        return () => sm.listPage(namespace, prefix, { includeDeleted, ...(after === undefined ? {} : { after }), limit, bytesMax: listPageBytesMax });
      }
      case 'history': {
        const path = normalizePath(request.path);
        return () => ({ versions: sm.history(namespace, path) });
      }
      case 'changes': {
        const cursor = count(request.cursor, 'cursor', 0);
        const limit = request.limit === undefined || request.limit === null ? changesLimitDefault : count(request.limit, 'limit', 1);
        if (limit > changesLimitMax) throw raftboxError('bad_message', `limit must be at most ${changesLimitMax}, got ${limit}`);
        return () => sm.changes(namespace, cursor, limit);
      }
    }
  }

  private read(message: RequestMessage, raft: RaftActor, query: () => unknown, reply: Reply): void {
    if (!this.leading(message, raft)) return;
    this.reserve();
    raft.read((outcome) => {
      this.pending--;
      if (!outcome.ok) return this.fail(message, raft, raftFailureError(outcome.failure));
      try {
        reply(query());
      } catch (error) {
        if (!isRaftboxError(error)) throw error;
        this.fail(message, raft, toWireError(error));
      }
    });
  }

  private write(message: RequestMessage, raft: RaftActor, request: Extract<Request, { op: 'commit' | 'blocks.register' | 'blocks.release' }>, reply: Reply): void {
    const command = commandOf(request);
    // The leader's clock starts the grace period garbage collection gives a new block.
    if (command.kind === 'register') command.atMs = Math.max(0, Math.floor(this.env.now()));
    const data = encodeCommand(command);
    if (data.length > entryBytesMax) throw raftboxError('bad_message', `the ${request.op} is ${data.length} bytes encoded, more than the ${entryBytesMax} one log entry holds; split it into smaller ones`);
    if (!this.leading(message, raft)) return;
    this.reserve();
    raft.propose(data, (outcome) => {
      this.pending--;
      if (!outcome.ok) return this.fail(message, raft, raftFailureError(outcome.failure));
      const result = outcome.result as ApplyResult;
      if (result.ok) reply(result.result);
      else this.fail(message, raft, result.error);
    });
  }

  /** True when this node leads; otherwise forwards the request once to the leader, or answers where to go. */
  private leading(message: RequestMessage, raft: RaftActor): boolean {
    if (raft.raft.softState().role === 'leader') return true;
    const leader = raft.leader;
    if (leader !== null && leader !== this.options.node && message.hops === 0) {
      raft.reply(leader, { ...message, hops: 1 } satisfies RequestMessage);
      return false;
    }
    if (leader !== null) throw raftboxError('not_leader', `this node is not the leader; send the request to ${leader}`, { leader });
    throw raftboxError('unavailable', 'no leader is known right now (an election may be under way); retry shortly', { leader: null });
  }

  private reserve(): void {
    if (this.pending >= this.options.proposalsMax) throw raftboxError('overloaded', `this node has ${this.pending} requests waiting for the log already; retry with backoff`);
    this.pending++;
  }

  private fail(message: RequestMessage, raft: RaftActor, error: WireError): void {
    raft.reply(message.from, { type: 'response', id: message.id, ok: false, error } satisfies ResponseMessage);
  }

  // ---------------------------------------------------------------- watches

  private watch(from: Address, request: Extract<Request, { op: 'watch' }>, raft: RaftActor, reply: Reply): void {
    const namespace = checkNamespace(request.namespace ?? defaultNamespace);
    const cursor = request.cursor === undefined || request.cursor === null ? null : count(request.cursor, 'cursor', 0);
    this.watchers.add(namespace, from);
    const reset = cursor !== null && this.pushBacklog(from, namespace, cursor, raft);
    reply(reset ? { cursor: this.stateMachine.appliedIndex, reset: true } : { cursor: this.stateMachine.appliedIndex });
  }

  /** Pushes what the feed holds after `cursor`, in pages; returns true when the feed no longer reaches back to it. */
  private pushBacklog(to: Address, namespace: string, cursor: number, raft: RaftActor): boolean {
    // A cursor ahead of this replica (it came from a node further along) has nothing to catch up on here.
    for (let at = cursor; at < this.stateMachine.appliedIndex; ) {
      const page = this.stateMachine.changes(namespace, at, changesLimitMax);
      if (page.reset) return true;
      if (page.changes.length > 0) raft.reply(to, { type: 'push', cursor: page.cursor, changes: page.changes } satisfies PushMessage);
      at = page.cursor;
    }
    return false;
  }

  private push(namespace: string, index: number, files: FileInfo[]): void {
    const message: PushMessage = { type: 'push', cursor: index, changes: files };
    for (const address of this.watchers.of(namespace)) this.env.send(address, message);
  }

  /**
   * A snapshot from the leader skipped this replica past commits it never applied one by
   * one, so no push went out for them: each watcher gets the current record of every path
   * written in between, in commit order. Pages end only between commits, as a client
   * skips a push whose cursor it has seen.
   */
  private pushRestored(previousIndex: number): void {
    for (const namespace of this.watchers.namespaces()) {
      const files = this.stateMachine.changedSince(namespace, previousIndex);
      for (let start = 0; start < files.length; ) {
        let end = Math.min(files.length, start + changesLimitDefault);
        while (end < files.length && files[end]!.index === files[end - 1]!.index) end++;
        this.push(namespace, files[end - 1]!.index, files.slice(start, end));
        start = end;
      }
    }
  }

  // ---------------------------------------------------------------- cluster

  private clusterMap(raft: RaftActor): ClusterMap {
    const { clusterId, replication, virtualNodes } = this.options;
    return { clusterId, nodes: this.membership.nodes(), leader: raft.leader, replication, virtualNodes };
  }

  /** Every ring member with the URL it listens at, as the cluster map lists them. */
  clusterNodes(): NodeAddress[] {
    return this.membership.nodes();
  }

  /** This node as `status` reports it. */
  nodeInfo(raft: RaftActor): NodeStatus {
    const soft = raft.raft.softState();
    const learner = raft.config.learners.includes(this.options.node);
    const role = learner ? 'learner' : soft.role === 'leader' ? 'leader' : soft.role === 'follower' ? 'follower' : 'candidate';
    const url = this.membership.nodes().find((node) => node.id === this.options.node)?.url ?? '';
    const log = raft.raft.log;
    return { id: this.options.node, url, role, term: soft.term, commitIndex: log.committed, appliedIndex: log.applied, ...this.blockStats };
  }

  private replication(): { factor: number; blocks: number; underReplicated: number; epoch: number } {
    const factor = Math.min(this.options.replication, Math.max(1, this.stateMachine.ringMembers().length || this.options.nodes.length));
    return { factor, ...this.stateMachine.registryCounts(this.options.replication), epoch: this.stateMachine.ringEpoch };
  }

  /** Nodes the log holds down are reported `down`, whatever a stale probe said. */
  private markDown<T extends { nodes: NodeStatus[] }>(partial: T): T {
    return { ...partial, nodes: partial.nodes.map((node) => (this.stateMachine.isDown(node.id) ? { ...node, role: 'down' as const } : node)) };
  }

  // ---------------------------------------------------------------- failure detection, scrub, GC

  private onHeartbeat(message: NodeHeartbeatMessage, raft: RaftActor): void {
    if (typeof message.node !== 'string') return;
    this.detector.heard(message.node, this.env.now(), this.stateMachine.ringMembers().includes(message.node));
    this.proposeNodeChanges(raft);
  }

  // Every node tells the leader it lives; the leader also checks whom it has not heard from.
  private onHeartbeatTick(raft: RaftActor): void {
    const isLeader = raft.raft.softState().role === 'leader';
    const now = this.env.now();
    this.detector.leading(isLeader, now);
    if (!isLeader) this.membership.tick(raft);
    if (isLeader) {
      this.membership.tick(raft);
      this.detector.heard(this.options.node, now, this.stateMachine.ringMembers().includes(this.options.node));
      return this.proposeNodeChanges(raft);
    }
    const leader = raft.leader;
    if (leader !== null) this.env.send(leader, { type: 'node.heartbeat', node: this.options.node } satisfies NodeHeartbeatMessage);
  }

  private proposeNodeChanges(raft: RaftActor): void {
    const changes = this.detector.due(this.env.now(), this.stateMachine.ringMembers(), (node) => this.stateMachine.isDown(node));
    for (const change of changes) this.proposeNodeChange(raft, change);
  }

  private proposeNodeChange(raft: RaftActor, change: NodeChange): void {
    const key = `${change.node}:${change.change}`;
    if (this.proposingChanges.has(key)) return;
    this.proposingChanges.add(key);
    this.env.log(change.change === 'down' ? 'warn' : 'info', `metadata.node${change.change === 'down' ? 'Down' : 'Up'}`, { node: change.node });
    raft.propose(encodeCommand({ kind: 'node', client: this.ownClient, seq: ++this.ownSeq, node: change.node, change: change.change }), () => this.proposingChanges.delete(key));
  }

  /** Proposes one GC pass with this leader's clock and grace period; `done` gets its report. */
  private collectGarbage(raft: RaftActor, done: (outcome: { ok: true; result: unknown } | { ok: false; error: WireError }) => void): void {
    this.gcRunning = true;
    const command: MetadataCommand = { kind: 'gc', client: this.ownClient, seq: ++this.ownSeq, nowMs: Math.max(0, Math.floor(this.env.now())), graceMs: this.options.gcGraceMs };
    raft.propose(encodeCommand(command), (outcome) => {
      this.gcRunning = false;
      if (!outcome.ok) return done({ ok: false, error: raftFailureError(outcome.failure) });
      const result = outcome.result as ApplyResult;
      if (result.ok) this.env.log('info', 'metadata.gc', result.result as Record<string, unknown>);
      done(result.ok ? { ok: true, result: result.result } : { ok: false, error: result.error });
    });
  }

  // A scrub runs where the blocks are: the request goes on to that node's block actor, which answers the client directly.
  private forwardScrub(message: RequestMessage, raft: RaftActor): void {
    const request = message.request as Extract<Request, { op: 'admin.scrub' }>;
    const node = request.node;
    if (typeof node !== 'string' || !this.stateMachine.ringMembers().includes(node)) {
      throw raftboxError('not_found', `there is no node ${JSON.stringify(node)} to scrub; the nodes are ${this.stateMachine.ringMembers().join(', ')}`);
    }
    if (this.stateMachine.isDown(node)) throw raftboxError('unavailable', `node ${node} is down, so its blocks cannot be scrubbed; start it again, or scrub another node`);
    raft.reply(`${node}/blocks`, message);
  }

  private onBlockStats(message: BlockStatsMessage): void {
    if (Number.isFinite(message.blocks) && Number.isFinite(message.bytes)) this.blockStats = { blocks: message.blocks, bytes: message.bytes };
  }
}

/** The command a write request proposes, its paths in NFC form, checked as every replica will check it. */
function commandOf(request: Extract<Request, { op: 'commit' | 'blocks.register' | 'blocks.release' }>): MetadataCommand {
  if (request.op === 'blocks.register') return checkCommand({ kind: 'register', client: request.client, seq: request.seq, blocks: request.blocks });
  if (request.op === 'blocks.release') return checkCommand({ kind: 'release', client: request.client, seq: request.seq, blocks: request.blocks });
  const changes = Array.isArray(request.changes)
    ? request.changes.map((change) => (typeof change === 'object' && change !== null ? { ...change, path: normalizePath(change.path) } : change))
    : request.changes;
  const namespace = request.namespace ?? defaultNamespace;
  return checkCommand({ kind: 'commit', namespace, client: request.client, seq: request.seq, device: request.device, changes, pathRules: 1 });
}

function raftFailureError(failure: RaftFailure): WireError {
  const details = { leader: failure.leader };
  if (failure.code === 'not_leader') return { code: 'not_leader', message: failure.message, details };
  if (failure.code === 'unknown') return { code: 'timeout', message: failure.message, details };
  return { code: 'unavailable', message: failure.message, details };
}

function count(value: unknown, name: string, min: number): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < min) throw raftboxError('bad_message', `${name} must be an integer of at least ${min}, got ${JSON.stringify(value)}`);
  return value;
}

function hashList(value: unknown): string[] {
  if (!Array.isArray(value) || value.length > hashesPerQueryMax || !value.every((hash) => typeof hash === 'string')) {
    throw raftboxError('bad_message', `hashes must be a list of at most ${hashesPerQueryMax} block hashes`);
  }
  return value;
}

