// One client WebSocket to one node: the hello/welcome handshake, then requests matched
// to responses by id, each under a timeout, and pushes handed to the owner. It never
// retries; it reports failures as errors (`unavailable` when the connection is gone,
// `timeout` when an answer is late) and lets the router above decide where to go next.

import { asRaftboxError, errorFromWire } from './client-errors.ts';
import { socketConnecting, socketOpen, type ClientRuntime, type WebSocketLike } from './client-runtime.ts';
import { raftboxError, type RaftboxError } from './errors.ts';
import { checkResult, decodeNodeFrame, encodeWire } from './wire-schema.ts';
import { protocolVersion, type NodeToClient, type PushFrame, type Request, type RequestOp, type Results, type WelcomeFrame, type WireError } from './wire.ts';

/** Most requests awaiting an answer on one connection; the node refuses more than this per session anyway. */
export const requestsInFlightMax = 256;

export interface ConnectionOptions {
  url: string;
  runtime: ClientRuntime;
  token?: string;
  device?: string;
  /** How long the handshake, and each request unless it names its own, may take. */
  requestTimeoutMs: number;
  onPush?: (connection: NodeConnection, frame: PushFrame) => void;
  onClose?: (connection: NodeConnection) => void;
}

interface Pending {
  resolve: (result: unknown) => void;
  reject: (error: RaftboxError) => void;
  timer: unknown;
}

/** A request as the caller writes it: one member of the `Request` union, chosen by `op`. */
export type RequestOf<Op extends RequestOp> = Extract<Request, { op: Op }>;

/**
 * A connection to one node. It starts connecting when constructed; `ready()` settles
 * with the node's welcome, and `request()` waits for it. Once closed (by either side or
 * by a bad frame) it stays closed: every pending request is rejected with `unavailable`
 * and the owner makes a new connection if it wants one.
 */
export class NodeConnection {
  readonly url: string;
  welcome: WelcomeFrame | null = null;
  private readonly options: ConnectionOptions;
  private readonly socket: WebSocketLike | null;
  private state: 'connecting' | 'open' | 'closed' = 'connecting';
  private readonly pending = new Map<number, Pending>();
  private nextRequestId = 1;
  private readonly handshake: Promise<WelcomeFrame>;
  private settleHandshake: { resolve: (welcome: WelcomeFrame) => void; reject: (error: RaftboxError) => void } | null = null;
  private handshakeTimer: unknown = null;
  // The last error frame the node sent; it usually explains the close that follows.
  private lastNodeError: WireError | null = null;

  constructor(options: ConnectionOptions) {
    this.options = options;
    this.url = options.url;
    this.handshake = new Promise((resolve, reject) => (this.settleHandshake = { resolve, reject }));
    // A handshake nobody awaits must not become an unhandled rejection; awaiting callers still see it.
    this.handshake.catch(() => undefined);
    this.socket = this.open();
  }

  get isOpen(): boolean {
    return this.state === 'open';
  }

  get isClosed(): boolean {
    return this.state === 'closed';
  }

  get inFlight(): number {
    return this.pending.size;
  }

  /** Settles with the node's welcome, or rejects with the reason the handshake failed. */
  ready(): Promise<WelcomeFrame> {
    return this.handshake;
  }

  /**
   * Sends one request and resolves with its result, or rejects with the node's error, a
   * `timeout` after `timeoutMs`, `unavailable` if the connection closes first, or
   * `overloaded` when `requestsInFlightMax` requests already wait on this connection.
   */
  async request<Op extends RequestOp>(request: RequestOf<Op>, timeoutMs = this.options.requestTimeoutMs): Promise<Results[Op]> {
    await this.handshake;
    if (this.state !== 'open' || this.socket === null) throw this.closedError();
    if (this.pending.size >= requestsInFlightMax) {
      throw raftboxError('overloaded', `${requestsInFlightMax} requests already wait for answers from ${this.url}; retry after some complete`);
    }
    const id = this.nextRequestId++;
    const bytes = sendable(encodeWire({ type: 'request', id, ...request }));
    return new Promise<Results[Op]>((resolve, reject) => {
      const timer = this.options.runtime.setTimer(timeoutMs, () => {
        if (!this.pending.delete(id)) return;
        reject(raftboxError('timeout', `${this.url} did not answer a ${request.op} request within ${timeoutMs} ms; it may or may not have taken effect`, { url: this.url, op: request.op }));
      });
      this.pending.set(id, { resolve: (result) => resolve(checkResult(request.op, result) as Results[Op]), reject, timer });
      try {
        this.socket!.send(bytes);
      } catch (error) {
        this.shutDown(raftboxError('unavailable', `sending to ${this.url} failed: ${asRaftboxError(error).message}`, { url: this.url }));
      }
    });
  }

  /** Closes the socket and rejects everything pending with `unavailable` naming `reason`. */
  close(reason = 'the client closed the connection'): void {
    this.shutDown(raftboxError('unavailable', `the connection to ${this.url} closed: ${reason}`, { url: this.url }));
  }

  private open(): WebSocketLike | null {
    let socket: WebSocketLike;
    try {
      socket = this.options.runtime.connect(this.url);
    } catch (error) {
      this.shutDown(raftboxError('unavailable', `cannot connect to ${this.url}: ${asRaftboxError(error).message}`, { url: this.url }));
      return null;
    }
    socket.binaryType = 'arraybuffer';
    socket.onopen = () => this.onOpen(socket);
    socket.onmessage = (event) => this.onMessage(event.data);
    // The error event carries nothing portable, and a close event follows it in every host
    // this was tried with; ending here as well covers one that skips it.
    socket.onerror = () => this.shutDown(this.closedError('the connection failed'));
    socket.onclose = () => this.shutDown(this.closedError());
    this.handshakeTimer = this.options.runtime.setTimer(this.options.requestTimeoutMs, () => {
      this.shutDown(raftboxError('unavailable', `${this.url} did not complete the handshake within ${this.options.requestTimeoutMs} ms`, { url: this.url }));
    });
    return socket;
  }

  private onOpen(socket: WebSocketLike): void {
    if (this.state !== 'connecting') return;
    const { token, device } = this.options;
    try {
      socket.send(sendable(encodeWire({ type: 'hello', protocol: protocolVersion, role: 'client', token, device })));
    } catch (error) {
      this.shutDown(raftboxError('unavailable', `sending hello to ${this.url} failed: ${asRaftboxError(error).message}`, { url: this.url }));
    }
  }

  private onMessage(data: unknown): void {
    if (this.state === 'closed') return;
    const bytes = bytesOf(data);
    let frame: NodeToClient;
    try {
      if (bytes === null) throw raftboxError('bad_frame', 'a text frame arrived, but the protocol uses binary frames only');
      frame = decodeNodeFrame(bytes);
    } catch (error) {
      this.shutDown(raftboxError('unavailable', `${this.url} sent a frame this client cannot read: ${asRaftboxError(error).message}`, { url: this.url }));
      return;
    }
    this.onFrame(frame);
  }

  private onFrame(frame: NodeToClient): void {
    switch (frame.type) {
      case 'welcome':
        if (this.state !== 'connecting') return;
        this.state = 'open';
        this.welcome = frame;
        this.options.runtime.clearTimer(this.handshakeTimer);
        this.settleHandshake?.resolve(frame);
        return;
      case 'error':
        this.lastNodeError = frame.error;
        // Before the welcome an error frame is the refusal itself (unauthorized, overloaded…).
        if (this.state === 'connecting') this.shutDown(errorFromWire(frame.error));
        return;
      case 'response':
        return this.onResponse(frame);
      case 'push':
        if (this.state === 'open') this.options.onPush?.(this, frame);
        return;
    }
  }

  private onResponse(frame: Extract<NodeToClient, { type: 'response' }>): void {
    const waiting = this.pending.get(frame.id);
    // An answer to a request that already timed out: the caller has moved on.
    if (!waiting) return;
    this.pending.delete(frame.id);
    this.options.runtime.clearTimer(waiting.timer);
    if (!frame.ok) return waiting.reject(errorFromWire(frame.error));
    try {
      waiting.resolve(frame.result);
    } catch (error) {
      // The result does not match the operation's schema: the node is broken or of another version.
      waiting.reject(asRaftboxError(error));
    }
  }

  private closedError(why?: string): RaftboxError {
    const cause = this.lastNodeError ? `: ${this.lastNodeError.message}` : why ? `: ${why}` : '';
    const what = this.state === 'connecting' ? `could not connect to ${this.url}` : `the connection to ${this.url} closed before answering`;
    return raftboxError('unavailable', `${what}${cause}`, { url: this.url });
  }

  private shutDown(error: RaftboxError): void {
    if (this.state === 'closed') return;
    this.state = 'closed';
    this.options.runtime.clearTimer(this.handshakeTimer);
    this.settleHandshake?.reject(error);
    this.settleHandshake = null;
    for (const waiting of this.pending.values()) {
      this.options.runtime.clearTimer(waiting.timer);
      waiting.reject(error);
    }
    this.pending.clear();
    const socket = this.socket;
    if (socket && (socket.readyState === socketConnecting || socket.readyState === socketOpen)) {
      try {
        socket.close(1000, 'client done');
      } catch {
        // Closing a socket that is already failing may throw in some hosts; it is closed either way.
      }
    }
    this.options.onClose?.(this);
  }
}

// Browsers' send() takes no view of a SharedArrayBuffer; encoded frames never are one, so this never copies.
function sendable(bytes: Uint8Array): Uint8Array<ArrayBuffer> {
  return bytes.buffer instanceof ArrayBuffer ? (bytes as Uint8Array<ArrayBuffer>) : new Uint8Array(bytes);
}

function bytesOf(data: unknown): Uint8Array | null {
  if (data instanceof ArrayBuffer) return new Uint8Array(data);
  if (ArrayBuffer.isView(data)) return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  return null;
}
