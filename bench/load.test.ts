import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { closedLoop, percentile } from './load.ts';

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

test('percentile uses the nearest rank and always returns a sample', () => {
  const sorted = Array.from({ length: 100 }, (_, i) => i + 1); // 1..100
  assert.is(percentile(sorted, 50), 50);
  assert.is(percentile(sorted, 99), 99);
  assert.is(percentile(sorted, 100), 100);
  assert.is(percentile(sorted, 0), 1);
  assert.is(percentile([7], 50), 7);
  assert.is(percentile([1, 2, 3], 50), 2);
  assert.is(percentile([1, 2, 3, 4], 50), 2);
  assert.is(percentile([1, 2, 3, 4], 51), 3);
  assert.is(percentile([], 99), 0);
  assert.throws(() => percentile(sorted, 101), /0\.\.100/);
});

test('closed loop: every client runs back to back and latencies are plausible', async () => {
  const delayMs = 5;
  const calls = [0, 0, 0, 0];
  const result = await closedLoop({
    clients: 4,
    durationMs: 400,
    warmupMs: 50,
    operation: async (client, i) => {
      // Each client's calls are numbered 0, 1, 2… with no gaps or overlap.
      assert.is(i, calls[client]);
      calls[client]!++;
      await sleep(delayMs);
    },
  });
  assert.is(result.clients, 4);
  assert.is(result.errors, 0);
  assert.is(result.firstError, null);
  for (const count of calls) assert.ok(count > 0, 'every client ran');
  // Warmup calls ran but are not counted.
  const total = calls.reduce((a, b) => a + b, 0);
  assert.ok(result.ops > 0 && result.ops < total, `ops ${result.ops} of ${total} calls`);
  // 4 clients × 400 ms / ≥5 ms per call is at most 320; timers only make calls slower.
  assert.ok(result.ops <= 4 * (400 / delayMs) + 4, `ops ${result.ops}`);
  assert.ok(result.ops >= 8, `ops ${result.ops}`);
  assert.ok(result.seconds >= 0.4 && result.seconds < 4, `seconds ${result.seconds}`);
  assert.ok(Math.abs(result.opsPerSecond - result.ops / result.seconds) < 1e-9);
  // Ordered, and within an order of magnitude of the 5 ms sleep.
  assert.ok(result.p50Ms <= result.p99Ms && result.p99Ms <= result.maxMs);
  assert.ok(result.p50Ms >= delayMs - 1, `p50 ${result.p50Ms}`);
  assert.ok(result.p50Ms < delayMs * 10, `p50 ${result.p50Ms}`);
});

test('closed loop: errors are counted, the first message kept, nothing thrown', async () => {
  const result = await closedLoop({
    clients: 2,
    durationMs: 100,
    operation: async (client, i) => {
      await sleep(1);
      if (i % 2 === 1) throw new Error(`failure ${client}/${i}`);
    },
  });
  assert.ok(result.errors > 0);
  assert.ok(result.ops > 0);
  // Every other call fails, so the counts differ by at most one per client.
  assert.ok(Math.abs(result.ops - result.errors) <= 2, `ops ${result.ops} errors ${result.errors}`);
  assert.match(result.firstError ?? '', /^failure [01]\/1$/);
});

test('closed loop: bad options are refused', async () => {
  const operation = async (): Promise<void> => {};
  for (const options of [{ clients: 0, durationMs: 10 }, { clients: 1.5, durationMs: 10 }, { clients: 1, durationMs: 0 }]) {
    let error: unknown = null;
    try {
      await closedLoop({ ...options, operation });
    } catch (caught) {
      error = caught;
    }
    assert.instance(error, RangeError);
  }
});

test.run();
