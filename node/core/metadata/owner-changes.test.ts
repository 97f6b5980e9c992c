import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { OwnerChanges } from './owner-changes.ts';

test('names the blocks changed after a version, newest record first', () => {
  const changes = new OwnerChanges(100);
  changes.record(1, ['a', 'b']);
  changes.record(2, []);
  changes.record(3, ['c']);
  assert.equal(changes.since(0), ['c', 'a', 'b']);
  assert.equal(changes.since(1), ['c']);
  assert.equal(changes.since(3), []);
});

test('a version it forgot, or never reached, means look at everything', () => {
  const changes = new OwnerChanges(3);
  changes.record(1, ['a', 'b']);
  changes.record(2, ['c', 'd']);
  assert.is(changes.since(0), null, 'version 1 was dropped to stay within 3 hashes');
  assert.equal(changes.since(1), ['c', 'd']);
  assert.is(changes.since(7), null, 'a version from another numbering');
  changes.forgetAll(3);
  assert.is(changes.since(2), null);
  assert.equal(changes.since(3), []);
});

test.run();
