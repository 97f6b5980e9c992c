// The simulated client of the block model: it uploads small files (a block put to a node,
// then a commit naming it), deletes files, and asks for garbage-collection passes, at
// random, against random nodes. Answers that do not come back in time are forgotten:
// the checkers judge the cluster's state, not the client's view.

import type { EventQueue } from '../event-queue.ts';
import type { Prng } from '../prng.ts';
import type { Request, ResponseMessage } from '../../protocol/wire.ts';
import { simHash } from './sim-hash.ts';

export interface BlockClientOptions {
  /** Mean time between two operations. */
  operationIntervalMs: number;
  /** Requests awaiting an answer; past it, new operations wait. */
  pendingMax: number;
  requestTimeoutMs: number;
  pathsMax: number;
}

export const defaultBlockClient: BlockClientOptions = { operationIntervalMs: 150, pendingMax: 16, requestTimeoutMs: 3000, pathsMax: 12 };

type Pending = { sentMs: number; then: (message: ResponseMessage) => void };

/** See the file comment. Its address is `client/blocks`. */
export class BlockClient {
  readonly address = 'client/blocks';
  private readonly pending = new Map<number, Pending>();
  private nextId = 1;
  private seq = 0;
  private stopped = false;
  uploads = 0;
  deletes = 0;
  gcPasses = 0;

  constructor(
    private readonly nodes: () => string[],
    private readonly queue: EventQueue,
    private readonly prng: Prng,
    private readonly send: (to: string, message: unknown) => void,
    private readonly options: BlockClientOptions = defaultBlockClient,
  ) {}

  start(): void {
    this.queue.schedule(this.prng.int(1, this.options.operationIntervalMs), () => this.step());
  }

  stop(): void {
    this.stopped = true;
  }

  receive(message: unknown): void {
    const response = message as ResponseMessage;
    if (response?.type !== 'response') return;
    const pending = this.pending.get(response.id);
    if (!pending) return;
    this.pending.delete(response.id);
    pending.then(response);
  }

  private step(): void {
    if (this.stopped) return;
    this.queue.schedule(this.prng.int(1, 2 * this.options.operationIntervalMs), () => this.step());
    this.expire();
    if (this.pending.size >= this.options.pendingMax) return;
    const roll = this.prng.float();
    if (roll < 0.6) this.upload();
    else if (roll < 0.9) this.remove();
    else this.collect();
  }

  private upload(): void {
    const data = new Uint8Array(this.prng.int(16, 2048));
    for (let i = 0; i < data.length; i++) data[i] = this.prng.int(0, 255);
    const hash = simHash(data);
    const path = `f${this.prng.int(1, this.options.pathsMax)}`;
    const node = this.prng.pick(this.nodes());
    this.request(`${node}/blocks`, { op: 'blocks.put', hash, data }, (response) => {
      if (!response.ok) return;
      const change = { path, deleted: false, blocks: [{ hash, size: data.length }], size: data.length, mtime: this.queue.now, mode: 0o644 };
      this.request(this.prng.pick(this.nodes()), { op: 'commit', client: 'sim-blocks', seq: ++this.seq, device: 'sim', changes: [change] }, (answer) => {
        if (answer.ok) this.uploads++;
      });
    });
  }

  private remove(): void {
    const path = `f${this.prng.int(1, this.options.pathsMax)}`;
    const change = { path, deleted: true, blocks: [], size: 0, mtime: this.queue.now, mode: 0o644 };
    this.request(this.prng.pick(this.nodes()), { op: 'commit', client: 'sim-blocks', seq: ++this.seq, device: 'sim', changes: [change] }, (answer) => {
      if (answer.ok) this.deletes++;
    });
  }

  private collect(): void {
    this.request(this.prng.pick(this.nodes()), { op: 'admin.gc' }, (answer) => {
      if (answer.ok) this.gcPasses++;
    });
  }

  private request(to: string, request: Request, then: (message: ResponseMessage) => void): void {
    const id = this.nextId++;
    this.pending.set(id, { sentMs: this.queue.now, then });
    this.send(to, { type: 'request', from: this.address, id, request, hops: 0 });
  }

  private expire(): void {
    for (const [id, pending] of this.pending) if (this.queue.now - pending.sentMs > this.options.requestTimeoutMs) this.pending.delete(id);
  }
}
