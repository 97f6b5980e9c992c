// What the isomorphic client needs from the world it runs in. protocol/ may not read a
// clock, draw random numbers, set timers or open sockets itself (so it runs unchanged in
// a browser, in Node and under test), so the host hands it one of these: the Node SDK
// wires it to `ws`, setTimeout and node:crypto; a browser to its WebSocket and SubtleCrypto.

/** The readyState values of the WebSocket API, shared by browsers and `ws`. */
export const socketConnecting = 0;
export const socketOpen = 1;

// Handlers are checked bivariantly (as methods are), so the browser's WebSocket and the
// `ws` package's, whose handlers take their own event classes, both fit without a cast.
type Handler<TEvent> = { bivarianceHack(event: TEvent): void }['bivarianceHack'];

/**
 * The part of the browser WebSocket API that both browsers and the `ws` package provide;
 * either one's `new WebSocket(url)` is a WebSocketLike. The client sets
 * `binaryType = 'arraybuffer'` and the four `on…` handlers, and accepts message data as
 * `ArrayBuffer` or any `ArrayBufferView` (a Node Buffer).
 */
export interface WebSocketLike {
  binaryType: string;
  readonly readyState: number;
  send(data: Uint8Array<ArrayBuffer>): void;
  close(code?: number, reason?: string): void;
  onopen: Handler<unknown> | null;
  onmessage: Handler<{ data: unknown }> | null;
  onclose: Handler<unknown> | null;
  onerror: Handler<unknown> | null;
}

/** Every effect the client has on the world goes through this, so tests and hosts can supply their own. */
export interface ClientRuntime {
  /** Opens a WebSocket to `url`; failures arrive as `onerror`/`onclose`, not as a throw. */
  connect(url: string): WebSocketLike;
  /** Milliseconds since the epoch. */
  now(): number;
  /** A number in [0, 1), used for the session id and for backoff jitter. */
  random(): number;
  /** Calls `fn` once after `ms`; the handle goes to `clearTimer`. Hosts should not let it keep a process alive past `close()`. */
  setTimer(ms: number, fn: () => void): unknown;
  clearTimer(handle: unknown): void;
  /** Lowercase hex SHA-256 of `bytes`. */
  sha256(bytes: Uint8Array): Promise<string>;
}
