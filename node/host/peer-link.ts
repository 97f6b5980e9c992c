import { WebSocket } from 'ws';
import type { NodeId } from '../../protocol/raft-messages.ts';
import { decodeNodeFrame, encodeWire } from '../../protocol/wire-schema.ts';
import { protocolVersion, type HelloFrame, type PeerEnvelope } from '../../protocol/wire.ts';

export interface PeerLinkOptions {
  self: NodeId;
  peer: NodeId;
  url: string;
  clusterId: string;
  token: string | undefined;
  log: (level: 'debug' | 'info' | 'warn' | 'error', event: string, fields?: Record<string, unknown>) => void;
  /** Frames waiting while the link is down or the socket is backed up. Past it, new frames are dropped (Raft and block replication both retry). */
  queuedFramesMax?: number;
  queuedBytesMax?: number;
  /** Bytes the socket may hold unsent before frames wait in our queue instead. */
  socketBufferedBytesMax?: number;
  backoffMinMs?: number;
  backoffMaxMs?: number;
}

/**
 * The outgoing half of the connection to one peer. Each node dials every peer and sends
 * only on the link it dialled (it receives on the links its peers dialled), so there is
 * never a race over which of two sockets to use. The link reconnects with jittered
 * exponential backoff, checks in the handshake that the node it reached is the one it
 * meant (same cluster id, same node id), and bounds what waits to be sent: a dead peer
 * costs a fixed amount of memory, and messages beyond it are dropped as a lossy network
 * would drop them.
 */
export class PeerLink {
  private socket: WebSocket | null = null;
  private ready = false;
  private queue: Uint8Array[] = [];
  private queuedBytes = 0;
  private attempt = 0;
  private retryTimer: NodeJS.Timeout | null = null;
  private flushTimer: NodeJS.Timeout | null = null;
  private closed = false;
  dropped = 0;
  private readonly queuedFramesMax: number;
  private readonly queuedBytesMax: number;
  private readonly socketBufferedBytesMax: number;

  constructor(private readonly options: PeerLinkOptions) {
    this.queuedFramesMax = options.queuedFramesMax ?? 10_000;
    this.queuedBytesMax = options.queuedBytesMax ?? 64 * 1024 * 1024;
    this.socketBufferedBytesMax = options.socketBufferedBytesMax ?? 8 * 1024 * 1024;
    this.connect();
  }

  /** True once the handshake succeeded and until the socket closes. */
  get up(): boolean {
    return this.ready;
  }

  send(envelope: PeerEnvelope): void {
    if (this.closed) return;
    const frame = encodeWire(envelope);
    if (this.ready && this.queue.length === 0 && this.socket!.bufferedAmount < this.socketBufferedBytesMax) {
      this.socket!.send(frame);
      return;
    }
    if (this.queue.length >= this.queuedFramesMax || this.queuedBytes + frame.length > this.queuedBytesMax) {
      this.dropped++;
      if (this.dropped % 1000 === 1) this.options.log('warn', 'peer.queueFull', { peer: this.options.peer, dropped: this.dropped });
      return;
    }
    this.queue.push(frame);
    this.queuedBytes += frame.length;
    this.flush();
  }

  close(): void {
    this.closed = true;
    if (this.retryTimer) clearTimeout(this.retryTimer);
    if (this.flushTimer) clearTimeout(this.flushTimer);
    this.socket?.terminate();
    this.socket = null;
    this.ready = false;
    this.queue = [];
    this.queuedBytes = 0;
  }

  private connect(): void {
    if (this.closed) return;
    const socket = new WebSocket(this.options.url, { perMessageDeflate: false, maxPayload: 16 * 1024 * 1024 });
    socket.binaryType = 'nodebuffer';
    this.socket = socket;
    socket.on('open', () => {
      const hello: HelloFrame = { type: 'hello', protocol: protocolVersion, role: 'peer', clusterId: this.options.clusterId, from: this.options.self, to: this.options.peer };
      if (this.options.token !== undefined) hello.token = this.options.token;
      socket.send(encodeWire(hello));
    });
    socket.on('message', (data: Buffer) => this.onHandshake(socket, data));
    socket.on('error', () => {
      // 'close' follows and schedules the retry; connection refused is routine while a peer restarts.
    });
    socket.on('close', () => this.onClose(socket));
  }

  private onHandshake(socket: WebSocket, data: Buffer): void {
    if (this.ready) return; // Peers only ever answer the handshake on this link.
    let frame;
    try {
      frame = decodeNodeFrame(new Uint8Array(data.buffer, data.byteOffset, data.byteLength));
    } catch (error) {
      this.options.log('warn', 'peer.badHandshake', { peer: this.options.peer, error: String(error) });
      socket.terminate();
      return;
    }
    if (frame.type === 'error') {
      this.options.log('error', 'peer.refused', { peer: this.options.peer, url: this.options.url, code: frame.error.code, message: frame.error.message });
      socket.terminate();
      return;
    }
    if (frame.type !== 'welcome' || frame.node !== this.options.peer || frame.clusterId !== this.options.clusterId) {
      const claims = frame.type === 'welcome' ? `node ${frame.node} of cluster ${frame.clusterId}` : `a ${frame.type} frame`;
      this.options.log('error', 'peer.wrongIdentity', { peer: this.options.peer, url: this.options.url, message: `${this.options.url} answered as ${claims}, not node ${this.options.peer} of cluster ${this.options.clusterId}; check --peers` });
      socket.terminate();
      return;
    }
    this.ready = true;
    this.attempt = 0;
    this.options.log('info', 'peer.up', { peer: this.options.peer });
    this.flush();
  }

  private flush(): void {
    const socket = this.socket;
    if (!this.ready || !socket) return;
    while (this.queue.length > 0 && socket.bufferedAmount < this.socketBufferedBytesMax) {
      const frame = this.queue.shift()!;
      this.queuedBytes -= frame.length;
      socket.send(frame);
    }
    // ws has no 'drain' event of its own; poll while frames wait behind a full socket buffer.
    if (this.queue.length > 0 && !this.flushTimer) {
      this.flushTimer = setTimeout(() => {
        this.flushTimer = null;
        this.flush();
      }, 1);
    }
  }

  private onClose(socket: WebSocket): void {
    if (socket !== this.socket) return;
    if (this.ready) this.options.log('info', 'peer.down', { peer: this.options.peer });
    this.ready = false;
    this.socket = null;
    if (this.closed) return;
    // Messages queued for a dead peer are stale by the time it returns; Raft resends what matters.
    this.queue = [];
    this.queuedBytes = 0;
    const minMs = this.options.backoffMinMs ?? 50;
    const maxMs = this.options.backoffMaxMs ?? 1000;
    const ceilingMs = Math.min(maxMs, minMs * 2 ** this.attempt);
    this.attempt = Math.min(this.attempt + 1, 20);
    const delayMs = ceilingMs / 2 + Math.random() * (ceilingMs / 2);
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.retryTimer = setTimeout(() => {
      this.retryTimer = null;
      this.connect();
    }, delayMs);
  }
}
