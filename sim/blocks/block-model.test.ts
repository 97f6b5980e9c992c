// The block model under random uploads, deletes, GC passes, crashes and corrupted block
// files, over many seeds: no referenced block is ever lost while at most R−1 owners fail
// at once, GC never forgets a referenced block, and after healing every referenced block
// is back at R good copies. A failing seed is replayed with runBlockSeed(seed).

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { runBlockSeed } from './block-cluster.ts';

const seeds = Array.from({ length: 40 }, (_, i) => i + 1);

test('block model: no loss, GC keeps referenced blocks, copies restored, over 40 seeds', () => {
  let uploads = 0;
  let crashes = 0;
  let corruptions = 0;
  let gcPasses = 0;
  for (const seed of seeds) {
    const result = runBlockSeed(seed, { durationMs: 20_000, settleMs: 12_000 });
    assert.ok(result.ok, `seed ${seed}: ${JSON.stringify(result.failures)} (replay: runBlockSeed(${seed}, { durationMs: 20000, settleMs: 12000 }))`);
    uploads += result.uploads;
    crashes += result.crashes;
    corruptions += result.corruptions;
    gcPasses += result.gcPasses;
  }
  // The faults and the workload really happened, or the checks above prove nothing.
  assert.ok(uploads > seeds.length * 20, `uploads committed: ${uploads}`);
  assert.ok(crashes > seeds.length / 2, `crashes injected: ${crashes}`);
  assert.ok(corruptions > seeds.length / 2, `corruptions injected: ${corruptions}`);
  assert.ok(gcPasses > seeds.length, `GC passes: ${gcPasses}`);
});

test('the same seed gives the same run', () => {
  assert.equal(runBlockSeed(7, { durationMs: 8000, settleMs: 4000 }), runBlockSeed(7, { durationMs: 8000, settleMs: 4000 }));
});

test.run();
