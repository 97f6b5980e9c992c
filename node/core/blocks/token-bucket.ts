/**
 * A bandwidth budget: `bytesPerSecond` refills continuously up to `burstBytes`. A take
 * larger than the burst is allowed once the bucket is full, so one big block can always
 * go, and the debt it leaves is paid before the next.
 */
export class TokenBucket {
  private tokens: number;
  private refilledAtMs: number;

  constructor(private readonly bytesPerSecond: number, private readonly burstBytes: number, nowMs: number) {
    if (!(bytesPerSecond > 0) || !(burstBytes > 0)) throw new RangeError(`a bandwidth budget needs a positive rate and burst, got ${bytesPerSecond} B/s and ${burstBytes} B`);
    this.tokens = burstBytes;
    this.refilledAtMs = nowMs;
  }

  /** Takes `bytes` if the budget allows now; false otherwise (see `waitMs`). */
  take(bytes: number, nowMs: number): boolean {
    this.refill(nowMs);
    if (this.tokens < Math.min(bytes, this.burstBytes)) return false;
    this.tokens -= bytes;
    return true;
  }

  /** How long until `take(bytes)` would succeed. */
  waitMs(bytes: number, nowMs: number): number {
    this.refill(nowMs);
    const short = Math.min(bytes, this.burstBytes) - this.tokens;
    return short <= 0 ? 0 : Math.ceil((short / this.bytesPerSecond) * 1000);
  }

  private refill(nowMs: number): void {
    const elapsedMs = Math.max(0, nowMs - this.refilledAtMs);
    this.refilledAtMs = nowMs;
    this.tokens = Math.min(this.burstBytes, this.tokens + (elapsedMs / 1000) * this.bytesPerSecond);
  }
}
