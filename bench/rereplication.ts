// `npm run bench -- rereplication`: 4 nodes at R=3 hold 1 GiB of distinct blocks; one
// node (not the leader) is killed with SIGKILL. Figures: detection, from the kill to the
// log declaring the node down (the ring epoch moves), and full replication, from then
// until `status` counts no under-replicated block. Goals: ≤ 2 s and ≤ 10 s.

import { randomFillSync } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { LocalCluster, waitForLeader } from '../node/host/local-cluster.ts';
import { connect, type Client } from '../node/sdk.ts';
import type { ClusterStatus } from '../protocol/wire.ts';
import { median, printTable, round } from './table.ts';

export interface RereplicationRun {
  detectionMs: number;
  replicationMs: number;
  /** Blocks that lost a copy with the killed node, as status counted them at detection. */
  underReplicatedAtDetection: number;
  /** Block bytes copied, estimated as the lost share (R−1)/… of the stored bytes: blocks lost × average block size. */
  copiedMegabytes: number;
  megabytesPerSecond: number;
}

export interface RereplicationBenchmark {
  benchmark: 'rereplication';
  bytes: number;
  nodes: number;
  replication: number;
  runs: RereplicationRun[];
  median: { detectionMs: number; replicationMs: number };
  goals: { detectionMs: { target: 2000; met: boolean }; replicationMs: { target: 10000; met: boolean } };
}

const sleep = (ms: number) => new Promise((done) => setTimeout(done, ms));
const fileBytes = 64 * 2 ** 20;
const pollMs = 20;

export async function benchRereplication(options: { runs: number; bytes: number }): Promise<RereplicationBenchmark> {
  const runs: RereplicationRun[] = [];
  for (let run = 0; run < options.runs; run++) runs.push(await oneRun(options.bytes));
  const detection = median(runs.map((r) => r.detectionMs));
  const replication = median(runs.map((r) => r.replicationMs));
  return {
    benchmark: 'rereplication',
    bytes: options.bytes,
    nodes: 4,
    replication: 3,
    runs,
    median: { detectionMs: detection, replicationMs: replication },
    goals: { detectionMs: { target: 2000, met: detection <= 2000 }, replicationMs: { target: 10000, met: replication <= 10000 } },
  };
}

async function oneRun(bytes: number): Promise<RereplicationRun> {
  const cluster = await LocalCluster.start({ nodes: 4, replication: 3 });
  const client = await connect({ servers: cluster.urls, device: 'bench-rereplication' });
  try {
    const leader = await waitForLeader(client);
    const data = new Uint8Array(Math.min(fileBytes, bytes));
    for (let written = 0, i = 0; written < bytes; written += data.length, i++) {
      randomFillSync(data);
      await client.writeFile(`bench/rereplication-${i}.bin`, data.subarray(0, Math.min(data.length, bytes - written)));
    }
    const before = await until(client, (s) => s.replication.underReplicated === 0, 60_000);
    const victim = ['n1', 'n2', 'n3', 'n4'].find((id) => id !== leader)!;
    const killedAt = performance.now();
    await cluster.kill(victim);
    const detected = await until(client, (s) => (s.replication.epoch ?? 0) > (before.replication.epoch ?? 0), 30_000);
    const detectedAt = performance.now();
    await until(client, (s) => s.replication.underReplicated === 0, 120_000);
    const replicatedAt = performance.now();
    const averageBlockBytes = bytes / Math.max(1, before.replication.blocks);
    const copiedMegabytes = (detected.replication.underReplicated * averageBlockBytes) / 1e6;
    const replicationMs = replicatedAt - detectedAt;
    return {
      detectionMs: round(detectedAt - killedAt, 0),
      replicationMs: round(replicationMs, 0),
      underReplicatedAtDetection: detected.replication.underReplicated,
      copiedMegabytes: round(copiedMegabytes, 1),
      megabytesPerSecond: round(copiedMegabytes / Math.max(0.001, replicationMs / 1000), 1),
    };
  } finally {
    await client.close();
    await cluster.destroy();
  }
}

/** Polls `status` until `check` holds; a status that fails (an election, the dead node asked) is asked again. */
async function until(client: Client, check: (status: ClusterStatus) => boolean, timeoutMs: number): Promise<ClusterStatus> {
  const deadline = performance.now() + timeoutMs;
  while (performance.now() < deadline) {
    try {
      const status = await client.status();
      if (check(status)) return status;
    } catch {
      // Ask again.
    }
    await sleep(pollMs);
  }
  throw new Error(`the cluster did not reach the expected state within ${timeoutMs} ms`);
}

export function printRereplication(result: RereplicationBenchmark): void {
  printTable(
    ['run', 'detection ms', 'replication ms', 'blocks lost a copy', 'copied MB', 'MB/s'],
    result.runs.map((r, i) => [i + 1, r.detectionMs, r.replicationMs, r.underReplicatedAtDetection, r.copiedMegabytes, r.megabytesPerSecond]),
  );
  const g = result.goals;
  console.log(`${result.bytes / 2 ** 20} MiB of distinct blocks on ${result.nodes} nodes at R=${result.replication}; one follower killed with SIGKILL`);
  console.log(`median detection ${result.median.detectionMs} ms (goal ≤ 2000: ${g.detectionMs.met ? 'met' : 'missed'}), full replication ${result.median.replicationMs} ms after detection (goal ≤ 10000: ${g.replicationMs.met ? 'met' : 'missed'})`);
}
