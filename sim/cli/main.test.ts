// Runs `npm run sim`'s entry (sim/cli/main.ts) as a child process and checks its contract:
// exit statuses, the --json summary line, --list-scenarios --json, byte-identical traces.

import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { test } from 'uvu';
import * as assert from 'uvu/assert';

const root = fileURLToPath(new URL('../..', import.meta.url));

interface Run {
  status: number | null;
  stdout: string;
  stderr: string;
}

/** Runs the CLI with `args` from the repository root. */
function sim(...args: string[]): Run {
  const child = spawnSync(process.execPath, ['--import', 'tsx', 'sim/cli/main.ts', ...args], {
    cwd: root,
    encoding: 'utf8',
    timeout: 120_000,
  });
  return { status: child.status, stdout: child.stdout, stderr: child.stderr };
}

function lastLine(text: string): string {
  const lines = text.trimEnd().split('\n');
  return lines[lines.length - 1] ?? '';
}

test('--list-scenarios --json prints {"scenarios":[{name,description}]}', () => {
  const run = sim('--list-scenarios', '--json');
  assert.is(run.status, 0, run.stderr);
  const parsed = JSON.parse(lastLine(run.stdout)) as { scenarios: unknown };
  assert.ok(Array.isArray(parsed.scenarios));
  for (const scenario of parsed.scenarios as { name: unknown; description: unknown }[]) {
    assert.type(scenario.name, 'string');
    assert.type(scenario.description, 'string');
  }
});

test('an unknown flag exits 2 with one sentence on stderr', () => {
  const run = sim('--seeds', '1..2', '--frobnicate');
  assert.is(run.status, 2);
  assert.is(run.stdout, '');
  assert.is(run.stderr.trimEnd().split('\n').length, 1);
  assert.match(run.stderr, /--frobnicate/);
});

test('bad values exit 2', () => {
  for (const args of [['--seeds', '5..1'], ['--seed', '1', '--duration', 'soon'], ['--seed', '1', '--nodes'], ['--seeds', '1..3', '--trace', 'x']]) {
    const run = sim(...args);
    assert.is(run.status, 2, `${args.join(' ')}: ${run.stderr}`);
    assert.is(run.stderr.trimEnd().split('\n').length, 1, run.stderr);
  }
});

test('--seeds 1..3 --duration 2s --json ends with the summary line', () => {
  const run = sim('--seeds', '1..3', '--duration', '2s', '--json');
  assert.ok(run.status === 0 || run.status === 1, run.stderr);
  const summary = JSON.parse(lastLine(run.stdout)) as Record<string, unknown>;
  assert.equal(Object.keys(summary).sort(), ['events', 'failed', 'passed', 'seeds', 'simulatedSeconds', 'wallSeconds']);
  assert.is(summary.seeds, 3);
  const failed = summary.failed as { seed: number; checker: string; message: string }[];
  assert.ok(Array.isArray(failed));
  assert.is(summary.passed, 3 - failed.length);
  assert.is(run.status, failed.length > 0 ? 1 : 0);
  for (const failure of failed) assert.equal(Object.keys(failure).sort(), ['checker', 'message', 'seed']);
  assert.type(summary.simulatedSeconds, 'number');
  assert.type(summary.wallSeconds, 'number');
  assert.type(summary.events, 'number');
});

test('--blocks runs the block-store model and prints the same summary shape', () => {
  const run = sim('--blocks', '--seeds', '1..2', '--duration', '6s', '--json');
  assert.is(run.status, 0, run.stderr);
  const summary = JSON.parse(lastLine(run.stdout)) as { seeds: number; passed: number; failed: unknown[]; events: number };
  assert.equal([summary.seeds, summary.passed, summary.failed.length], [2, 2, 0]);
  assert.ok(summary.events > 1000, `${summary.events} events`);
});

test('--seed 5 --trace FILE twice writes byte-identical files', () => {
  const dir = mkdtempSync(join(tmpdir(), 'raftbox-sim-trace-'));
  try {
    const first = join(dir, 'a.trace');
    const second = join(dir, 'b.trace');
    const runA = sim('--seed', '5', '--duration', '2s', '--trace', first);
    const runB = sim('--seed', '5', '--duration', '2s', '--trace', second);
    assert.ok(runA.status === 0 || runA.status === 1, runA.stderr);
    assert.is(runB.status, runA.status);
    const a = readFileSync(first);
    const b = readFileSync(second);
    assert.ok(a.length > 0, 'the trace is not empty');
    assert.ok(a.equals(b), 'the two traces differ');
    assert.is(a[a.length - 1], 0x0a, 'the trace ends with a newline');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test.run();
