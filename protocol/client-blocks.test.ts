// blocksInOrder: file order whatever order fetches finish in, a bounded window, and a
// failure thrown at its own block without leaving unhandled rejections behind.

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { blocksInOrder } from './client-blocks.ts';
import type { BlockRef } from './wire.ts';

const refs = (count: number): BlockRef[] => Array.from({ length: count }, (_, i) => ({ hash: String(i).padStart(64, '0'), size: 1 }));

/** Fetches that finish only when the test says, recording how many run at once. */
function controlledFetch() {
  const pending = new Map<string, { resolve: (data: Uint8Array) => void; reject: (error: Error) => void }>();
  let running = 0;
  let runningMax = 0;
  const fetch = (ref: BlockRef) =>
    new Promise<Uint8Array>((resolve, reject) => {
      running++;
      runningMax = Math.max(runningMax, running);
      const done = () => running--;
      pending.set(ref.hash, { resolve: (data) => (done(), resolve(data)), reject: (error) => (done(), reject(error)) });
    });
  const index = (i: number) => String(i).padStart(64, '0');
  return {
    fetch,
    finish: (i: number) => pending.get(index(i))!.resolve(Uint8Array.of(i)),
    fail: (i: number, message: string) => pending.get(index(i))!.reject(new Error(message)),
    started: (i: number) => pending.has(index(i)),
    get runningMax() {
      return runningMax;
    },
  };
}

const tick = () => new Promise((resolve) => setImmediate(resolve));

/** Reads `stream` to its end in the background: the first byte of every block, and how the read ended. */
function drain(stream: AsyncGenerator<Uint8Array>): { out: number[]; reading: Promise<void> } {
  const out: number[] = [];
  const reading = (async () => {
    for await (const block of stream) out.push(block[0]!);
  })();
  return { out, reading };
}

test('blocks come out in file order while later fetches finish first, with at most `ahead` running', async () => {
  const control = controlledFetch();
  const { out, reading } = drain(blocksInOrder(refs(10), 3, control.fetch));
  await tick();
  assert.ok(control.started(2) && !control.started(3), 'three fetches start, no more');
  // Finish in reverse order inside each window: the stream still yields 0, 1, 2, …
  for (let i = 0; i < 10; i++) {
    for (let j = Math.min(i + 2, 9); j >= i; j--) if (control.started(j)) control.finish(j);
    await tick();
  }
  await reading;
  assert.equal(out, [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
  assert.ok(control.runningMax <= 3, `at most 3 fetches ran at once, saw ${control.runningMax}`);
});

test('a failed fetch is thrown at its block; one failing behind it is no unhandled rejection', async () => {
  const unhandled: unknown[] = [];
  const onUnhandled = (reason: unknown) => unhandled.push(reason);
  process.on('unhandledRejection', onUnhandled);
  try {
    const control = controlledFetch();
    const { out, reading } = drain(blocksInOrder(refs(5), 3, control.fetch));
    await tick();
    control.fail(2, 'block 2 is lost'); // behind block 0, which is still being fetched
    await tick();
    control.finish(0);
    await tick();
    control.fail(1, 'block 1 is corrupt everywhere');
    const error = await reading.then(() => null, (e: Error) => e);
    assert.is(error?.message, 'block 1 is corrupt everywhere', 'the first failure in file order is the one thrown');
    assert.equal(out, [0]);
    await tick();
    assert.equal(unhandled, [], 'no unhandled rejection');
  } finally {
    process.off('unhandledRejection', onUnhandled);
  }
});

test.run();
