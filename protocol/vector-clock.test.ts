import { test } from 'uvu';
import * as assert from 'uvu/assert';
import fc from 'fast-check';
import { compareClocks, counter, incrementClock, mergeClocks } from './vector-clock.ts';
import type { VectorClock } from './wire.ts';

test('compare: equal, before, after, concurrent; absent devices count as 0', () => {
  assert.is(compareClocks({}, {}), 'equal');
  assert.is(compareClocks({ a: 1 }, { a: 1 }), 'equal');
  assert.is(compareClocks({ a: 0 }, {}), 'equal');
  assert.is(compareClocks({ a: 1 }, { a: 2 }), 'before');
  assert.is(compareClocks({}, { a: 1 }), 'before');
  assert.is(compareClocks({ a: 2, b: 1 }, { a: 2 }), 'after');
  assert.is(compareClocks({ a: 2, b: 1 }, { a: 1, b: 2 }), 'concurrent');
  assert.is(compareClocks({ a: 1 }, { b: 1 }), 'concurrent');
});

test('merge takes the larger counter of each device', () => {
  assert.equal(mergeClocks({ a: 3, b: 1 }, { b: 4, c: 2 }), { a: 3, b: 4, c: 2 });
  assert.equal(mergeClocks({}, {}), {});
});

test('increment adds one for the device and leaves the input alone', () => {
  const clock = { a: 1 };
  assert.equal(incrementClock(clock, 'a'), { a: 2 });
  assert.equal(incrementClock(clock, 'b'), { a: 1, b: 1 });
  assert.equal(clock, { a: 1 });
  assert.is(compareClocks(clock, incrementClock(clock, 'z')), 'before');
});

test('device names that are Object.prototype keys are plain devices', () => {
  const clock = incrementClock({}, '__proto__');
  assert.is(Object.getPrototypeOf(clock), Object.prototype);
  assert.is(counter(clock, '__proto__'), 1);
  assert.is(counter({}, 'constructor'), 0);
  assert.is(counter({}, 'toString'), 0);
  assert.is(compareClocks({}, clock), 'before');
  assert.is(counter(mergeClocks(clock, { constructor: 2 }), 'constructor'), 2);
});

const clockArb: fc.Arbitrary<VectorClock> = fc.dictionary(fc.constantFrom('a', 'b', 'c', 'd'), fc.nat(5));

test('property: merge is commutative, idempotent, and dominates both inputs', () => {
  fc.assert(
    fc.property(clockArb, clockArb, (a, b) => {
      const m = mergeClocks(a, b);
      assert.is(compareClocks(m, mergeClocks(b, a)), 'equal');
      assert.is(compareClocks(mergeClocks(a, a), a), 'equal');
      assert.ok(['after', 'equal'].includes(compareClocks(m, a)));
      assert.ok(['after', 'equal'].includes(compareClocks(m, b)));
    }),
  );
});

test('property: compare is antisymmetric and increment always moves forward', () => {
  const mirror = { before: 'after', after: 'before', equal: 'equal', concurrent: 'concurrent' } as const;
  fc.assert(
    fc.property(clockArb, clockArb, fc.constantFrom('a', 'b', 'x'), (a, b, device) => {
      assert.is(compareClocks(b, a), mirror[compareClocks(a, b)]);
      assert.is(compareClocks(a, incrementClock(a, device)), 'before');
      const next = incrementClock(mergeClocks(a, b), device);
      assert.is(compareClocks(a, next), 'before');
      assert.is(compareClocks(b, next), 'before');
    }),
  );
});

// Replicas encode the clocks they build into snapshots and answers, so the key order is
// part of the result: a merge lists devices sorted, whatever order its inputs had; an
// increment keeps the order it was given and appends a new device.
test('property: merge lists devices sorted; increment keeps the order and appends', () => {
  const names = fc.constantFrom('b', 'a', 'd', 'c', '__proto__', 'constructor', 'z9', 'Z');
  const shuffled = fc.array(fc.tuple(names, fc.nat(5)), { maxLength: 6 }).map((pairs) => Object.fromEntries(pairs) as VectorClock);
  fc.assert(
    fc.property(shuffled, shuffled, names, (a, b, device) => {
      const merged = mergeClocks(a, b);
      const devices = [...new Set([...Object.keys(a), ...Object.keys(b)])].sort();
      assert.equal(Object.keys(merged), devices);
      for (const name of devices) assert.is(counter(merged, name), Math.max(counter(a, name), counter(b, name)));
      assert.is(Object.getPrototypeOf(merged), Object.prototype);
      const next = incrementClock(a, device);
      assert.equal(Object.keys(next), Object.hasOwn(a, device) ? Object.keys(a) : [...Object.keys(a), device]);
      assert.is(counter(next, device), counter(a, device) + 1);
      assert.is(Object.getPrototypeOf(next), Object.prototype);
    }),
  );
});

test.run();
