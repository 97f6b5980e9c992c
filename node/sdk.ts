// The Node SDK: the isomorphic client (protocol/client.ts) on Node's sockets, timers and
// SHA-256. `connect` is the whole public surface; CONTRACT.md ("Node SDK") is its spec.

import { hostname } from 'node:os';
import { WebSocket } from 'ws';
import { createClient, type ClientRuntime, type WebSocketLike } from '../protocol/client.ts';
import type { ClusterStatus, FileInfo } from '../protocol/wire.ts';
import { sha256Hex } from './host/sha256.ts';
import { processSocketOptions } from './host/ws-client-options.ts';

export type { ClusterStatus, FileInfo } from '../protocol/wire.ts';
export { ConflictError } from '../protocol/client.ts';
export { RaftboxError } from '../protocol/errors.ts';

/** What `client.status()` returns: the same object `raftbox status --json` prints. */
export type Status = ClusterStatus;

/** A connected client; see CONTRACT.md. Every method but `watch` and `close` may throw a `RaftboxError`. */
export interface Client {
  writeFile(path: string, data: Uint8Array, opts?: { ifVersion?: number }): Promise<{ version: number }>;
  /** Beyond CONTRACT.md: writeFile for content too large to hold whole, read piece by piece from `read()` (`raftbox put` uses it). */
  writeFileFrom(path: string, read: () => AsyncIterable<Uint8Array>, opts?: { ifVersion?: number }): Promise<{ version: number; size: number }>;
  readFile(path: string, opts?: { version?: number }): Promise<{ version: number; data: Uint8Array } | null>;
  /** Beyond CONTRACT.md: the content as checked blocks in order, for files too large to hold whole (`raftbox get` uses it). */
  readFileBlocks(path: string, opts?: { version?: number }): Promise<{ info: FileInfo; blocks: AsyncGenerator<Uint8Array> } | null>;
  /** Linearizable; `version` asks for an older version. */
  stat(path: string, opts?: { version?: number }): Promise<FileInfo | null>;
  list(prefix?: string, opts?: { includeDeleted?: boolean }): Promise<FileInfo[]>;
  remove(path: string, opts?: { ifVersion?: number }): Promise<{ version: number }>;
  history(path: string): Promise<FileInfo[]>;
  /** Beyond CONTRACT.md: makes an old version current again as a new version (same blocks, mode and kind; nothing transferred). */
  restore(path: string, version: number, opts?: { ifVersion?: number }): Promise<{ version: number }>;
  /** `reset`: the feed no longer reaches back to `cursor`; list everything, then continue from the returned cursor. */
  changes(cursor?: number): Promise<{ changes: FileInfo[]; cursor: number; reset: boolean }>;
  watch(onChange: (info: FileInfo) => void): () => void;
  status(): Promise<Status>;
  close(): Promise<void>;
}

// After close() asks politely, a peer that never finishes the closing handshake is cut off this much later.
const closeGraceMs = 1_000;

/**
 * Connects to a Raftbox cluster through any of `servers` (ws:// URLs; the rest of the
 * cluster is learned from its map) and resolves once a node has answered. Rejects with
 * `unavailable` if no node answers within the retry deadline, `unauthorized` for a bad
 * token. `device` (default: the host name) is recorded as the author of writes. After
 * `close()` the client holds no socket or timer, so the process can exit.
 */
export async function connect(options: { servers: string[]; token?: string; device?: string }): Promise<Client> {
  const client = createClient({
    servers: options.servers,
    device: options.device ?? hostname(),
    runtime: nodeRuntime(),
    ...(options.token === undefined ? {} : { token: options.token }),
  });
  try {
    await client.cluster();
  } catch (error) {
    await client.close();
    throw error;
  }
  return client;
}

/** The client runtime on Node: `ws` sockets (with bufferutil when installed), real timers, node:crypto. */
export function nodeRuntime(): ClientRuntime {
  return {
    connect: (url) => new NodeSocket(url),
    now: () => Date.now(),
    random: () => Math.random(),
    // Timers stay referenced: a retry's backoff must keep a script alive; close() clears them all.
    setTimer: (ms, fn) => setTimeout(fn, ms),
    clearTimer: (handle) => clearTimeout(handle as ReturnType<typeof setTimeout>),
    sha256: async (bytes) => sha256Hex(bytes),
  };
}

// `ws` behind the browser-style API the client codes against, with two Node-side
// differences: messages arrive as Buffers (Uint8Array views), which saves the copy an
// ArrayBuffer costs, and a socket whose peer never finishes the closing handshake is cut
// off after a grace period instead of ws's 30 s.
class NodeSocket implements WebSocketLike {
  // Accepted and ignored: this adapter always delivers Buffers, which the client reads as bytes.
  binaryType = 'nodebuffer';
  onopen: WebSocketLike['onopen'] = null;
  onmessage: WebSocketLike['onmessage'] = null;
  onclose: WebSocketLike['onclose'] = null;
  onerror: WebSocketLike['onerror'] = null;
  private readonly socket: WebSocket;

  constructor(url: string) {
    this.socket = new WebSocket(url, processSocketOptions());
    this.socket.on('open', () => this.onopen?.({}));
    this.socket.on('message', (data: Buffer, isBinary: boolean) => this.onmessage?.({ data: isBinary ? data : data.toString('utf8') }));
    this.socket.on('error', (error) => this.onerror?.(error));
    this.socket.on('close', (code, reason) => this.onclose?.({ code, reason: reason.toString('utf8') }));
  }

  get readyState(): number {
    return this.socket.readyState;
  }

  send(data: Uint8Array<ArrayBuffer>): void {
    this.socket.send(data);
  }

  close(code?: number, reason?: string): void {
    this.socket.close(code, reason);
    setTimeout(() => this.socket.terminate(), closeGraceMs).unref();
  }
}
