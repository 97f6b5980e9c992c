// Runs many simulator seeds, inline or on `node:worker_threads`.
//
// Seeds are dealt dynamically: each worker gets one seed, and its result is its request for
// the next. Results come back in the order of the `seeds` list whatever the scheduling, so
// output built from them is deterministic. A seed whose run throws (or whose worker dies)
// becomes a failure with checker `crash`; a worker that dies is replaced, so the pool never
// hangs on a throw. Workers load TypeScript through tsx (see `startWorker`).

import { Worker } from 'node:worker_threads';
import { runSeed } from '../run.ts';
import type { SimOptions, SimResult } from '../types.ts';
import { defaultSimOptions } from '../types.ts';

/** What the parent gives each worker at start (`workerData`). */
export interface WorkerSetup {
  base: Omit<SimOptions, 'seed'>;
  keepTrace: boolean;
}

/** Parent → worker: run this seed. */
export interface RunRequest {
  seed: number;
}

/** Worker → parent. `ready` once its modules loaded; then one reply per seed. */
export type WorkerReply =
  | { type: 'ready' }
  | { type: 'result'; seed: number; result: SimResult }
  | { type: 'crash'; seed: number; message: string };

export interface PoolOptions {
  /** Options shared by every run; each seed is filled in. */
  base: Omit<SimOptions, 'seed'>;
  seeds: number[];
  /** Worker threads to use; 1 (or fewer) runs inline on this thread. */
  workers: number;
  /** Keep each result's trace; otherwise it is dropped before leaving the worker. */
  keepTrace?: boolean;
  /** Called as each seed finishes, in completion order (for progress display). */
  onResult?: (result: SimResult) => void;
}

/** The `npm run sim` command that replays one run (options that differ from the defaults). */
export function replayCommand(options: SimOptions): string {
  const parts = ['npm run sim -- --seed', String(options.seed)];
  if (options.nodes !== defaultSimOptions.nodes) parts.push('--nodes', String(options.nodes));
  if (options.clients !== defaultSimOptions.clients) parts.push('--clients', String(options.clients));
  if (options.durationMs !== defaultSimOptions.durationMs) parts.push('--duration', formatDuration(options.durationMs));
  if (options.scenario !== null) parts.push('--scenario', options.scenario);
  return parts.join(' ');
}

/** `60000` → `60s`, `1500` → `1500ms`. */
export function formatDuration(ms: number): string {
  return ms % 1000 === 0 ? `${ms / 1000}s` : `${ms}ms`;
}

/**
 * The message for a thrown value: its message and the top of its stack, leaving out this
 * runner's own frames so inline and worker runs report the same text.
 */
export function describeCrash(error: unknown): string {
  if (!(error instanceof Error)) return `threw ${String(error)}`;
  const all = (error.stack ?? '').split('\n').filter((line) => line.trimStart().startsWith('at '));
  const runner = all.findIndex((line) => /[/\\]sim[/\\]cli[/\\]/.test(line));
  const frames = (runner > 0 ? all.slice(0, runner) : all).slice(0, 4).map((line) => '  ' + line.trim());
  return [`${error.name}: ${error.message}`, ...frames].join('\n');
}

/** A failed result standing for a seed whose run crashed. */
export function crashResult(options: SimOptions, message: string): SimResult {
  return {
    seed: options.seed,
    ok: false,
    failures: [{ checker: 'crash', message }],
    simulatedMs: 0,
    events: 0,
    operations: 0,
    timedOut: 0,
    trace: null,
    replay: replayCommand(options),
  };
}

/** Runs one seed on this thread; a throw becomes a `crash` result. */
export function runSeedSafely(base: Omit<SimOptions, 'seed'>, seed: number, keepTrace: boolean): SimResult {
  const options: SimOptions = { ...base, seed };
  try {
    const result = runSeed(options);
    return keepTrace ? result : { ...result, trace: null };
  } catch (error) {
    return crashResult(options, describeCrash(error));
  }
}

/**
 * Runs every seed and resolves with the results in the order of `options.seeds`.
 * Rejects only when a worker cannot start at all (its modules fail to load).
 */
export async function runSeeds(options: PoolOptions): Promise<SimResult[]> {
  const { base, seeds } = options;
  const keepTrace = options.keepTrace ?? false;
  const workers = Math.min(Math.max(1, Math.floor(options.workers)), seeds.length);
  if (workers <= 1) {
    return seeds.map((seed) => {
      const result = runSeedSafely(base, seed, keepTrace);
      options.onResult?.(result);
      return result;
    });
  }

  const results = new Array<SimResult | undefined>(seeds.length);
  const indexOf = new Map<number, number[]>();
  seeds.forEach((seed, index) => indexOf.set(seed, [...(indexOf.get(seed) ?? []), index]));
  let next = 0;
  let done = 0;
  const live = new Set<Worker>();

  return new Promise<SimResult[]>((resolve, reject) => {
    let settled = false;
    const finish = (error: Error | null): void => {
      if (settled) return;
      settled = true;
      for (const worker of live) void worker.terminate();
      live.clear();
      if (error) reject(error);
      else resolve(results.map((result) => result!));
    };
    const record = (result: SimResult): void => {
      const slots = indexOf.get(result.seed) ?? [];
      const slot = slots.shift();
      if (slot === undefined) return;
      results[slot] = result;
      done += 1;
      options.onResult?.(result);
      if (done === seeds.length) finish(null);
    };

    const launch = (): void => {
      if (settled || next >= seeds.length) return;
      const worker = startWorker({ base, keepTrace });
      live.add(worker);
      let ready = false;
      let current: number | null = null;
      const deal = (): void => {
        if (next < seeds.length) {
          current = seeds[next++]!;
          const request: RunRequest = { seed: current };
          worker.postMessage(request);
        } else {
          current = null;
          live.delete(worker);
          void worker.terminate();
        }
      };
      const died = (message: string): void => {
        if (!live.has(worker)) return;
        live.delete(worker);
        void worker.terminate();
        if (!ready) return finish(new Error(`a simulator worker could not start: ${message}`));
        if (current !== null) record(crashResult({ ...base, seed: current }, message));
        current = null;
        launch();
      };
      worker.on('message', (reply: WorkerReply) => {
        if (reply.type === 'ready') ready = true;
        else if (reply.type === 'result') record(reply.result);
        else record(crashResult({ ...base, seed: reply.seed }, reply.message));
        if (!settled) deal();
      });
      worker.on('error', (error: Error) => died(describeCrash(error)));
      worker.on('exit', (code: number) => died(`worker exited with code ${code}`));
    };
    for (let i = 0; i < workers; i++) launch();
  });
}

/**
 * Starts `worker.ts` on a thread. A worker's entry module is loaded before any `--import`
 * hook takes effect, so a `.ts` entry fails with ERR_UNKNOWN_FILE_EXTENSION; instead a
 * small JavaScript bootstrap registers tsx and then imports the TypeScript worker.
 */
function startWorker(setup: WorkerSetup): Worker {
  return startTsxWorker(new URL('./worker.ts', import.meta.url).href, setup);
}

/**
 * A worker thread running the TypeScript module at `entry` (a file URL) through tsx,
 * whatever flags started this process; `workerData` is handed to it as usual.
 */
export function startTsxWorker(entry: string, workerData: unknown): Worker {
  const tsxApi = import.meta.resolve('tsx/esm/api');
  const bootstrap =
    `import(${JSON.stringify(tsxApi)})` +
    `.then((tsx) => { tsx.register(); return import(${JSON.stringify(entry)}); });`;
  return new Worker(bootstrap, { eval: true, execArgv: [], workerData });
}
