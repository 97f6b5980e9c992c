// A closed-loop load runner: N clients, each calling one operation back to back, so the
// offered load adapts to the system's speed instead of piling up an unbounded queue.
// Used for the etcd baseline and, by the lead, to drive Raftbox's SDK the same way, so
// the two halves of a benchmark are measured by one piece of code.

import { performance } from 'node:perf_hooks';

/** What {@link closedLoop} measured after the warmup. */
export interface LoadResult {
  clients: number;
  /** Operations that succeeded and started after the warmup. */
  ops: number;
  /** Operations that failed (rejected) and started after the warmup. */
  errors: number;
  /** The first error message seen, warmup included; null when nothing failed. */
  firstError: string | null;
  /** From the end of the warmup until the last client stopped. */
  seconds: number;
  opsPerSecond: number;
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
}

/** The options of {@link closedLoop}. */
export interface ClosedLoopOptions {
  clients: number;
  /** How long to measure, after the warmup. */
  durationMs: number;
  /** How long to run before measuring (connections open, caches warm); default 0. */
  warmupMs?: number;
  /** One operation of client `client` (0-based); `i` counts that client's calls from 0. */
  operation: (client: number, i: number) => Promise<void>;
}

// A run that would record more latency samples than this stops early rather than grow
// memory without bound (2e7 samples is 160 MB of doubles, hours at etcd's speed).
export const latencySamplesMax = 20_000_000;

/**
 * Runs `clients` loops, each awaiting `operation` and immediately calling it again, for
 * `warmupMs` plus `durationMs`. Only operations that start after the warmup are counted;
 * a loop stops issuing when the measured window ends and the run resolves once every
 * in-flight operation has settled. A rejected operation is counted as an error (the first
 * message is kept) and the loop carries on; nothing is thrown. Percentiles are exact,
 * over the latencies of the successful measured operations.
 */
export async function closedLoop(options: ClosedLoopOptions): Promise<LoadResult> {
  const { clients, durationMs, operation } = options;
  const warmupMs = options.warmupMs ?? 0;
  if (!Number.isInteger(clients) || clients < 1) throw new RangeError(`clients must be a positive integer, got ${clients}`);
  if (!(durationMs > 0)) throw new RangeError(`durationMs must be positive, got ${durationMs}`);
  if (!(warmupMs >= 0)) throw new RangeError(`warmupMs must be zero or positive, got ${warmupMs}`);

  const started = performance.now();
  const measureFromMs = started + warmupMs;
  const stopAtMs = measureFromMs + durationMs;
  const samples: number[] = [];
  let errors = 0;
  let firstError: string | null = null;

  const loop = async (client: number): Promise<void> => {
    for (let i = 0; samples.length < latencySamplesMax; i++) {
      const begin = performance.now();
      if (begin >= stopAtMs) return;
      const measured = begin >= measureFromMs;
      try {
        await operation(client, i);
        if (measured) samples.push(performance.now() - begin);
      } catch (error) {
        if (measured) errors++;
        firstError ??= error instanceof Error ? error.message : String(error);
      }
    }
  };
  await Promise.all(Array.from({ length: clients }, (_, client) => loop(client)));

  const seconds = Math.max(0, performance.now() - measureFromMs) / 1000;
  samples.sort((a, b) => a - b);
  return {
    clients,
    ops: samples.length,
    errors,
    firstError,
    seconds,
    opsPerSecond: seconds > 0 ? samples.length / seconds : 0,
    p50Ms: percentile(samples, 50),
    p99Ms: percentile(samples, 99),
    maxMs: samples.length > 0 ? samples[samples.length - 1]! : 0,
  };
}

/**
 * The `p`th percentile (0..100) of ascending `sortedSamples` by the nearest-rank method:
 * the smallest sample with at least p% of the samples at or below it, so the answer is
 * always a measured value. Returns 0 for an empty list.
 */
export function percentile(sortedSamples: readonly number[], p: number): number {
  if (!(p >= 0 && p <= 100)) throw new RangeError(`percentile must be within 0..100, got ${p}`);
  const count = sortedSamples.length;
  if (count === 0) return 0;
  const rank = Math.ceil((p / 100) * count);
  return sortedSamples[Math.min(count, Math.max(1, rank)) - 1]!;
}
