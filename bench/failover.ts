// `npm run bench -- failover`: one steady writer against a 3-node cluster while the leader
// is killed with SIGKILL 10 times (and restarted each time once a new leader serves). The
// figure is the write unavailability window: the longest gap between two acknowledged
// writes around each kill. Goal: p50 ≤ 300 ms, max ≤ 1 s.

import { performance } from 'node:perf_hooks';
import { LocalCluster } from '../node/host/local-cluster.ts';
import { connect, type Client } from '../node/sdk.ts';
import { median, printTable, round } from './table.ts';

export interface FailoverBenchmark {
  benchmark: 'failover';
  kills: number;
  windowsMs: number[];
  writes: number;
  errors: number;
  p50Ms: number;
  maxMs: number;
  goals: { p50Ms: { target: 300; met: boolean }; maxMs: { target: 1000; met: boolean } };
}

const sleep = (ms: number) => new Promise((done) => setTimeout(done, ms));

async function leaderOf(client: Client): Promise<string | null> {
  try {
    return (await client.status()).leader;
  } catch {
    return null;
  }
}

export async function benchFailover(options: { kills: number }): Promise<FailoverBenchmark> {
  const cluster = await LocalCluster.start({ nodes: 3 });
  const acks: number[] = [];
  let errors = 0;
  let writing = true;
  const windows: number[] = [];
  const writer = await connect({ servers: cluster.urls, device: 'bench-writer' });
  const observer = await connect({ servers: cluster.urls, device: 'bench-observer' });
  const content = new TextEncoder().encode('failover-bench'.padEnd(100, '.'));
  try {
    const loop = (async () => {
      for (let i = 0; writing; i++) {
        try {
          await writer.writeFile(`bench/failover-${i % 64}`, content);
          acks.push(performance.now());
        } catch {
          errors++;
        }
      }
    })();
    await sleep(1000);
    for (let kill = 0; kill < options.kills; kill++) {
      const leader = await leaderOf(observer);
      if (!leader) {
        await sleep(200);
        kill--;
        continue;
      }
      const killedAt = performance.now();
      await cluster.kill(leader);
      // Wait for writes to flow again, then bring the old leader back as a follower.
      while (acks.length === 0 || acks[acks.length - 1]! < killedAt + 50) await sleep(20);
      await cluster.startNode(leader);
      await sleep(1500);
      windows.push(longestGap(acks, killedAt - 100, killedAt + 5000));
    }
    writing = false;
    await loop;
  } finally {
    await writer.close();
    await observer.close();
    await cluster.destroy();
  }
  const p50 = median(windows);
  const max = Math.max(...windows);
  return { benchmark: 'failover', kills: options.kills, windowsMs: windows.map((w) => round(w, 1)), writes: acks.length, errors, p50Ms: round(p50, 1), maxMs: round(max, 1), goals: { p50Ms: { target: 300, met: p50 <= 300 }, maxMs: { target: 1000, met: max <= 1000 } } };
}

/** The longest time between consecutive acknowledgements within [from, to]. */
function longestGap(acks: number[], from: number, to: number): number {
  let previous: number | null = null;
  let longest = 0;
  for (const at of acks) {
    if (at < from) {
      previous = at;
      continue;
    }
    if (at > to) break;
    if (previous !== null) longest = Math.max(longest, at - previous);
    previous = at;
  }
  return longest;
}

export function printFailover(result: FailoverBenchmark): void {
  printTable(['kill', 'window ms'], result.windowsMs.map((w, i) => [i + 1, w]));
  console.log(`${result.writes} writes acknowledged, ${result.errors} failed attempts`);
  console.log(`unavailability p50 ${result.p50Ms} ms (goal ≤ 300: ${result.goals.p50Ms.met ? 'met' : 'missed'}), max ${result.maxMs} ms (goal ≤ 1000: ${result.goals.maxMs.met ? 'met' : 'missed'})`);
}
