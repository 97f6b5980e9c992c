// The only door from an actor to the world. The real host (node/host/) backs it with
// the clock, sockets and files; the simulator (sim/) backs it with a virtual clock, a
// seeded PRNG, a lossy network and a disk that forgets unsynced writes on crash. Core
// code that reached around it could not be replayed from a seed.

/** Where a message goes: a node id for a peer, or a client address such as `client/c3`. */
export type Address = string;

export type TimerId = number;

/**
 * Durable storage as an actor sees it. Writes are asynchronous: `append` only buffers;
 * bytes are durable once the completion message passed to `sync` (or `put`) arrives in
 * the actor's mailbox. Reads are synchronous and meant for recovery at start-up.
 */
export interface Storage {
  /**
   * Buffer bytes at the end of a file, creating it. Not durable until a later sync completes.
   * `append` and `put` keep `bytes` by reference until written: the caller must not change them.
   */
  append(file: string, bytes: Uint8Array): void;
  /** Make every earlier append to `file` durable; `done` is delivered to the actor afterwards. */
  sync(file: string, done: unknown): void;
  /** Cut a file to `length` bytes, durably once a later sync of it completes. */
  truncate(file: string, length: number): void;
  /**
   * Replace a whole file atomically (temporary file, sync, rename) with `bytes`, or with
   * chunks written end to end (a large file need not be joined into one buffer first);
   * `done` is delivered when durable.
   */
  put(file: string, bytes: Uint8Array | readonly Uint8Array[], done: unknown): void;
  /** The whole file as the disk holds it now, or null when it does not exist. */
  read(file: string): Uint8Array | null;
  /** Up to `length` bytes of the file from byte `offset` (fewer at its end), or null when it does not exist. */
  readRange(file: string, offset: number, length: number): Uint8Array | null;
  /**
   * `readRange` without holding up the actor: `{ ...done, data }` is delivered once the
   * bytes are in (`data` null when the file does not exist, with `error` when it could not
   * be read). For reads on a busy path, such as serving blocks, where a disk stalled by
   * other writers would otherwise stall every actor sharing the thread, Raft's included.
   */
  readRangeLater(file: string, offset: number, length: number, done: object): void;
  /** The file's length in bytes as the disk holds it now, or null when it does not exist; reads no content. */
  size(file: string): number | null;
  /** Remove a file; durability follows the next sync or put. */
  remove(file: string): void;
  /** Names of the files whose name starts with `prefix`, sorted. */
  list(prefix: string): string[];
}

export type LogLevel = 'debug' | 'info' | 'warn' | 'error';

export interface Env {
  /** This actor's own address. */
  readonly self: Address;
  /** Milliseconds; virtual in the simulator. */
  now(): number;
  /** A float in [0, 1); seeded in the simulator. */
  random(): number;
  /** Fire and forget: the message may be lost, duplicated, delayed or reordered. */
  send(to: Address, message: unknown): void;
  /** Deliver `message` back to this actor's mailbox after `delayMs`. */
  timer(delayMs: number, message: unknown): TimerId;
  cancel(id: TimerId): void;
  readonly storage: Storage;
  /** A structured event; it feeds logs, the simulator trace and the dashboard. */
  log(level: LogLevel, event: string, fields?: Record<string, unknown>): void;
}
