import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { recordReplay, replayLogTailMax, verdictsOf } from './replay-recorder.ts';
import { runSeed } from './run.ts';
import { defaultSimOptions } from './types.ts';

test('recording a replay does not change the run: same verdict, events and operations as runSeed', () => {
  const replay = recordReplay({ seed: 3, scenario: 'figure-8' });
  const plain = runSeed({ ...defaultSimOptions, seed: 3, scenario: 'figure-8', trace: true });
  assert.is(replay.result.ok, plain.ok);
  assert.equal(replay.result.failures, plain.failures);
  assert.is(replay.result.events, plain.events);
  assert.is(replay.result.operations, plain.operations);
  assert.is(replay.result.simulatedMs, plain.simulatedMs);
  assert.is(replay.nodes.length, 5, 'figure-8 runs five nodes');
});

test('a replay holds frames in time order, messages with arrival after sending, and a verdict per checker', () => {
  const replay = recordReplay({ seed: 7, scenario: 'leader-crash-mid-commit', durationMs: 4000 });
  assert.ok(replay.frames.length > 100, `${replay.frames.length} frames`);
  for (let i = 1; i < replay.frames.length; i++) assert.ok(replay.frames[i]!.atMs >= replay.frames[i - 1]!.atMs);
  assert.ok(replay.frames.some((f) => f.leader !== null), 'a leader appears');
  assert.ok(replay.frames.some((f) => f.nodes.some((n) => !n.up)), 'the scenario crashes a leader');
  for (const frame of replay.frames) for (const node of frame.nodes) assert.ok(node.logTerms.length <= replayLogTailMax);
  const delivered = replay.messages.filter((m) => m.arriveMs !== null);
  assert.ok(delivered.length > 100);
  assert.ok(delivered.every((m) => m.arriveMs! >= m.sentMs));
  assert.ok(replay.messages.some((m) => m.type === 'append'));
  assert.ok(replay.events.some((e) => e.event === 'node.crash'));
  assert.ok(replay.verdicts.some((v) => v.checker === 'linearizability'));
  assert.is(replay.verdicts.every((v) => v.ok), replay.result.ok);
});

test('verdictsOf marks the failing checker and adds scenario checkers', () => {
  const verdicts = verdictsOf({ failures: [{ checker: 'election-safety', message: 'two leaders in term 3' }, { checker: 'prevote', message: 'moved' }] });
  assert.equal(verdicts.find((v) => v.checker === 'election-safety'), { checker: 'election-safety', ok: false, message: 'two leaders in term 3' });
  assert.is(verdicts.find((v) => v.checker === 'liveness')!.ok, true);
  assert.is(verdicts.find((v) => v.checker === 'prevote')!.ok, false);
});

test.run();
