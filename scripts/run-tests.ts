// The test runner behind `npm test` and `npm run test:browser`.
//
// Each test file runs in its own child process (`node --import tsx FILE`; uvu tests run on
// import), so a crash, a hang or leaked global state in one file cannot affect another.
// At most `parallelFilesMax` files run at once, each under a timeout; a child's output is
// printed as one block when it ends, so parallel output never interleaves. The last line
// is always `N passed, N failed`, which .ci/run and people both read.
//
//   node --import tsx scripts/run-tests.ts [--browser] [FILTER…]
//
// Default mode runs every `*.test.ts` except `*.browser.test.ts`; `--browser` runs only
// those. FILTERs keep files whose path contains any of them.
// RAFTBOX_TEST_TIMEOUT_MS overrides the per-file timeout (default 10 minutes).
// A file with the line `// run-tests: alone` runs after the others, with nothing beside it:
// for process tests whose timing a neighbouring cluster on the same 2 cores can upset.

import { spawn } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const searchedFolders = ['protocol', 'node', 'sim', 'web-client', 'scripts', 'bench'];
const skippedFolders = new Set(['node_modules', 'dist', '.raftbox']);
const parallelFilesMax = 2;
const defaultTimeoutMs = 10 * 60 * 1000;
const running = new Set<number>();

interface FileResult {
  file: string;
  passed: number;
  failed: number;
  skipped: number;
  output: string;
  note: string | null;
}

function findTestFiles(folder: string): string[] {
  let entries;
  try {
    entries = readdirSync(folder, { withFileTypes: true });
  } catch {
    return [];
  }
  return entries.flatMap((entry) => {
    const path = join(folder, entry.name);
    if (entry.isDirectory()) return skippedFolders.has(entry.name) ? [] : findTestFiles(path);
    return entry.isFile() && entry.name.endsWith('.test.ts') ? [path] : [];
  });
}

/**
 * Reads uvu's summary ("Total:", "Passed:", "Skipped:") from a child's output. uvu prints
 * one summary per process; if a file somehow printed several, the last one counts.
 * Returns null when there is none, which means the file never finished its tests.
 */
export function parseUvuSummary(output: string): { total: number; passed: number; skipped: number } | null {
  const plain = output.replace(/\x1b\[[0-9;]*m/g, '');
  const last = (label: string): number | null => {
    const matches = [...plain.matchAll(new RegExp(`^\\s*${label}:\\s+(\\d+)\\s*$`, 'gm'))];
    return matches.length === 0 ? null : Number(matches[matches.length - 1]![1]);
  };
  const total = last('Total');
  const passed = last('Passed');
  if (total === null || passed === null) return null;
  return { total, passed, skipped: last('Skipped') ?? 0 };
}

function runFile(file: string, timeoutMs: number): Promise<FileResult> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['--import', 'tsx', file], {
      cwd: root,
      stdio: ['ignore', 'pipe', 'pipe'],
      // Each child leads its own process group, so a timeout kills whatever it started too.
      detached: true,
    });
    if (child.pid !== undefined) running.add(child.pid);
    let stdout = '';
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => {
      stdout += chunk;
      output += chunk;
    });
    child.stderr.on('data', (chunk: Buffer) => {
      output += chunk;
    });
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      killGroup(child.pid);
    }, timeoutMs);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      if (child.pid !== undefined) running.delete(child.pid);
      resolve(summarize(relative(root, file), output, parseUvuSummary(stdout), { code, signal, timedOut, timeoutMs }));
    });
    child.on('error', (error) => {
      clearTimeout(timer);
      resolve({ file: relative(root, file), passed: 0, failed: 1, skipped: 0, output, note: `could not start: ${error.message}` });
    });
  });
}

function killGroup(pid: number | undefined): void {
  if (pid === undefined) return;
  try {
    process.kill(-pid, 'SIGKILL');
  } catch {
    // The group is already gone.
  }
}

export interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
  timedOut: boolean;
  timeoutMs: number;
}

/** Turns one child's output and exit into counts; a file that did not end cleanly has at least one failure. */
export function summarize(file: string, output: string, summary: ReturnType<typeof parseUvuSummary>, exit: Exit): FileResult {
  const passed = summary?.passed ?? 0;
  let failed = summary ? summary.total - summary.passed : 0;
  let note: string | null = null;
  if (exit.timedOut) note = `killed after the ${exit.timeoutMs} ms timeout`;
  else if (exit.code !== 0) note = `exited with ${exit.signal ?? `code ${exit.code}`}`;
  else if (!summary) note = 'printed no uvu summary (is test.run() called?)';
  // A file that did not end cleanly counts as at least one failure, whatever it printed.
  if (note !== null) failed = Math.max(failed, 1);
  return { file, passed, failed, skipped: summary?.skipped ?? 0, output, note };
}

function report(result: FileResult): void {
  const status = result.failed > 0 ? 'FAIL' : 'ok';
  const counts = `${result.passed} passed, ${result.failed} failed${result.skipped ? `, ${result.skipped} skipped` : ''}`;
  process.stdout.write(`\n── ${result.file} ${'─'.repeat(Math.max(2, 60 - result.file.length))}\n`);
  process.stdout.write(result.output.endsWith('\n') || result.output === '' ? result.output : `${result.output}\n`);
  process.stdout.write(`── ${status} ${result.file}: ${counts}${result.note ? ` (${result.note})` : ''}\n`);
}

/** Whether a test file's source asks to run with no other file at the same time. */
export function runsAlone(source: string): boolean {
  return /^\/\/ run-tests: alone$/m.test(source);
}

async function runAll(files: string[], timeoutMs: number, parallel = parallelFilesMax): Promise<FileResult[]> {
  const results: FileResult[] = [];
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < files.length) {
      const result = await runFile(files[next++]!, timeoutMs);
      report(result);
      results.push(result);
    }
  };
  await Promise.all(Array.from({ length: Math.min(parallel, files.length) }, worker));
  return results;
}

async function main(): Promise<number> {
  const args = process.argv.slice(2);
  const browser = args.includes('--browser');
  const filters = args.filter((arg) => !arg.startsWith('--'));
  const timeoutMs = Number(process.env.RAFTBOX_TEST_TIMEOUT_MS ?? defaultTimeoutMs);
  if (!Number.isFinite(timeoutMs) || timeoutMs <= 0) {
    process.stderr.write(`RAFTBOX_TEST_TIMEOUT_MS must be a positive number of milliseconds, got '${process.env.RAFTBOX_TEST_TIMEOUT_MS}'.\n`);
    return 2;
  }
  const files = searchedFolders
    .flatMap((folder) => findTestFiles(join(root, folder)))
    .filter((file) => file.endsWith('.browser.test.ts') === browser)
    .filter((file) => filters.length === 0 || filters.some((filter) => relative(root, file).includes(filter)))
    .sort();
  const alone = files.filter((file) => runsAlone(readFileSync(file, 'utf8')));
  const results = [...(await runAll(files.filter((file) => !alone.includes(file)), timeoutMs)), ...(await runAll(alone, timeoutMs, 1))];
  const failures = results.filter((result) => result.failed > 0);
  if (failures.length > 0) {
    process.stdout.write(`\nFailed files:\n${failures.map((f) => `  ${f.file}${f.note ? ` (${f.note})` : ''}\n`).join('')}`);
  }
  const passed = results.reduce((sum, result) => sum + result.passed, 0);
  const failed = results.reduce((sum, result) => sum + result.failed, 0);
  const skipped = results.reduce((sum, result) => sum + result.skipped, 0);
  process.stdout.write(`\n${files.length} files\n${passed} passed, ${failed} failed${skipped ? `, ${skipped} skipped` : ''}\n`);
  return failed > 0 ? 1 : 0;
}

// Run only when executed, not when a test imports parseUvuSummary.
if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  // Children lead their own process groups, so Ctrl-C would not reach them without this.
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.on(signal, () => {
      for (const pid of running) killGroup(pid);
      process.exit(130);
    });
  }
  process.exitCode = await main();
}
