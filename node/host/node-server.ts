import { createHash, timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { WebSocketServer, type WebSocket } from 'ws';
import { raftboxError, RaftboxError, type ErrorCode } from '../../protocol/errors.ts';
import { decodeFrame } from '../../protocol/frame.ts';
import { frameBytesMax } from '../../protocol/limits.ts';
import type { NodeId } from '../../protocol/raft-messages.ts';
import { decodeClientFrame, encodeWire } from '../../protocol/wire-schema.ts';
import {
  protocolVersion,
  type Address,
  type ClusterMap,
  type ErrorFrame,
  type NodeToClient,
  type HelloFrame,
  type PeerMessage,
  type RequestFrame,
  type RequestMessage,
  type WireError,
} from '../../protocol/wire.ts';
import { PeerFrameReader } from './peer-fragments.ts';

export interface NodeServerOptions {
  self: NodeId;
  host: string;
  port: number;
  clusterId: string;
  /** Node ids allowed to connect as peers. */
  peers: NodeId[];
  /** When set, every client and peer must present it as `token`. */
  secret: string | undefined;
  /** The cluster map sent in `welcome`; called per handshake so the leader is current. */
  clusterMap: () => ClusterMap;
  /** Hands a message to the local actor at `to` (`n1`, `n1/blocks`); false when its mailbox is full. */
  deliverLocal: (to: Address, message: unknown) => boolean;
  /** Optional HTTP handler for plain requests (health, metrics, static files). */
  http?: (request: IncomingMessage, response: ServerResponse) => void;
  log: (level: 'debug' | 'info' | 'warn' | 'error', event: string, fields?: Record<string, unknown>) => void;
  /** Called for every message a peer sent, before it is delivered (traffic counters). */
  onPeerMessage?: (message: PeerMessage) => void;
  sessionsMax?: number;
  requestsInFlightMax?: number;
  helloTimeoutMs?: number;
}

interface ClientSession {
  id: number;
  socket: WebSocket;
  /** Request id → when it arrived. A request whose answer was lost (a forward to a leader that died) expires. */
  inFlight: Map<number, number>;
}

const blockOps = new Set(['blocks.put', 'blocks.put-many', 'blocks.get']);
// A session whose socket holds this much unsent data is not reading its answers; it is cut off.
const sessionBufferedBytesMax = 256 * 1024 * 1024;

/**
 * A node's one listening port: plain HTTP for health and static files, and WebSocket
 * connections that start with a `hello`. Peers are checked for cluster id and node id and
 * then feed envelopes to local actors; clients become sessions whose requests go to the
 * metadata or block actor and whose answers come back by address (`n1/client/7`).
 * Everything a client can make the node hold is bounded: sessions, requests in flight
 * per session, bytes buffered per socket, and the size of a frame.
 */
export class NodeServer {
  private readonly http: Server;
  private readonly wss: WebSocketServer;
  private readonly sessions = new Map<number, ClientSession>();
  private readonly peerReaders = new WeakMap<WebSocket, PeerFrameReader>();
  private nextSessionId = 1;
  private readonly sessionsMax: number;
  private readonly requestsInFlightMax: number;

  constructor(private readonly options: NodeServerOptions) {
    this.sessionsMax = options.sessionsMax ?? 1024;
    this.requestsInFlightMax = options.requestsInFlightMax ?? 256;
    this.http = createServer((request, response) => this.onHttp(request, response));
    this.wss = new WebSocketServer({ server: this.http, maxPayload: frameBytesMax, perMessageDeflate: false });
    this.wss.on('connection', (socket) => this.onConnection(socket));
    this.wss.on('error', (error) => options.log('error', 'server.error', { error: String(error) }));
  }

  /** Binds the port; rejects with the OS error (EADDRINUSE…) if it cannot, a taken port with a sentence. */
  listen(): Promise<void> {
    return new Promise((resolve, reject) => {
      const fail = (error: NodeJS.ErrnoException): void => {
        if (error.code !== 'EADDRINUSE') return reject(error);
        const where = `${this.options.host.includes(':') ? `[${this.options.host}]` : this.options.host}:${this.options.port}`;
        reject(Object.assign(new Error(`${where} is already in use by another process (another node?); stop it or pass another --listen port`), { code: error.code }));
      };
      this.http.once('error', fail);
      this.http.listen(this.options.port, this.options.host, () => {
        this.http.off('error', fail);
        resolve();
      });
    });
  }

  get port(): number {
    const address = this.http.address();
    return typeof address === 'object' && address ? address.port : this.options.port;
  }

  async close(): Promise<void> {
    for (const client of this.wss.clients) client.terminate();
    await new Promise<void>((resolve) => this.wss.close(() => resolve()));
    await new Promise<void>((resolve) => this.http.close(() => resolve()));
  }

  /** Sends a response or push to the client session named by `address`; drops it if the session is gone. */
  sendToSession(sessionId: number, message: { type: string; id?: number }): void {
    const session = this.sessions.get(sessionId);
    if (!session) return;
    if (message.type === 'response' && message.id !== undefined) session.inFlight.delete(message.id);
    if (session.socket.bufferedAmount > sessionBufferedBytesMax) {
      this.options.log('warn', 'session.slow', { session: sessionId });
      session.socket.close(1008, 'client is not reading its answers');
      return;
    }
    session.socket.send(this.encodeForSession(message));
  }

  /** An answer too large for one frame becomes an error the client can act on, never a thrown exception in an actor. */
  private encodeForSession(message: { type: string; id?: number }): Uint8Array {
    try {
      return encodeWire(message as NodeToClient);
    } catch (error) {
      if (!(error instanceof RaftboxError) || message.type !== 'response' || message.id === undefined) throw error;
      const sentence = `the answer to request ${message.id} is larger than one frame (${frameBytesMax} bytes); ask for less, such as a narrower prefix or a page of changes`;
      return encodeWire({ type: 'response', id: message.id, ok: false, error: { code: 'frame_too_large', message: sentence } });
    }
  }

  get sessionCount(): number {
    return this.sessions.size;
  }

  private onHttp(request: IncomingMessage, response: ServerResponse): void {
    if (request.url === '/health') {
      response.writeHead(200, { 'content-type': 'application/json' });
      response.end(JSON.stringify({ node: this.options.self, clusterId: this.options.clusterId }));
      return;
    }
    if (this.options.http) return this.options.http(request, response);
    response.writeHead(404, { 'content-type': 'text/plain' });
    response.end('not found\n');
  }

  private onConnection(socket: WebSocket): void {
    let state: 'hello' | 'client' | 'peer' = 'hello';
    let session: ClientSession | null = null;
    const helloTimer = setTimeout(() => refuse(socket, 'timeout', 'no hello arrived within 5 seconds of connecting; send a hello frame first'), this.options.helloTimeoutMs ?? 5000);
    socket.on('message', (data: Buffer, isBinary: boolean) => {
      const bytes = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
      if (!isBinary) return sendError(socket, raftboxError('bad_frame', 'text frames are not part of the protocol; send binary msgpack frames'));
      if (state === 'peer') return this.onPeerFrame(socket, bytes);
      if (state === 'client') return this.onClientFrame(session!, bytes);
      clearTimeout(helloTimer);
      const result = this.onHello(socket, bytes);
      if (result === 'peer') state = 'peer';
      else if (result !== null) {
        state = 'client';
        session = result;
      }
    });
    socket.on('error', () => {
      // An oversized or broken frame: ws closes the socket with a status code; 'close' cleans up.
    });
    socket.on('close', () => {
      clearTimeout(helloTimer);
      if (session) {
        this.sessions.delete(session.id);
        this.options.deliverLocal(this.options.self, { type: 'session.closed', address: this.sessionAddress(session.id) });
      }
    });
  }

  /** Checks a hello; returns the new session, 'peer', or null after refusing the connection. */
  private onHello(socket: WebSocket, bytes: Uint8Array): ClientSession | 'peer' | null {
    let frame;
    try {
      frame = decodeClientFrame(bytes);
    } catch (error) {
      refuse(socket, codeOf(error), `the first frame must be a valid hello: ${messageOf(error)}`);
      return null;
    }
    if (frame.type !== 'hello') {
      refuse(socket, 'bad_message', `the first frame must be a hello, not a ${frame.type}`);
      return null;
    }
    const refusal = this.checkHello(frame);
    if (refusal) {
      refuse(socket, refusal.code, refusal.message);
      return null;
    }
    const map = this.options.clusterMap();
    socket.send(encodeWire({ type: 'welcome', protocol: protocolVersion, clusterId: this.options.clusterId, node: this.options.self, map }));
    if (frame.role === 'peer') return 'peer';
    const session: ClientSession = { id: this.nextSessionId++, socket, inFlight: new Map() };
    this.sessions.set(session.id, session);
    return session;
  }

  private checkHello(frame: HelloFrame): WireError | null {
    if (frame.protocol !== protocolVersion) {
      return { code: 'unsupported_version', message: `this node speaks protocol version ${protocolVersion}, not ${frame.protocol}; upgrade the older side` };
    }
    if (this.options.secret !== undefined && !sameSecret(frame.token, this.options.secret)) {
      return { code: 'unauthorized', message: 'this node needs a token: pass the cluster secret as the token (RAFTBOX_TOKEN or --token)' };
    }
    if (frame.role === 'client') {
      if (this.sessions.size >= this.sessionsMax) return { code: 'overloaded', message: `this node already serves ${this.sessionsMax} sessions; try another node or later` };
      return null;
    }
    if (frame.clusterId !== this.options.clusterId) {
      return { code: 'unauthorized', message: `this node belongs to cluster ${this.options.clusterId}, not ${frame.clusterId ?? '(none)'}; check --peers on both nodes` };
    }
    if (frame.to !== this.options.self) {
      return { code: 'unauthorized', message: `this is node ${this.options.self}, not ${frame.to ?? '(none)'}; check the address of ${frame.to ?? 'it'} in --peers` };
    }
    if (frame.from === undefined || !this.options.peers.includes(frame.from)) {
      return { code: 'unauthorized', message: `node ${frame.from ?? '(none)'} is not a peer of ${this.options.self}; add it to --peers` };
    }
    return null;
  }

  private onPeerFrame(socket: WebSocket, bytes: Uint8Array): void {
    let envelope;
    try {
      // One reader per connection: a message too large for one frame arrives as fragments (peer-fragments.ts).
      let reader = this.peerReaders.get(socket);
      if (!reader) this.peerReaders.set(socket, (reader = new PeerFrameReader((reason) => this.options.log('warn', 'peer.fragmentsDiscarded', { reason }))));
      envelope = reader.read(bytes);
      if (envelope === null) return;
    } catch (error) {
      // A peer passed the handshake, so a bad frame is a bug or version skew: drop the link, it redials.
      this.options.log('error', 'peer.badFrame', { error: messageOf(error) });
      socket.close(1008, 'bad peer frame');
      return;
    }
    if (!envelope.to.startsWith(this.options.self) || (envelope.to.length > this.options.self.length && envelope.to[this.options.self.length] !== '/')) {
      this.options.log('warn', 'peer.misaddressed', { to: envelope.to });
      return;
    }
    this.options.onPeerMessage?.(envelope.message);
    this.deliver(envelope.to, envelope.message);
  }

  /** Local delivery of a peer's message; a full mailbox drops Raft traffic (it is retried) and refuses requests. */
  deliver(to: Address, message: PeerMessage): void {
    const sessionMatch = /^[^/]+\/client\/(\d+)$/.exec(to);
    if (sessionMatch) return this.sendToSession(Number(sessionMatch[1]), message as { type: string; id?: number });
    if (this.options.deliverLocal(to, message)) return;
    if (message.type === 'request') this.options.deliverLocal(message.from, overloaded(message.id));
  }

  private onClientFrame(session: ClientSession, bytes: Uint8Array): void {
    let frame;
    try {
      frame = decodeClientFrame(bytes);
    } catch (error) {
      const id = requestIdOf(bytes);
      const wireError: WireError = { code: codeOf(error), message: messageOf(error) };
      if (id !== null) session.socket.send(encodeWire({ type: 'response', id, ok: false, error: wireError }));
      else session.socket.send(encodeWire({ type: 'error', error: wireError } satisfies ErrorFrame));
      return;
    }
    if (frame.type === 'hello') return sendError(session.socket, raftboxError('bad_message', 'this session already said hello; send requests'));
    this.onRequest(session, frame);
  }

  private onRequest(session: ClientSession, frame: RequestFrame): void {
    const { type: _type, id, ...request } = frame;
    const reply = (error: WireError) => session.socket.send(encodeWire({ type: 'response', id, ok: false, error }));
    if (session.inFlight.has(id)) return reply({ code: 'bad_message', message: `request id ${id} is already in flight on this session; use a new id per request` });
    if (session.inFlight.size >= this.requestsInFlightMax) expireRequests(session.inFlight);
    if (session.inFlight.size >= this.requestsInFlightMax) {
      return reply({ code: 'overloaded', message: `this session has ${this.requestsInFlightMax} requests in flight; wait for answers before sending more` });
    }
    const message: RequestMessage = { type: 'request', from: this.sessionAddress(session.id), id, request, hops: 0 };
    const to = blockOps.has(request.op) ? `${this.options.self}/blocks` : this.options.self;
    session.inFlight.set(id, Date.now());
    if (this.options.deliverLocal(to, message)) return;
    session.inFlight.delete(id);
    reply({ code: 'overloaded', message: `node ${this.options.self} is at its mailbox limit; retry with backoff` });
  }

  private sessionAddress(id: number): Address {
    return `${this.options.self}/client/${id}`;
  }
}

// Longer than any client waits for an answer, so only truly lost requests expire.
const requestExpiryMs = 120_000;

function expireRequests(inFlight: Map<number, number>): void {
  const cutoff = Date.now() - requestExpiryMs;
  for (const [id, since] of inFlight) if (since < cutoff) inFlight.delete(id);
}

function overloaded(id: number) {
  return { type: 'response', id, ok: false, error: { code: 'overloaded', message: 'the node is at its mailbox limit; retry with backoff' } };
}

function sendError(socket: WebSocket, error: RaftboxError): void {
  socket.send(encodeWire({ type: 'error', error: { code: error.code, message: error.message } } satisfies ErrorFrame));
}

function refuse(socket: WebSocket, code: ErrorCode, message: string): void {
  socket.send(encodeWire({ type: 'error', error: { code, message } } satisfies ErrorFrame));
  socket.close(1008, code);
}

function codeOf(error: unknown): ErrorCode {
  return error instanceof RaftboxError ? error.code : 'bad_message';
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** The id of a request that failed its schema, if it has a usable one, so the error can answer it. */
function requestIdOf(bytes: Uint8Array): number | null {
  try {
    const value = decodeFrame(bytes) as { id?: unknown };
    return typeof value === 'object' && value !== null && Number.isSafeInteger(value.id) && (value.id as number) >= 0 ? (value.id as number) : null;
  } catch {
    return null;
  }
}

function sameSecret(token: string | undefined, secret: string): boolean {
  if (token === undefined) return false;
  const a = createHash('sha256').update(token).digest();
  const b = createHash('sha256').update(secret).digest();
  return timingSafeEqual(a, b);
}
