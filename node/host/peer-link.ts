import { WebSocket } from 'ws';
import { frameBytesMax } from '../../protocol/limits.ts';
import type { NodeId } from '../../protocol/raft-messages.ts';
import { decodeNodeFrame, encodeWire } from '../../protocol/wire-schema.ts';
import { protocolVersion, type HelloFrame, type PeerEnvelope } from '../../protocol/wire.ts';
import { encodePeerMessage, OutgoingFragments } from './peer-fragments.ts';
import { processSocketOptions } from './ws-client-options.ts';

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
 *
 * A message larger than one frame (an InstallSnapshot) goes out as fragment frames
 * (peer-fragments.ts) from a slot of its own that holds one such message: its fragments
 * are sent whenever the small-frame queue is empty, so heartbeats and appends keep
 * flowing between them, and it leaves whole or not at all (a link that drops mid-way
 * drops the rest; the receiver never delivers a partial message). Worst-case memory per
 * link is thus `queuedBytesMax` plus one message of `peerMessageBytesMax`.
 */
export class PeerLink {
  private socket: WebSocket | null = null;
  private ready = false;
  private queue: Uint8Array[] = [];
  private queuedBytes = 0;
  /** The one large message being fragmented onto the socket, if any. */
  private large: OutgoingFragments | null = null;
  private nextMessageId = 1;
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

  /**
   * Sends one message to the peer, fragmenting it when it exceeds a frame. Never throws:
   * a message that cannot be encoded or has no room is logged and dropped, as a lossy
   * network would drop it, since the caller is an actor that must keep running.
   */
  send(envelope: PeerEnvelope): void {
    if (this.closed) return;
    let bytes: Uint8Array;
    try {
      bytes = encodePeerMessage(envelope);
    } catch (error) {
      this.dropped++;
      this.options.log('error', 'peer.unsendable', { peer: this.options.peer, to: envelope.to, type: envelope.message.type, error: error instanceof Error ? error.message : String(error) });
      return;
    }
    if (bytes.length > frameBytesMax) this.sendLarge(bytes);
    else this.sendFrame(bytes);
  }

  private sendLarge(bytes: Uint8Array): void {
    // Cutting a message off mid-way would waste what was sent and, under Raft's periodic
    // resends, might never let one finish; a newer one replaces one not yet started.
    if (this.large?.started) {
      this.dropped++;
      this.options.log('warn', 'peer.largeBusy', { peer: this.options.peer, bytes: bytes.length, dropped: this.dropped });
      return;
    }
    this.large = new OutgoingFragments(this.nextMessageId++, bytes);
    this.flush();
  }

  private sendFrame(frame: Uint8Array): void {
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
    this.large = null;
  }

  private connect(): void {
    if (this.closed) return;
    const socket = new WebSocket(this.options.url, processSocketOptions(16 * 1024 * 1024));
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
    // Small frames first, then one fragment, and again: a large message never holds up heartbeats.
    while (socket.bufferedAmount < this.socketBufferedBytesMax) {
      const frame = this.queue.shift();
      if (frame) {
        this.queuedBytes -= frame.length;
        socket.send(frame);
      } else if (this.large) {
        socket.send(this.large.next());
        if (this.large.done) this.large = null;
      } else break;
    }
    // ws has no 'drain' event of its own; poll while frames wait behind a full socket buffer.
    if ((this.queue.length > 0 || this.large) && !this.flushTimer) {
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
    // A half-sent large message cannot continue either: the receiver reassembles per connection.
    this.queue = [];
    this.queuedBytes = 0;
    this.large = null;
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
