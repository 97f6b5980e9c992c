/** Thrown when a message arrives at a full mailbox. Overflow is never a silent drop. */
export class MailboxFullError extends Error {
  readonly code = 'overloaded';
  constructor(readonly owner: string, readonly capacity: number) {
    super(`mailbox of ${owner} is full (${capacity} messages): the actor is overloaded, retry later`);
  }
}

/**
 * A bounded FIFO of messages for one actor. `push` refuses past `capacity` by throwing
 * MailboxFullError; the host decides whether that means back-pressure or a refusal to
 * the sender. A ring buffer keeps push and shift O(1) without reallocating.
 */
export class Mailbox<T> {
  private readonly slots: (T | undefined)[];
  private head = 0;
  private count = 0;

  constructor(readonly owner: string, readonly capacity: number) {
    if (!Number.isInteger(capacity) || capacity < 1) throw new RangeError(`mailbox capacity must be a positive integer, got ${capacity}`);
    this.slots = new Array(capacity);
  }

  get length(): number {
    return this.count;
  }

  push(message: T): void {
    if (this.count === this.capacity) throw new MailboxFullError(this.owner, this.capacity);
    this.slots[(this.head + this.count) % this.capacity] = message;
    this.count++;
  }

  shift(): T | undefined {
    if (this.count === 0) return undefined;
    const message = this.slots[this.head];
    this.slots[this.head] = undefined;
    this.head = (this.head + 1) % this.capacity;
    this.count--;
    return message;
  }

  clear(): void {
    this.slots.fill(undefined);
    this.head = 0;
    this.count = 0;
  }
}
