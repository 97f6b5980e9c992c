import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { parseUvuSummary, runsAlone, summarize, type Exit } from './run-tests.ts';

const clean: Exit = { code: 0, signal: null, timedOut: false, timeoutMs: 1000 };
const uvuOutput = (total: number, passed: number, skipped: number) =>
  `• • ✘   (${passed} / ${total})\n\n  Total:     ${total}\n  Passed:    ${passed}\n  Skipped:   ${skipped}\n  Duration:  1.20ms\n\n`;

test('parses the uvu summary, with or without colours', () => {
  assert.equal(parseUvuSummary(uvuOutput(3, 2, 1)), { total: 3, passed: 2, skipped: 1 });
  const coloured = '\n  Total:     4\x1b[31m\n  Passed:    3\x1b[39m\n  Skipped:   \x1b[33m2\x1b[39m\n';
  assert.equal(parseUvuSummary(coloured), { total: 4, passed: 3, skipped: 2 });
});

test('no summary is null', () => {
  assert.is(parseUvuSummary('Error: Cannot find module\n'), null);
  assert.is(parseUvuSummary(''), null);
});

test('a clean run counts what uvu reported', () => {
  const result = summarize('a.test.ts', '', parseUvuSummary(uvuOutput(3, 2, 0)), clean);
  assert.equal([result.passed, result.failed, result.note], [2, 1, null]);
});

test('a crash, a timeout or a missing summary is at least one failure', () => {
  const allPassed = parseUvuSummary(uvuOutput(2, 2, 0));
  assert.is(summarize('a', '', allPassed, { ...clean, code: 1 }).failed, 1);
  assert.is(summarize('a', '', allPassed, { ...clean, code: null, signal: 'SIGKILL', timedOut: true }).failed, 1);
  assert.match(summarize('a', '', null, clean).note ?? '', /no uvu summary/);
  assert.is(summarize('a', '', null, clean).failed, 1);
  assert.is(summarize('a', '', parseUvuSummary(uvuOutput(5, 2, 0)), { ...clean, code: 1 }).failed, 3);
});

test('a file runs alone only when a line says exactly so', () => {
  assert.ok(runsAlone('// header\n//\n// run-tests: alone\n\nimport x from "y";\n'));
  assert.not.ok(runsAlone('// header mentions run-tests: alone in passing\n'));
  assert.not.ok(runsAlone('const note = "// run-tests: alone";\n'));
});

test.run();
