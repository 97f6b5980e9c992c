// `npm run bench -- NAME [--json]`: runs one benchmark, prints a table for people and, with
// --json, one JSON object as the last stdout line. Exit 2 for bad usage or a benchmark
// that is not built yet. `--help` lists the benchmarks (`usage` below).

import { realpathSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { performance } from 'node:perf_hooks';
import { pathToFileURL } from 'node:url';
import { allFaults, defaultSimOptions, type SimOptions } from '../sim/types.ts';
import { median, parseBenchArgs, printTable, round, usageError } from './table.ts';

/** Every benchmark name: those of CONTRACT.md "Benchmarks", and `layout` (why blocks live in pack files). */
export const benchmarkNames = ['meta', 'upload', 'delta', 'failover', 'rereplication', 'hash', 'layout', 'sim'] as const;

/** One timed seed of the `sim` benchmark. */
export interface SimRun {
  seed: number;
  ok: boolean;
  wallSeconds: number;
  simulatedSeconds: number;
  /** Wall seconds scaled to 60 simulated seconds. */
  wallPer60Seconds: number;
  events: number;
  eventsPerSecond: number;
  simulatedPerWall: number;
}

/** The `--seeds-1000` part of the `sim` benchmark. */
export interface ThousandSeeds {
  seeds: number;
  failed: number;
  workers: number;
  wallSeconds: number;
  target: { wallSecondsMax: number; met: boolean };
}

/** What `npm run bench -- sim --json` prints. */
export interface SimBenchmark {
  benchmark: 'sim';
  runs: SimRun[];
  median: { wallSeconds: number; wallPer60Seconds: number; eventsPerSecond: number; simulatedPerWall: number };
  target: { wallSecondsMax: number; met: boolean };
  seeds1000?: ThousandSeeds;
}

const benchSeeds = [1, 2, 3, 4, 5];
const wallTargetSeconds = 0.5;
const thousandTargetSeconds = 600;

/** Times 5 seeds of 60 simulated seconds inline, and optionally seeds 1..1000 on the pool. */
export async function benchSim(withThousand: boolean): Promise<SimBenchmark> {
  // Loaded here so that other benchmarks do not load the simulator.
  const { runSeedSafely } = await import('../sim/cli/pool.ts');
  const base: Omit<SimOptions, 'seed'> = { ...defaultSimOptions, nodes: 5, clients: 8, durationMs: 60_000, faults: allFaults };
  const runs = benchSeeds.map((seed): SimRun => {
    const started = performance.now();
    const result = runSeedSafely(base, seed, false);
    const wall = (performance.now() - started) / 1000;
    const simulated = result.simulatedMs / 1000;
    return {
      seed,
      ok: result.ok,
      wallSeconds: round(wall),
      simulatedSeconds: round(simulated),
      wallPer60Seconds: round(simulated > 0 ? (wall * 60) / simulated : 0),
      events: result.events,
      eventsPerSecond: Math.round(wall > 0 ? result.events / wall : 0),
      simulatedPerWall: round(wall > 0 ? simulated / wall : 0, 1),
    };
  });
  const middle = {
    wallSeconds: round(median(runs.map((run) => run.wallSeconds))),
    wallPer60Seconds: round(median(runs.map((run) => run.wallPer60Seconds))),
    eventsPerSecond: Math.round(median(runs.map((run) => run.eventsPerSecond))),
    simulatedPerWall: round(median(runs.map((run) => run.simulatedPerWall)), 1),
  };
  const report: SimBenchmark = {
    benchmark: 'sim',
    runs,
    median: middle,
    target: { wallSecondsMax: wallTargetSeconds, met: middle.wallSeconds <= wallTargetSeconds },
  };
  if (withThousand) report.seeds1000 = await benchThousand();
  return report;
}

async function benchThousand(): Promise<ThousandSeeds> {
  const { runSeeds } = await import('../sim/cli/pool.ts');
  const workers = Math.min(2, availableParallelism());
  const seeds = Array.from({ length: 1000 }, (_, i) => i + 1);
  const progress = process.stderr.isTTY === true;
  let done = 0;
  const started = performance.now();
  const results = await runSeeds({
    base: { ...defaultSimOptions },
    seeds,
    workers,
    onResult: progress ? () => process.stderr.write(`\r${++done}/1000 seeds`) : undefined,
  });
  if (progress) process.stderr.write('\r\x1b[K');
  const wallSeconds = round((performance.now() - started) / 1000, 1);
  return {
    seeds: results.length,
    failed: results.filter((result) => !result.ok).length,
    workers,
    wallSeconds,
    target: { wallSecondsMax: thousandTargetSeconds, met: wallSeconds <= thousandTargetSeconds },
  };
}

function printSim(report: SimBenchmark): void {
  process.stdout.write('sim: 5 nodes, 8 clients, all faults, 60 simulated s per seed, one thread\n\n');
  const rows = report.runs.map((run) => [
    String(run.seed), run.ok ? 'pass' : 'FAIL', run.wallSeconds, run.simulatedSeconds, run.wallPer60Seconds, run.events, run.eventsPerSecond, run.simulatedPerWall,
  ]);
  const m = report.median;
  rows.push(['median', '', m.wallSeconds, '', m.wallPer60Seconds, '', m.eventsPerSecond, m.simulatedPerWall]);
  printTable(['seed', 'checks', 'wall s', 'simulated s', 'wall s / 60 sim s', 'events', 'events/s', 'sim/wall'], rows);
  const verdict = (met: boolean): string => (met ? 'pass' : 'miss');
  process.stdout.write(`\ntarget: one 60 s seed ≤ ${wallTargetSeconds} s wall (median ${m.wallSeconds} s): ${verdict(report.target.met)}\n`);
  const thousand = report.seeds1000;
  if (thousand) {
    process.stdout.write(
      `target: --seeds 1..1000 ≤ ${thousandTargetSeconds / 60} min on ${thousand.workers} workers ` +
        `(${thousand.wallSeconds} s, ${thousand.failed} failed): ${verdict(thousand.target.met)}\n`,
    );
  }
}

const usage = `usage: npm run bench -- NAME [--quick] [--json]   (or raftbox bench NAME …)

Each benchmark starts what it measures (nodes on loopback) and prints a table; --json
prints one JSON object as the last line instead, --quick a shorter run.

  meta            metadata writes at 1/16/64/256 SDK clients vs a 3-node etcd
                  (Debian package etcd-server, when installed)
  upload          1 GiB up and down at R=3 vs the raw disk write+sync rate, and a first
                  folder sync of 10,000 small files (files/s)
  delta           bytes uploaded for 3 edits of a synced 256 MiB file vs fixed 4 MiB blocks
  failover        write unavailability while the leader is killed 10 times
  rereplication   detection and re-replication time after kill -9 of one of 4 nodes
                  holding 1 GiB
  hash            FastCDC and SHA-256 MB/s on 256 MiB: alone, together on one thread,
                  on a worker_threads pool, and in Chromium's web workers; target ≥ 600 MB/s
  layout          small blocks stored as pack appends vs one file each: blocks/s and CPU
                  per block
  sim             5 seeds × 60 simulated s (5 nodes, 8 clients, all faults) on one thread,
                  target: one 60 s seed ≤ 0.5 s wall (median); --seeds-1000 also times
                  seeds 1..1000 on the worker pool, target ≤ 10 minutes`;

/** Parses the command line, runs the benchmark, prints it; resolves with the exit status. */
export async function main(argv: string[]): Promise<number> {
  if (argv.includes('--help') || argv.includes('-h')) {
    process.stdout.write(usage + '\n');
    return 0;
  }
  const args = parseBenchArgs(argv, ['seeds-1000', 'quick']);
  const known: readonly string[] = benchmarkNames;
  if (!known.includes(args.name)) usageError(`Unknown benchmark "${args.name}"; the benchmarks are: ${benchmarkNames.join(', ')}.`);
  const quick = args.flags.has('quick');
  const emit = (report: unknown, print: () => void): number => {
    if (args.json) process.stdout.write(JSON.stringify(report) + '\n');
    else print();
    return 0;
  };
  if (args.name === 'meta') {
    const { benchMeta, printMeta } = await import('./meta.ts');
    const report = await benchMeta(quick ? { runs: 1, durationMs: 2000 } : { runs: 3, durationMs: 5000 });
    return emit(report, () => printMeta(report));
  }
  if (args.name === 'upload') {
    const { benchUpload, printUpload } = await import('./upload.ts');
    const report = await benchUpload(quick ? { runs: 1, bytes: 256 * 2 ** 20, files: 2000 } : { runs: 3, bytes: 2 ** 30, files: 10_000 });
    return emit(report, () => printUpload(report));
  }
  if (args.name === 'hash') {
    const { benchHash, printHash } = await import('./hash.ts');
    const report = await benchHash(quick ? { bytes: 64 * 2 ** 20, runs: 3 } : {});
    // The browser part: the web client's worker pool in Chromium, against one worker.
    const { benchHashBrowser } = await import('./hash-browser.ts');
    const browser = await benchHashBrowser({ quick });
    report.browser = { ...browser, poolSpeedupTarget: 1.7, oneWorkerMbPerSecondTarget: 200 };
    return emit(report, () => printHash(report));
  }
  if (args.name === 'delta') {
    const { benchDelta, printDelta } = await import('./delta.ts');
    const report = await benchDelta({ fileBytes: quick ? 64 * 2 ** 20 : 256 * 2 ** 20 });
    return emit(report, () => printDelta(report));
  }
  if (args.name === 'failover') {
    const { benchFailover, printFailover } = await import('./failover.ts');
    const report = await benchFailover({ kills: quick ? 3 : 10 });
    return emit(report, () => printFailover(report));
  }
  if (args.name === 'rereplication') {
    const { benchRereplication, printRereplication } = await import('./rereplication.ts');
    const report = await benchRereplication(quick ? { runs: 1, bytes: 256 * 2 ** 20 } : { runs: 3, bytes: 2 ** 30 });
    return emit(report, () => printRereplication(report));
  }
  if (args.name === 'layout') {
    const { benchLayout, printLayout } = await import('./layout.ts');
    const report = await benchLayout(quick ? { count: 1000, runs: 1 } : { count: 5000, runs: 3 });
    return emit(report, () => printLayout(report));
  }
  if (args.name !== 'sim') usageError(`benchmark ${args.name} is not built yet`);
  const report = await benchSim(args.flags.has('seeds-1000'));
  if (args.json) process.stdout.write(JSON.stringify(report) + '\n');
  else printSim(report);
  return 0;
}

const invokedDirectly = process.argv[1] !== undefined && import.meta.url === pathToFileURL(realpathSync(process.argv[1])).href;
if (invokedDirectly) process.exitCode = await main(process.argv.slice(2));
