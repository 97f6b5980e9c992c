// `npm run bench -- meta`: metadata write throughput and latency of a 3-node cluster with
// storage syncs on, at 1, 16, 64 and 256 concurrent SDK clients, next to a 3-node etcd
// doing 200-byte puts over its HTTP gateway at the same concurrency (when installed).
//
// Each write is a 100-byte file whose content is one of 16 fixed values, so blocks dedupe
// after the first round and what is measured is the metadata path: a commit through Raft.

import { LocalCluster } from '../node/host/local-cluster.ts';
import { connect, type Client } from '../node/sdk.ts';
import { etcdInstalled, etcdPutLoad, startEtcdCluster } from './etcd.ts';
import { closedLoop, type LoadResult } from './load.ts';
import { printTable, round } from './table.ts';

export interface MetaLevel {
  clients: number;
  raftbox: LoadResult;
  etcd: LoadResult | null;
  /** raftbox ops/s ÷ etcd ops/s. */
  ratio: number | null;
}

export interface MetaBenchmark {
  benchmark: 'meta';
  runs: number;
  durationMs: number;
  levels: MetaLevel[];
  goals: { throughputRatioAt64: { target: 2; measured: number | null; met: boolean | null }; p99At64NoWorseThanEtcd: boolean | null; singleClientP50Ms: { target: 2; measured: number; met: boolean } };
}

const levels = [1, 16, 64, 256];
const contents = Array.from({ length: 16 }, (_, i) => new TextEncoder().encode(`raftbox-meta-bench-value-${String(i).padStart(2, '0')}-`.padEnd(100, String.fromCharCode(97 + i))));

/** The median of several runs, judged by throughput; its latencies come along with it. */
function medianRun(runs: LoadResult[]): LoadResult {
  const sorted = [...runs].sort((a, b) => a.opsPerSecond - b.opsPerSecond);
  return sorted[Math.floor(sorted.length / 2)]!;
}

async function raftboxLevel(urls: string[], clients: number, durationMs: number): Promise<LoadResult> {
  const sdks: Client[] = await Promise.all(Array.from({ length: clients }, (_, i) => connect({ servers: rotate(urls, i), device: `bench-${i}` })));
  try {
    return await closedLoop({
      clients,
      durationMs,
      warmupMs: 1000,
      operation: async (client, i) => {
        await sdks[client]!.writeFile(`bench/c${client}/f${i % 16}`, contents[(client + i) % 16]!);
      },
    });
  } finally {
    await Promise.all(sdks.map((s) => s.close()));
  }
}

/** Spreads clients over the nodes, as real clients would be. */
function rotate(urls: string[], by: number): string[] {
  const k = by % urls.length;
  return [...urls.slice(k), ...urls.slice(0, k)];
}

export async function benchMeta(options: { runs: number; durationMs: number }): Promise<MetaBenchmark> {
  const results: MetaLevel[] = [];
  const cluster = await LocalCluster.start({ nodes: 3 });
  const raftbox = new Map<number, LoadResult[]>();
  try {
    // One throwaway round uploads the 16 blocks and warms the JIT everywhere.
    await raftboxLevel(cluster.urls, 16, 1000);
    for (let run = 0; run < options.runs; run++) {
      for (const clients of levels) raftbox.set(clients, [...(raftbox.get(clients) ?? []), await raftboxLevel(cluster.urls, clients, options.durationMs)]);
    }
  } finally {
    await cluster.destroy();
  }
  const etcd = new Map<number, LoadResult[]>();
  if (etcdInstalled()) {
    const etcdCluster = await startEtcdCluster();
    try {
      for (let run = 0; run < options.runs; run++) {
        for (const clients of levels) etcd.set(clients, [...(etcd.get(clients) ?? []), await etcdPutLoad(etcdCluster.endpoints, clients, options.durationMs)]);
      }
    } finally {
      await etcdCluster.stop();
    }
  }
  for (const clients of levels) {
    const ours = medianRun(raftbox.get(clients)!);
    const theirs = etcd.has(clients) ? medianRun(etcd.get(clients)!) : null;
    results.push({ clients, raftbox: ours, etcd: theirs, ratio: theirs ? round(ours.opsPerSecond / theirs.opsPerSecond, 2) : null });
  }
  const at64 = results.find((l) => l.clients === 64)!;
  const single = results.find((l) => l.clients === 1)!;
  return {
    benchmark: 'meta',
    runs: options.runs,
    durationMs: options.durationMs,
    levels: results,
    goals: {
      throughputRatioAt64: { target: 2, measured: at64.ratio, met: at64.ratio === null ? null : at64.ratio >= 2 },
      p99At64NoWorseThanEtcd: at64.etcd ? at64.raftbox.p99Ms <= at64.etcd.p99Ms : null,
      singleClientP50Ms: { target: 2, measured: round(single.raftbox.p50Ms, 2), met: single.raftbox.p50Ms <= 2 },
    },
  };
}

export function printMeta(result: MetaBenchmark): void {
  const rows = result.levels.map((l) => [
    l.clients,
    round(l.raftbox.opsPerSecond, 0),
    round(l.raftbox.p50Ms, 2),
    round(l.raftbox.p99Ms, 2),
    l.raftbox.errors,
    l.etcd ? round(l.etcd.opsPerSecond, 0) : '-',
    l.etcd ? round(l.etcd.p50Ms, 2) : '-',
    l.etcd ? round(l.etcd.p99Ms, 2) : '-',
    l.ratio ?? '-',
  ]);
  printTable(['clients', 'raftbox ops/s', 'p50 ms', 'p99 ms', 'errors', 'etcd ops/s', 'etcd p50', 'etcd p99', 'ratio'], rows);
  const g = result.goals;
  console.log(`median of ${result.runs} runs of ${result.durationMs / 1000} s per level`);
  console.log(`goal ≥2× etcd at 64 clients: ${g.throughputRatioAt64.measured ?? 'etcd not installed'} (${g.throughputRatioAt64.met === null ? 'not judged' : g.throughputRatioAt64.met ? 'met' : 'missed'}); p99 no worse than etcd's: ${g.p99At64NoWorseThanEtcd ?? 'not judged'}; single-client p50 ${g.singleClientP50Ms.measured} ms ≤ 2 ms: ${g.singleClientP50Ms.met ? 'met' : 'missed'}`);
}
