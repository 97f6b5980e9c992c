// Stress runs on the simulator: the Raft paper's Figure 8 for 1000 rounds of leader
// crashes, over a reliable and over an unreliable network with long reordering; and
// churn, where a few clients keep writing while nodes are cut off, crashed and restarted.
// Every checker runs on each (sim/run.ts): safety throughout, then convergence, no lost
// acknowledged write and linearizability at the end.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import type { SimCluster } from './cluster.ts';
import { runSeed } from './run.ts';
import { defaultSimOptions, noFaults, type SimOptions } from './types.ts';

/** Counts the distinct leaders elected during a run, watching only. */
function countLeaders(): { observe: (cluster: SimCluster) => void; count: () => number } {
  const seen = new Set<number>();
  return {
    observe: (cluster) => {
      cluster.drainListeners.push((node) => {
        const raft = node.actor?.raft;
        if (raft?.role === 'leader') seen.add(raft.term);
      });
    },
    count: () => seen.size,
  };
}

function run(options: Partial<SimOptions>): { result: ReturnType<typeof runSeed>; leaders: number } {
  const leaders = countLeaders();
  const result = runSeed({ ...defaultSimOptions, seed: 1, ...options }, leaders.observe);
  assert.ok(result.ok, `${result.failures.map((f) => `[${f.checker}] ${f.message}`).join('; ')}\n  replay: ${result.replay}`);
  return { result, leaders: leaders.count() };
}

// The figure-8 scenario starts a round every 5–150 ms (crash the leader with p = 0.7,
// restart a down node when more than 2 are down or with p = 0.5), so 150 simulated
// seconds hold at least 1000 rounds.
const figure8Rounds = 1000;
const figure8Ms = figure8Rounds * 150;

test(`Figure 8: 5 nodes, ${figure8Rounds} rounds of leader crashes on a reliable network`, () => {
  const { result, leaders } = run({ seed: 8, scenario: 'figure-8', durationMs: figure8Ms });
  assert.ok(leaders >= 150, `leaders kept changing (${leaders} elected)`);
  assert.ok(result.operations > 1000, `clients made progress between crashes (${result.operations} operations)`);
});

test(`Figure 8 unreliable: ${figure8Rounds} rounds with 10% loss, duplicates and long reordering`, () => {
  const network = { loss: 0.1, duplicate: 0.02, delayMs: 1, jitterMs: 27, longDelay: 0.05, longDelayMs: 2_000, reorder: true };
  const { result, leaders } = run({ seed: 9, scenario: 'figure-8', durationMs: figure8Ms, network });
  assert.ok(leaders >= 150, `leaders kept changing (${leaders} elected)`);
  assert.ok(result.operations > 500, `clients made progress between crashes (${result.operations} operations)`);
});

test('churn: 3 clients while nodes are randomly cut off, crashed and restarted; every acknowledged write survives', () => {
  const faults = { ...noFaults, crash: true, partition: true };
  for (let seed = 1; seed <= 4; seed++) {
    const { result, leaders } = run({ seed, clients: 3, durationMs: 30_000, faults });
    assert.ok(leaders >= 2, `seed ${seed}: the faults forced elections (${leaders} leaders)`);
    assert.ok(result.operations > 300, `seed ${seed}: clients made progress (${result.operations} operations)`);
  }
});

test.run();
