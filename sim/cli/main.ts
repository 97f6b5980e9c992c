// `npm run sim -- …`: runs simulator seeds and reports failures with their replay command.
//
//   npm run sim -- --seeds A..B [--nodes 5] [--clients 8] [--duration 60s] [--scenario NAME]
//                  [--workers N] [--json]
//   npm run sim -- --seed S [--trace FILE]
//   npm run sim -- --list-scenarios [--json]
//
// Exit status: 0 all seeds passed, 1 a seed failed, 2 bad usage (one sentence on stderr).
// With --json the last stdout line is the summary object from CONTRACT.md.

import { realpathSync, writeFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { performance } from 'node:perf_hooks';
import { pathToFileURL } from 'node:url';
import { formatTable, round } from '../../bench/table.ts';
import { listScenarios } from '../run.ts';
import { defaultSimOptions, type SimOptions, type SimResult } from '../types.ts';
import { runSeeds } from './pool.ts';

/** A bad command line; its message is the one sentence printed on stderr. */
export class UsageError extends Error {}

/** What the command line asked for. */
export interface CliOptions {
  /** Seeds to run, ascending; empty only with `listScenarios`. */
  seeds: number[];
  nodes: number;
  clients: number;
  durationMs: number;
  scenario: string | null;
  /** File to write the trace of the single seed to. */
  trace: string | null;
  listScenarios: boolean;
  json: boolean;
  workers: number;
  help: boolean;
  /** Run the block-store model (uploads, deletes, GC, node loss, bit flips) instead of the Raft/metadata model. */
  blocks: boolean;
}

const maxSeeds = 10_000_000;
const valueFlags = ['--seeds', '--seed', '--nodes', '--clients', '--duration', '--scenario', '--trace', '--workers'];
const booleanFlags = ['--list-scenarios', '--json', '--help', '--blocks'];

const usage = `usage:
  npm run sim -- --seeds A..B [--nodes 5] [--clients 8] [--duration 60s] [--scenario NAME] [--workers N] [--json]
  npm run sim -- --seed S [--trace FILE] [other options]
  npm run sim -- --list-scenarios [--json]
  npm run sim -- --blocks --seeds A..B [--nodes 5] [--duration 30s] [--json]   (the block-store model)`;

/** Parses a non-negative integer within [min, max], or throws a UsageError naming `flag`. */
function parseInteger(flag: string, text: string, min: number, max = Number.MAX_SAFE_INTEGER): number {
  if (!/^\d+$/.test(text)) throw new UsageError(`${flag} needs a whole number, not "${text}".`);
  const value = Number(text);
  if (value < min || value > max) throw new UsageError(`${flag} must be between ${min} and ${max}, not ${value}.`);
  return value;
}

/** Parses `60s`, `1500ms`, `2m`, `1.5s` or a plain number of milliseconds into milliseconds. */
export function parseDuration(text: string): number {
  const match = /^(\d+(?:\.\d+)?)(ms|s|m)?$/.exec(text);
  if (!match) throw new UsageError(`--duration needs a time such as 60s, 1500ms or 2m, not "${text}".`);
  const scale = match[2] === 's' ? 1000 : match[2] === 'm' ? 60_000 : 1;
  const ms = Math.round(Number(match[1]) * scale);
  if (ms <= 0) throw new UsageError(`--duration must be longer than 0 ms, not "${text}".`);
  return ms;
}

/** Parses `A..B` (inclusive) or a single number into the list of seeds. */
export function parseSeedRange(text: string): number[] {
  const match = /^(\d+)(?:\.\.(\d+))?$/.exec(text);
  if (!match) throw new UsageError(`--seeds needs a range A..B or a single number, not "${text}".`);
  const first = parseInteger('--seeds', match[1]!, 0);
  const last = match[2] === undefined ? first : parseInteger('--seeds', match[2], 0);
  if (last < first) throw new UsageError(`--seeds range ${text} is empty because ${last} < ${first}.`);
  if (last - first + 1 > maxSeeds) throw new UsageError(`--seeds range ${text} has more than ${maxSeeds} seeds.`);
  return Array.from({ length: last - first + 1 }, (_, i) => first + i);
}

/** Parses the command line (without `node` and the script); throws UsageError when it is bad. */
export function parseArgs(argv: string[]): CliOptions {
  const options: CliOptions = {
    seeds: [],
    nodes: defaultSimOptions.nodes,
    clients: defaultSimOptions.clients,
    durationMs: defaultSimOptions.durationMs,
    scenario: null,
    trace: null,
    listScenarios: false,
    json: false,
    workers: Math.min(2, availableParallelism()),
    help: false,
    blocks: false,
  };
  let seedFlag: string | null = null;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    const eq = arg.indexOf('=');
    const flag = arg.startsWith('--') && eq > 0 ? arg.slice(0, eq) : arg;
    if (booleanFlags.includes(flag)) {
      if (flag !== arg) throw new UsageError(`${flag} takes no value.`);
      if (flag === '--json') options.json = true;
      else if (flag === '--help') options.help = true;
      else if (flag === '--blocks') options.blocks = true;
      else options.listScenarios = true;
      continue;
    }
    if (!valueFlags.includes(flag)) {
      throw new UsageError(arg.startsWith('-') ? `Unknown flag ${flag}; see npm run sim -- --help.` : `Unexpected argument "${arg}"; see npm run sim -- --help.`);
    }
    let value: string;
    if (flag !== arg) value = arg.slice(eq + 1);
    else {
      const following = argv[i + 1];
      if (following === undefined || following.startsWith('--')) throw new UsageError(`${flag} needs a value.`);
      value = following;
      i++;
    }
    switch (flag) {
      case '--seeds':
      case '--seed':
        if (seedFlag !== null && seedFlag !== flag) throw new UsageError('Give either --seed or --seeds, not both.');
        seedFlag = flag;
        options.seeds = flag === '--seed' ? [parseInteger('--seed', value, 0)] : parseSeedRange(value);
        break;
      case '--nodes':
        options.nodes = parseInteger(flag, value, 1, 99);
        break;
      case '--clients':
        options.clients = parseInteger(flag, value, 0, 10_000);
        break;
      case '--duration':
        options.durationMs = parseDuration(value);
        break;
      case '--scenario':
        options.scenario = value;
        break;
      case '--trace':
        options.trace = value;
        break;
      case '--workers':
        options.workers = parseInteger(flag, value, 1, 1024);
        break;
    }
  }
  if (options.help || options.listScenarios) return options;
  if (options.seeds.length === 0) throw new UsageError('Give the seeds to run with --seeds A..B or --seed S.');
  if (options.trace !== null && options.seeds.length !== 1) throw new UsageError('--trace needs a single seed (--seed S).');
  return options;
}

/** The options every seed of this command shares. */
export function baseOptions(cli: CliOptions): Omit<SimOptions, 'seed'> {
  return {
    ...defaultSimOptions,
    nodes: cli.nodes,
    clients: cli.clients,
    durationMs: cli.durationMs,
    scenario: cli.scenario,
    trace: cli.trace !== null,
  };
}

/** The `--json` summary object (CONTRACT.md "Simulator"). */
export interface SimSummary {
  seeds: number;
  passed: number;
  /** One entry per failing seed, with its first failure, in seed order. */
  failed: { seed: number; checker: string; message: string }[];
  simulatedSeconds: number;
  wallSeconds: number;
  events: number;
}

/** Builds the summary of a finished run of seeds. */
export function summarize(results: SimResult[], wallSeconds: number): SimSummary {
  const failing = results.filter((result) => !result.ok);
  return {
    seeds: results.length,
    passed: results.length - failing.length,
    failed: failing.map((result) => ({
      seed: result.seed,
      checker: result.failures[0]?.checker ?? 'unknown',
      message: result.failures[0]?.message ?? 'failed without a reported failure',
    })),
    simulatedSeconds: round(results.reduce((sum, result) => sum + result.simulatedMs, 0) / 1000),
    wallSeconds: round(wallSeconds),
    events: results.reduce((sum, result) => sum + result.events, 0),
  };
}

function printScenarios(json: boolean): void {
  const scenarios = listScenarios().map(({ name, description }) => ({ name, description }));
  if (json) {
    process.stdout.write(JSON.stringify({ scenarios }) + '\n');
    return;
  }
  const width = Math.max(0, ...scenarios.map((scenario) => scenario.name.length));
  for (const scenario of scenarios) process.stdout.write(`${scenario.name.padEnd(width)}  ${scenario.description}\n`);
}

/** Runs the command; resolves with the exit status. */
export async function main(argv: string[]): Promise<number> {
  const cli = parseArgs(argv);
  if (cli.help) {
    process.stdout.write(usage + '\n');
    return 0;
  }
  if (cli.listScenarios) {
    printScenarios(cli.json);
    return 0;
  }
  if (cli.scenario !== null) {
    const names = listScenarios().map((scenario) => scenario.name);
    if (!names.includes(cli.scenario)) {
      throw new UsageError(`Unknown scenario "${cli.scenario}"; the scenarios are: ${names.join(', ') || 'none'}.`);
    }
  }

  const showProgress = !cli.json && process.stderr.isTTY === true && cli.seeds.length > 1;
  let finished = 0;
  const started = performance.now();
  if (cli.blocks) return runBlockSeeds(cli, started);
  const results = await runSeeds({
    base: baseOptions(cli),
    seeds: cli.seeds,
    workers: cli.trace !== null ? 1 : cli.workers,
    keepTrace: cli.trace !== null,
    onResult: showProgress ? () => process.stderr.write(`\r${++finished}/${cli.seeds.length} seeds`) : undefined,
  });
  const wallSeconds = (performance.now() - started) / 1000;
  if (showProgress) process.stderr.write('\r\x1b[K');

  if (cli.trace !== null) {
    const trace = results[0]?.trace ?? [];
    writeFileSync(cli.trace, trace.length === 0 ? '' : trace.join('\n') + '\n');
  }

  const report = cli.json ? process.stderr : process.stdout;
  for (const result of results.filter((r) => !r.ok)) {
    const first = result.failures[0] ?? { checker: 'unknown', message: 'failed without a reported failure' };
    report.write(`seed ${result.seed} FAILED [${first.checker}] ${first.message}\n  replay: ${result.replay}\n`);
  }

  const summary = summarize(results, wallSeconds);
  if (cli.json) process.stdout.write(JSON.stringify(summary) + '\n');
  else {
    const eventsPerSecond = wallSeconds > 0 ? Math.round(summary.events / wallSeconds) : 0;
    const header = ['seeds', 'passed', 'failed', 'simulated s', 'wall s', 'events', 'events/s'];
    const row = [summary.seeds, summary.passed, summary.failed.length, summary.simulatedSeconds, summary.wallSeconds, summary.events, eventsPerSecond];
    process.stdout.write(formatTable(header, [row]) + '\n');
  }
  return summary.failed.length > 0 ? 1 : 0;
}

/**
 * `--blocks`: the block-store model, one seed after another on this thread. Its checkers:
 * no referenced block loses its last good copy while at most R−1 owners fail, garbage
 * collection never forgets a referenced block, and healing restores R copies.
 */
async function runBlockSeeds(cli: CliOptions, started: number): Promise<number> {
  const { runBlockSeed, defaultBlockSim } = await import('../blocks/block-cluster.ts');
  const durationMs = cli.durationMs === defaultSimOptions.durationMs ? defaultBlockSim.durationMs : cli.durationMs;
  const failed: SimSummary['failed'] = [];
  let events = 0;
  for (const seed of cli.seeds) {
    const result = runBlockSeed(seed, { nodes: cli.nodes, durationMs });
    events += result.events;
    const first = result.failures[0];
    if (first !== undefined) {
      failed.push({ seed, checker: first.checker, message: first.message });
      const report = cli.json ? process.stderr : process.stdout;
      report.write(`seed ${seed} FAILED [${first.checker}] ${first.message}\n  replay: npm run sim -- --blocks --seed ${seed} --nodes ${cli.nodes} --duration ${durationMs / 1000}s\n`);
    }
  }
  const wallSeconds = (performance.now() - started) / 1000;
  const summary: SimSummary = {
    seeds: cli.seeds.length,
    passed: cli.seeds.length - failed.length,
    failed,
    simulatedSeconds: round((cli.seeds.length * (durationMs + defaultBlockSim.settleMs)) / 1000),
    wallSeconds: round(wallSeconds),
    events,
  };
  if (cli.json) process.stdout.write(JSON.stringify(summary) + '\n');
  else process.stdout.write(formatTable(['seeds', 'passed', 'failed', 'simulated s', 'wall s', 'events'], [[summary.seeds, summary.passed, failed.length, summary.simulatedSeconds, summary.wallSeconds, events]]) + '\n');
  return failed.length > 0 ? 1 : 0;
}

const invokedDirectly = process.argv[1] !== undefined && import.meta.url === pathToFileURL(realpathSync(process.argv[1])).href;
if (invokedDirectly) {
  main(process.argv.slice(2)).then(
    (status) => {
      process.exitCode = status;
    },
    (error: unknown) => {
      if (error instanceof UsageError) {
        process.stderr.write(error.message + '\n');
        process.exitCode = 2;
      } else {
        process.stderr.write(`The simulator failed: ${error instanceof Error ? error.message : String(error)}\n`);
        process.exitCode = 1;
      }
    },
  );
}
