// For tests: run something that must throw a RaftboxError with a given code.
import * as assert from 'uvu/assert';
import { RaftboxError } from '../errors.ts';

/** Runs `run`, asserts it throws a RaftboxError with `code` (and a message matching `pattern`), and returns it. */
export function expectError(run: () => unknown, code: string, pattern?: RegExp): RaftboxError {
  try {
    run();
  } catch (error) {
    assert.instance(error, RaftboxError);
    const raftboxError = error as RaftboxError;
    assert.is(raftboxError.code, code, raftboxError.message);
    if (pattern) assert.match(raftboxError.message, pattern);
    return raftboxError;
  }
  assert.unreachable(`expected a RaftboxError with code ${code}`);
  throw new Error('unreachable');
}
