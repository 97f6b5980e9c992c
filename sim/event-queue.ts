/** A scheduled callback. Ties in time run in the order they were scheduled, so runs are deterministic. */
interface Event {
  at: number;
  seq: number;
  run: () => void;
}

/** A binary min-heap of events ordered by (time, insertion order): the simulator's clock. */
export class EventQueue {
  private heap: Event[] = [];
  private seq = 0;
  now = 0;
  processed = 0;

  get size(): number {
    return this.heap.length;
  }

  schedule(delayMs: number, run: () => void): void {
    if (!(delayMs >= 0)) throw new RangeError(`cannot schedule an event ${delayMs} ms in the past`);
    this.push({ at: this.now + delayMs, seq: this.seq++, run });
  }

  /** Run events in order until the clock would pass `untilMs` or nothing is left. */
  runUntil(untilMs: number): void {
    while (this.heap.length > 0 && this.heap[0]!.at <= untilMs) {
      const event = this.pop();
      this.now = event.at;
      this.processed++;
      event.run();
    }
    if (this.now < untilMs) this.now = untilMs;
  }

  private push(event: Event): void {
    const heap = this.heap;
    heap.push(event);
    let i = heap.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!before(heap[i]!, heap[parent]!)) break;
      [heap[i], heap[parent]] = [heap[parent]!, heap[i]!];
      i = parent;
    }
  }

  private pop(): Event {
    const heap = this.heap;
    const top = heap[0]!;
    const last = heap.pop()!;
    if (heap.length > 0) {
      heap[0] = last;
      let i = 0;
      for (;;) {
        const left = 2 * i + 1;
        const right = left + 1;
        let smallest = i;
        if (left < heap.length && before(heap[left]!, heap[smallest]!)) smallest = left;
        if (right < heap.length && before(heap[right]!, heap[smallest]!)) smallest = right;
        if (smallest === i) break;
        [heap[i], heap[smallest]] = [heap[smallest]!, heap[i]!];
        i = smallest;
      }
    }
    return top;
  }
}

function before(a: Event, b: Event): boolean {
  return a.at < b.at || (a.at === b.at && a.seq < b.seq);
}
