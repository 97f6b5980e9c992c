// Where each request goes, and what happens when it fails there. The router keeps one
// connection per node URL (opened lazily), the cluster map learned from welcomes and
// `cluster` answers, and the placement ring built from it. A request that fails with a
// retryable error is sent again, to the next candidate node, after an exponential
// backoff with jitter, until it succeeds, a non-retryable error comes back, or the
// attempts or the deadline run out.

import { NodeConnection, type RequestOf } from './client-connection.ts';
import { asRaftboxError, isRetryable } from './client-errors.ts';
import type { ClientRuntime } from './client-runtime.ts';
import { raftboxError, RaftboxError } from './errors.ts';
import type { NodeId } from './raft-messages.ts';
import { PlacementRing } from './ring.ts';
import type { BlockHash, ClusterMap, PushFrame, RequestOp, Results } from './wire.ts';

/** Most times one request is sent before the router gives up. */
export const retryAttemptsMax = 24;
/** Longest a request keeps being retried, from its first send; checked between attempts, so one request timeout may run past it. */
export const retryDeadlineMs = 30_000;
/**
 * The first backoff; each retry grows it by half up to `backoffMaxMs`. Small and slowly
 * growing, because the usual cause is an election of about 200 ms: a client should be
 * back within a few tens of milliseconds of the new leader, not a doubling step later.
 */
export const backoffBaseMs = 10;
const backoffGrowth = 1.5;
export const backoffMaxMs = 2_000;
// How long a map refresh may take; it is best effort, so it must not eat the retry budget.
const mapRefreshTimeoutMs = 2_000;

export interface RouterOptions {
  servers: string[];
  token?: string;
  device?: string;
  runtime: ClientRuntime;
  requestTimeoutMs: number;
}

/** Which nodes may serve a request, best first; recomputed before every attempt, since the map may change. */
export type Route = () => string[];

/** A request's result and the URL of the node that answered it. */
export interface Answered<Op extends RequestOp> {
  result: Results[Op];
  url: string;
}

interface Sleeper {
  timer: unknown;
  reject: (error: RaftboxError) => void;
}

/**
 * Routes requests over the nodes of one cluster. Connections are bounded by the URLs it
 * knows: the `servers` it was given plus the nodes of the map (at most `clusterNodesMax`).
 */
export class ClusterRouter {
  map: ClusterMap | null = null;
  readonly runtime: ClientRuntime;
  /** Called with every push, from whichever connection it arrived on. */
  onPush: ((url: string, frame: PushFrame) => void) | null = null;
  /** Called when a connection closes, for whatever reason. */
  onConnectionClosed: ((url: string) => void) | null = null;
  private readonly options: RouterOptions;
  private readonly connections = new Map<string, NodeConnection>();
  private readonly sleepers = new Set<Sleeper>();
  private preferredUrl: string | null = null;
  private mapStale = false;
  private leaderAskedAt = -Infinity;
  private ring: { key: string; ring: PlacementRing } | null = null;
  private closed = false;

  constructor(options: RouterOptions) {
    if (options.servers.length === 0) throw raftboxError('bad_message', 'the client needs at least one server URL, such as ws://127.0.0.1:7001');
    this.options = options;
    this.runtime = options.runtime;
  }

  /** Sends a metadata request to the preferred node (any node will do: followers forward to the leader). */
  async metadata<Op extends RequestOp>(request: RequestOf<Op>): Promise<Answered<Op>> {
    // Without a known leader every request takes a forwarding hop, which costs the node
    // that forwards about as much as the leader's own work: learn the map first, and ask
    // again now and then while it names no leader.
    if ((this.map === null || this.map.leader === null) && request.op !== 'cluster' && this.runtime.now() - this.leaderAskedAt > leaderAskIntervalMs) {
      this.leaderAskedAt = this.runtime.now();
      await this.refreshMap().catch(() => undefined);
    }
    const answered = await this.send(request, () => this.metadataUrls());
    this.preferredUrl = answered.url;
    return answered;
  }

  /** Sends a block request to the block's nodes in ring preference order, learning the map first if needed. */
  async block<Op extends RequestOp>(request: RequestOf<Op>, hash: BlockHash): Promise<Answered<Op>> {
    if (this.map === null) await this.refreshMap();
    return this.send(request, () => this.blockUrls(hash));
  }

  /** Learns the current cluster map (op `cluster`), with retries; returns it. */
  async refreshMap(): Promise<ClusterMap> {
    const { result } = await this.metadata({ op: 'cluster' });
    this.map = result;
    this.mapStale = false;
    return result;
  }

  /** Closes every connection and wakes every sleeping retry with `unavailable`; the router cannot be used again. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    const error = closedError();
    for (const sleeper of this.sleepers) {
      this.runtime.clearTimer(sleeper.timer);
      sleeper.reject(error);
    }
    this.sleepers.clear();
    for (const connection of [...this.connections.values()]) connection.close('the client was closed');
    this.connections.clear();
  }

  get isClosed(): boolean {
    return this.closed;
  }

  /** Waits `ms` on the runtime's timer; rejects with `unavailable` if the router closes meanwhile. */
  sleep(ms: number): Promise<void> {
    if (this.closed) return Promise.reject(closedError());
    return new Promise((resolve, reject) => {
      const sleeper: Sleeper = { timer: null, reject };
      sleeper.timer = this.runtime.setTimer(ms, () => {
        this.sleepers.delete(sleeper);
        resolve();
      });
      this.sleepers.add(sleeper);
    });
  }

  /** The backoff before retry number `attempt` (0-based): growing from `backoffBaseMs`, half of it random. */
  backoffMs(attempt: number): number {
    const ceiling = Math.min(backoffMaxMs, backoffBaseMs * backoffGrowth ** Math.min(attempt, 30));
    return Math.round(ceiling / 2 + (ceiling / 2) * this.runtime.random());
  }

  /**
   * Sends `request` to the first untried candidate of `route`, retrying on retryable
   * errors as the file comment describes. The same request object is sent each time, so
   * a commit keeps its session sequence number and the cluster applies it once.
   */
  async send<Op extends RequestOp>(request: RequestOf<Op>, route: Route): Promise<Answered<Op>> {
    const started = this.runtime.now();
    const tried = new Set<string>();
    // Built only once a try fails: an Error's stack trace costs more than a small request.
    let lastError: RaftboxError | null = null;
    for (let attempt = 0; attempt < retryAttemptsMax; attempt++) {
      if (this.closed) throw closedError();
      const url = pickUntried(route(), tried);
      try {
        return { result: await this.sendOnce(url, request), url };
      } catch (error) {
        lastError = asRaftboxError(error);
        if (!isRetryable(lastError) || this.closed) throw lastError;
      }
      this.afterFailure(url, lastError, tried);
      const delayMs = this.backoffMs(attempt);
      if (this.runtime.now() + delayMs - started > retryDeadlineMs) break;
      await this.sleep(delayMs);
    }
    const elapsedMs = this.runtime.now() - started;
    lastError ??= raftboxError('unavailable', 'no node was tried');
    throw new RaftboxError(lastError.code, `gave up on ${request.op} after ${elapsedMs} ms of retries; last error: ${lastError.message}`, { ...lastError.details, op: request.op });
  }

  /** Tells whether an open connection to `url` exists right now. */
  isConnected(url: string): boolean {
    return this.connections.get(url)?.isOpen ?? false;
  }

  /** Sends `request` once on the open connection to `url`, if there is one, and ignores the outcome. */
  async tellIfConnected<Op extends RequestOp>(url: string, request: RequestOf<Op>): Promise<void> {
    const connection = this.connections.get(url);
    if (!connection?.isOpen) return;
    await connection.request(request).catch(() => undefined);
  }

  private async sendOnce<Op extends RequestOp>(url: string, request: RequestOf<Op>): Promise<Results[Op]> {
    const connection = this.connection(url);
    await connection.ready();
    if (this.mapStale && request.op !== 'cluster') await this.refreshMapOn(connection);
    return connection.request(request);
  }

  // A failed node is skipped for the rest of the round; a leader hint jumps the queue.
  private afterFailure(url: string, error: RaftboxError, tried: Set<string>): void {
    tried.add(url);
    this.mapStale = true;
    if (this.preferredUrl === url) this.preferredUrl = null;
    // `leader` is the documented key; `leaderHint` is what wire.ts called it first.
    const hint = error.code === 'not_leader' ? (error.details?.leader ?? error.details?.leaderHint) : undefined;
    const hintUrl = typeof hint === 'string' ? this.urlOf(hint) : null;
    if (hintUrl !== null) {
      tried.delete(hintUrl);
      this.preferredUrl = hintUrl;
      // The hint is fresher than the map: it becomes the leader metadata requests try first.
      if (this.map !== null && typeof hint === 'string') this.map = { ...this.map, leader: hint };
    }
  }

  private async refreshMapOn(connection: NodeConnection): Promise<void> {
    try {
      this.map = await connection.request({ op: 'cluster' }, mapRefreshTimeoutMs);
      this.mapStale = false;
    } catch {
      // Best effort: the request itself decides whether this node is usable.
    }
  }

  private connection(url: string): NodeConnection {
    const existing = this.connections.get(url);
    if (existing && !existing.isClosed) return existing;
    const connection = new NodeConnection({
      url,
      runtime: this.runtime,
      requestTimeoutMs: this.options.requestTimeoutMs,
      ...(this.options.token === undefined ? {} : { token: this.options.token }),
      ...(this.options.device === undefined ? {} : { device: this.options.device }),
      onPush: (from, frame) => this.onPush?.(from.url, frame),
      onClose: (closed) => this.forget(closed),
    });
    if (!connection.isClosed) this.connections.set(url, connection);
    connection.ready().then((welcome) => this.onWelcome(connection, welcome.map), () => undefined);
    return connection;
  }

  private onWelcome(connection: NodeConnection, map: ClusterMap): void {
    if (this.map !== null && this.map.clusterId !== map.clusterId) {
      connection.close(`${connection.url} belongs to cluster ${map.clusterId}, not ${this.map.clusterId}`);
      return;
    }
    this.map = map;
    this.mapStale = false;
  }

  private forget(connection: NodeConnection): void {
    if (this.connections.get(connection.url) === connection) this.connections.delete(connection.url);
    // The next metadata request should not begin at a node that just went away.
    if (this.preferredUrl === connection.url) this.preferredUrl = null;
    if (!this.closed) this.onConnectionClosed?.(connection.url);
  }

  /**
   * Every URL that can take metadata requests, best first: the leader as last known (it
   * answers without a forwarding hop), the last node that answered, the map, the given
   * servers. The map is refreshed after any failure, so a new leader is found quickly.
   */
  metadataUrls(): string[] {
    const leader = this.map?.leader ? this.urlOf(this.map.leader) : null;
    const mapUrls = this.map?.nodes.map((node) => node.url) ?? [];
    return unique([leader, this.preferredUrl, ...mapUrls, ...this.options.servers]);
  }

  /** The URLs of every node in the block's ring preference order; the metadata URLs when no map is known. */
  blockUrls(hash: BlockHash): string[] {
    if (this.map === null || this.map.nodes.length === 0) return this.metadataUrls();
    return unique(this.placement(this.map).preference(hash).map((id) => this.urlOf(id)));
  }

  private placement(map: ClusterMap): PlacementRing {
    const ids = map.nodes.map((node) => node.id);
    const key = `${map.virtualNodes}:${ids.join(',')}`;
    if (this.ring?.key !== key) this.ring = { key, ring: new PlacementRing(ids, map.virtualNodes) };
    return this.ring.ring;
  }

  private urlOf(id: NodeId): string | null {
    return this.map?.nodes.find((node) => node.id === id)?.url ?? null;
  }
}

/** How often a client that knows no leader asks for the cluster map again. */
const leaderAskIntervalMs = 250;

function pickUntried(candidates: string[], tried: Set<string>): string {
  if (candidates.length === 0) throw raftboxError('unavailable', 'the client knows no node to send to');
  const untried = candidates.find((url) => !tried.has(url));
  if (untried !== undefined) return untried;
  // Every candidate failed this round: start another round, best candidate first.
  tried.clear();
  return candidates[0]!;
}

function unique(urls: (string | null)[]): string[] {
  return [...new Set(urls.filter((url): url is string => url !== null))];
}

function closedError(): RaftboxError {
  return raftboxError('unavailable', 'the client is closed; create a new one to send more requests');
}
