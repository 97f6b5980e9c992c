import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { errorCodes, isErrorCode, isRaftboxError, RaftboxError, raftboxError } from './errors.ts';

test('codes are unique snake_case words', () => {
  assert.is(new Set(errorCodes).size, errorCodes.length);
  for (const code of errorCodes) assert.match(code, /^[a-z]+(_[a-z]+)*$/);
});

test('raftboxError builds an Error carrying code, message and details', () => {
  const error = raftboxError('not_leader', 'This node is not the leader; retry at n2.', { leaderHint: 'n2' });
  assert.instance(error, Error);
  assert.instance(error, RaftboxError);
  assert.is(error.name, 'RaftboxError');
  assert.is(error.code, 'not_leader');
  assert.is(error.message, 'This node is not the leader; retry at n2.');
  assert.equal(error.details, { leaderHint: 'n2' });
  assert.is(raftboxError('timeout', 'Timed out.').details, undefined);
});

test('isRaftboxError and isErrorCode recognise their values only', () => {
  const error = raftboxError('conflict', 'Version 3 is not current.', { current: { version: 4 } });
  assert.ok(isRaftboxError(error));
  assert.ok(isRaftboxError(error, 'conflict'));
  assert.not.ok(isRaftboxError(error, 'not_found'));
  assert.not.ok(isRaftboxError(new Error('plain')));
  assert.ok(isErrorCode('bad_frame'));
  assert.not.ok(isErrorCode('no_such_code'));
  assert.not.ok(isErrorCode(42));
});

test.run();
