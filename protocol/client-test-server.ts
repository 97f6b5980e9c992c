// A fake Raftbox cluster for the client's tests: real WebSocket servers on loopback that
// speak the client protocol, backed by one in-memory store shared by every fake node (so
// failing over between them is seamless). It keeps the server-side rules the client relies
// on (versions, compare-and-set, exactly-once sessions, missing blocks, watch catch-up)
// and lets a test inject faults per request. Test support only; no product code imports it.

import { WebSocketServer, type WebSocket } from 'ws';
import { raftboxError, RaftboxError } from './errors.ts';
import { decodeClientFrame, encodeWire } from './wire-schema.ts';
import { protocolVersion, type BlockHash, type ClusterMap, type FileChange, type FileInfo, type NodeToClient, type Request, type RequestFrame, type WireError } from './wire.ts';

/**
 * What a fault hook may do with a request: nothing (undefined), drop the connection
 * first, apply it and drop the connection without answering, never answer it, or answer
 * it with an error without applying it.
 */
export type FaultAction = 'drop' | 'handle-then-drop' | 'ignore' | { error: WireError } | undefined;

type CommitRequest = Extract<Request, { op: 'commit' }>;
type Outcome = { ok: true; result: unknown } | { ok: false; error: WireError };

/** One fake node: a WebSocket server on 127.0.0.1 with a random port, serving the shared store. */
export class FakeNode {
  readonly id: string;
  url = '';
  private server: WebSocketServer | null = null;
  readonly sockets = new Set<WebSocket>();

  constructor(
    private readonly cluster: FakeCluster,
    id: string,
  ) {
    this.id = id;
  }

  async start(port = 0): Promise<void> {
    const server = new WebSocketServer({ host: '127.0.0.1', port, perMessageDeflate: false });
    await new Promise<void>((resolve, reject) => {
      server.once('listening', resolve);
      server.once('error', reject);
    });
    const address = server.address();
    this.url = `ws://127.0.0.1:${typeof address === 'object' && address !== null ? address.port : port}`;
    server.on('connection', (socket) => this.onConnection(socket));
    this.server = server;
  }

  /** Cuts every client connection and stops listening, as a crashed node would. */
  async stop(): Promise<void> {
    for (const socket of this.sockets) socket.terminate();
    this.sockets.clear();
    const server = this.server;
    this.server = null;
    if (server) await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  private onConnection(socket: WebSocket): void {
    this.sockets.add(socket);
    let welcomed = false;
    socket.on('close', () => {
      this.sockets.delete(socket);
      this.cluster.watchers.delete(socket);
    });
    socket.on('message', (data: Buffer) => {
      const frame = decodeClientFrame(new Uint8Array(data.buffer, data.byteOffset, data.byteLength));
      if (frame.type === 'hello') {
        if (this.cluster.token !== undefined && frame.token !== this.cluster.token) {
          send(socket, { type: 'error', error: { code: 'unauthorized', message: 'wrong token' } });
          socket.close(1008, 'unauthorized');
          return;
        }
        this.cluster.hellos.push({ node: this.id, device: frame.device });
        welcomed = true;
        send(socket, { type: 'welcome', protocol: protocolVersion, clusterId: this.cluster.clusterId, node: this.id, map: this.cluster.map() });
        return;
      }
      if (welcomed) this.onRequest(socket, frame);
    });
  }

  private onRequest(socket: WebSocket, frame: RequestFrame): void {
    const { type: _type, id, ...rest } = frame;
    const request = rest as Request;
    this.cluster.requests.push({ node: this.id, request });
    const fault = this.cluster.fault?.(this.id, request);
    if (fault === 'drop') return void socket.terminate();
    if (fault === 'ignore') return;
    if (typeof fault === 'object') return send(socket, { type: 'response', id, ok: false, error: fault.error });
    const outcome = this.cluster.handle(request, socket);
    if (fault === 'handle-then-drop') return void socket.terminate();
    send(socket, outcome.ok ? { type: 'response', id, ok: true, result: outcome.result } : { type: 'response', id, ok: false, error: outcome.error });
  }
}

/** The shared state of the fake nodes, and what the tests inspect. */
export class FakeCluster {
  readonly clusterId = 'fake-cluster';
  readonly nodes: FakeNode[] = [];
  readonly files = new Map<string, FileInfo[]>();
  readonly blocks = new Map<BlockHash, Uint8Array>();
  readonly feed: FileInfo[] = [];
  readonly watchers = new Set<WebSocket>();
  /** Every request received, in order, with the node that received it. */
  readonly requests: { node: string; request: Request }[] = [];
  readonly hellos: { node: string; device: string | undefined }[] = [];
  /** Called before each request is handled; returns what to do with it. */
  fault: ((node: string, request: Request) => FaultAction) | null = null;
  token: string | undefined = undefined;
  private sessions = new Map<string, { seq: number; outcome: Outcome }>();
  private index = 0;

  /** Starts `count` fake nodes on loopback. */
  static async start(count = 1): Promise<FakeCluster> {
    const cluster = new FakeCluster();
    for (let i = 1; i <= count; i++) {
      const node = new FakeNode(cluster, `n${i}`);
      await node.start();
      cluster.nodes.push(node);
    }
    return cluster;
  }

  async stop(): Promise<void> {
    for (const node of this.nodes) await node.stop();
  }

  map(): ClusterMap {
    return { clusterId: this.clusterId, nodes: this.nodes.map((node) => ({ id: node.id, url: node.url })), leader: this.nodes[0]?.id ?? null, replication: 1, virtualNodes: 8 };
  }

  /** Requests of one operation, in arrival order. */
  requestsOf<Op extends Request['op']>(op: Op): Extract<Request, { op: Op }>[] {
    return this.requests.filter((entry) => entry.request.op === op).map((entry) => entry.request as Extract<Request, { op: Op }>);
  }

  current(path: string): FileInfo | null {
    const versions = this.files.get(path);
    return versions ? versions[versions.length - 1]! : null;
  }

  handle(request: Request, socket: WebSocket): Outcome {
    try {
      return { ok: true, result: this.answer(request, socket) };
    } catch (error) {
      if (!(error instanceof RaftboxError)) throw error;
      return { ok: false, error: { code: error.code, message: error.message, ...(error.details ? { details: { ...error.details } } : {}) } };
    }
  }

  private answer(request: Request, socket: WebSocket): unknown {
    switch (request.op) {
      case 'stat': {
        const versions = this.files.get(request.path) ?? [];
        if (request.version === undefined) return versions[versions.length - 1] ?? null;
        const found = versions.find((info) => info.version === request.version);
        if (!found) throw raftboxError('unknown_version', `version ${request.version} of ${request.path} is not retained`);
        return found;
      }
      case 'list':
        return { files: [...this.files.keys()].filter((path) => path.startsWith(request.prefix)).sort().map((path) => this.current(path)!).filter((info) => request.includeDeleted || !info.deleted) };
      case 'history':
        return { versions: [...(this.files.get(request.path) ?? [])].reverse() };
      case 'changes':
        return { changes: this.feed.filter((info) => info.index > request.cursor), cursor: this.index, reset: false };
      case 'commit':
        return this.commit(request);
      case 'watch':
        this.watchers.add(socket);
        if (request.cursor !== undefined) {
          const missed = this.feed.filter((info) => info.index > request.cursor!);
          // Catch-up goes after the answer, as a real node's would.
          if (missed.length > 0) queueMicrotask(() => send(socket, { type: 'push', cursor: this.index, changes: missed }));
        }
        return { cursor: this.index };
      case 'unwatch':
        this.watchers.delete(socket);
        return {};
      case 'status':
        return { leader: 'n1', term: 1, nodes: this.nodes.map((node) => ({ id: node.id, url: node.url, role: node.id === 'n1' ? 'leader' : 'follower', term: 1, commitIndex: this.index, appliedIndex: this.index, blocks: this.blocks.size, bytes: 0 })), replication: { factor: 1, blocks: this.blocks.size, underReplicated: 0 } };
      case 'cluster':
        return this.map();
      case 'blocks.has':
        return { missing: request.hashes.filter((hash) => !this.blocks.has(hash)) };
      case 'blocks.put':
        this.blocks.set(request.hash, new Uint8Array(request.data));
        return { replicas: 1 };
      case 'blocks.put-many':
        for (const block of request.blocks) this.blocks.set(block.hash, new Uint8Array(block.data));
        return { outcomes: request.blocks.map(() => ({ replicas: 1 })) };
      case 'blocks.get': {
        const data = this.blocks.get(request.hash);
        if (!data) throw raftboxError('not_found', `block ${request.hash} is not stored`);
        return { data };
      }
      default:
        throw raftboxError('bad_message', `the fake server does not do ${request.op}`);
    }
  }

  // Exactly once per (client, seq), as the real session table does: a repeat gets the recorded outcome.
  private commit(request: CommitRequest): unknown {
    const session = this.sessions.get(request.client);
    if (session && request.seq === session.seq) {
      if (session.outcome.ok) return session.outcome.result;
      throw raftboxError(session.outcome.error.code, session.outcome.error.message, session.outcome.error.details);
    }
    if (session && request.seq < session.seq) throw raftboxError('bad_message', `command ${request.seq} is stale`);
    const outcome = this.applyCommit(request);
    this.sessions.set(request.client, { seq: request.seq, outcome });
    if (!outcome.ok) throw raftboxError(outcome.error.code, outcome.error.message, outcome.error.details);
    return outcome.result;
  }

  private applyCommit(request: CommitRequest): Outcome {
    for (const change of request.changes) {
      const refusal = this.check(change);
      if (refusal) return { ok: false, error: refusal };
    }
    const index = ++this.index;
    const files = request.changes.map((change) => {
      const previous = this.current(change.path);
      const info: FileInfo = { path: change.path, version: (previous?.version ?? 0) + 1, size: change.size, mtime: change.mtime, mode: change.mode, deleted: change.deleted, device: request.device, clock: { [request.device]: (previous?.clock[request.device] ?? 0) + 1 }, blocks: change.blocks, index };
      this.files.set(change.path, [...(this.files.get(change.path) ?? []), info]);
      this.feed.push(info);
      return info;
    });
    for (const watcher of this.watchers) send(watcher, { type: 'push', cursor: index, changes: files });
    return { ok: true, result: { files } };
  }

  private check(change: FileChange): WireError | null {
    const current = this.current(change.path);
    const live = current !== null && !current.deleted;
    if (change.ifVersion !== undefined) {
      const matches = change.ifVersion === 0 ? !live : current?.version === change.ifVersion;
      if (!matches) return { code: 'conflict', message: `${change.path} is at version ${current?.version ?? 'none'}, not ${change.ifVersion}`, details: { path: change.path, current } };
    }
    if (change.deleted && !live) return { code: 'not_found', message: `cannot delete ${change.path}: it does not exist`, details: { path: change.path, current } };
    const missing = change.blocks.map((block) => block.hash).filter((hash) => !this.blocks.has(hash));
    if (missing.length > 0) return { code: 'not_found', message: `${missing.length} block(s) are not stored`, details: { missing } };
    return null;
  }
}

function send(socket: WebSocket, frame: NodeToClient): void {
  if (socket.readyState === socket.OPEN) socket.send(encodeWire(frame));
}
