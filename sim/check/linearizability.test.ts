import { test } from 'uvu';
import * as assert from 'uvu/assert';
import fc from 'fast-check';
import {
  checkLinearizable,
  kvRegisterModel,
  type CheckResult,
  type KvInput,
  type KvOutput,
  type Model,
  type Operation,
} from './linearizability.ts';

type Op = Operation<KvInput, KvOutput>;

// ---- helpers -------------------------------------------------------------------------------

function fail(message: string): never {
  assert.unreachable(message);
  throw new Error(message);
}

const read = (client: string | number, key: string, value: string | null, call: number, ret: number): Op => ({
  client,
  input: { kind: 'read', key },
  call,
  return: ret,
  output: { value },
});
const write = (client: string | number, key: string, value: string, call: number, ret: number): Op => ({
  client,
  input: { kind: 'write', key, value },
  call,
  return: ret,
  output: { ok: true },
});
const cas = (
  client: string | number,
  key: string,
  expected: string | null,
  value: string,
  ok: boolean,
  call: number,
  ret: number,
): Op => ({ client, input: { kind: 'cas', key, expected, value }, call, return: ret, output: { ok } });
/** A write whose client timed out: it may take effect at any time after `call`, or never. */
const writeT = (client: string | number, key: string, value: string, call: number): Op => ({
  client,
  input: { kind: 'write', key, value },
  call,
  return: Infinity,
  output: undefined,
});
const casT = (client: string | number, key: string, expected: string | null, value: string, call: number): Op => ({
  client,
  input: { kind: 'cas', key, expected, value },
  call,
  return: Infinity,
  output: undefined,
});

const check = (h: Op[], stepsMax?: number): CheckResult<KvInput, KvOutput> =>
  checkLinearizable(kvRegisterModel, h, stepsMax === undefined ? {} : { stepsMax });

function assertOk(h: Op[]): void {
  const r = check(h);
  if (r.ok !== true) fail(`expected linearizable, got ${JSON.stringify(r.ok)}: ${r.message}`);
}

function assertNotOk(h: Op[], key: string): Extract<CheckResult<KvInput, KvOutput>, { ok: false }> {
  const r = check(h);
  if (r.ok !== false) fail(`expected NOT linearizable, got ${JSON.stringify(r.ok)}`);
  assert.is(r.partition, key);
  assert.ok(r.message.includes(`key ${JSON.stringify(key)}`), r.message);
  assert.ok(r.stuck.length > 0, 'names the stuck operations');
  return r;
}

// ---- hand-written linearizable histories -----------------------------------------------------

test('empty and trivially sequential histories are linearizable', () => {
  assertOk([]);
  assertOk([read(1, 'x', null, 0, 1)]);
  assertOk([write(1, 'x', 'a', 0, 1), read(2, 'x', 'a', 2, 3), write(1, 'x', 'b', 4, 5), read(2, 'x', 'b', 6, 7)]);
});

test('overlapping read may see the old or the new value', () => {
  assertOk([write(1, 'x', 'a', 0, 10), read(2, 'x', null, 1, 4), read(3, 'x', 'a', 5, 15)]);
  assertOk([write(1, 'x', 'a', 0, 10), read(2, 'x', 'a', 1, 4), read(3, 'x', 'a', 5, 15)]);
  // Touching intervals (return == call) count as concurrent.
  assertOk([write(1, 'x', 'a', 0, 5), read(2, 'x', null, 5, 6)]);
});

test('concurrent writes with reads seeing either', () => {
  assertOk([
    write(1, 'x', 'a', 0, 10),
    write(2, 'x', 'b', 0, 10),
    read(3, 'x', 'b', 1, 9),
    read(4, 'x', 'a', 2, 8),
    read(3, 'x', 'a', 20, 21),
  ]);
  assertOk([
    write(1, 'x', 'a', 0, 10),
    write(2, 'x', 'b', 0, 10),
    read(3, 'x', 'a', 1, 9),
    read(4, 'x', 'b', 2, 8),
    read(3, 'x', 'b', 20, 21),
  ]);
});

test('successful cas chains and racing cas with one winner', () => {
  assertOk([
    write(1, 'x', '0', 0, 1),
    cas(1, 'x', '0', '1', true, 2, 3),
    cas(2, 'x', '1', '2', true, 4, 5),
    cas(3, 'x', '1', '3', false, 6, 7),
    read(1, 'x', '2', 8, 9),
  ]);
  assertOk([
    cas(1, 'x', null, 'a', true, 0, 10),
    cas(2, 'x', null, 'b', false, 0, 10),
    cas(3, 'x', 'a', 'c', true, 1, 11),
    read(4, 'x', 'c', 12, 13),
  ]);
});

test('independent keys are checked separately', () => {
  assertOk([
    write(1, 'x', 'a', 0, 10),
    write(2, 'y', 'b', 0, 10),
    read(3, 'x', 'a', 11, 12),
    read(3, 'y', 'b', 13, 14),
    read(4, 'y', null, 1, 2),
  ]);
});

// ---- hand-written non-linearizable histories --------------------------------------------------

test('stale read after a completed write', () => {
  const r = assertNotOk([write(1, 'x', 'a', 0, 5), read(2, 'x', null, 6, 7)], 'x');
  assert.ok(r.message.includes('client 2'), r.message);
  assert.ok(r.message.includes('read("x") -> null'), r.message);
  assert.ok(r.message.includes('[call 6, return 7]'), r.message);
});

test('two successful cas from the same expected value', () => {
  assertNotOk(
    [write(1, 'x', '0', 0, 1), cas(2, 'x', '0', '1', true, 2, 5), cas(3, 'x', '0', '2', true, 3, 6)],
    'x',
  );
});

test('read of a value never written', () => {
  const r = assertNotOk([write(1, 'x', 'a', 0, 1), read(2, 'x', 'zzz', 2, 3)], 'x');
  assert.ok(r.message.includes('"zzz"'), r.message);
});

test('read going back in time', () => {
  assertNotOk(
    [write(1, 'x', 'a', 0, 1), write(1, 'x', 'b', 2, 10), read(2, 'x', 'b', 3, 4), read(3, 'x', 'a', 5, 6)],
    'x',
  );
});

test('failed cas although the value matched', () => {
  assertNotOk([write(1, 'x', 'a', 0, 1), cas(2, 'x', 'a', 'b', false, 2, 3)], 'x');
});

test('the failing key is named among several good ones', () => {
  const r = assertNotOk(
    [
      write(1, 'x', 'a', 0, 1),
      read(2, 'x', 'a', 2, 3),
      write(1, 'y', 'a', 0, 1),
      read(2, 'y', null, 2, 3),
      write(1, 'z', 'a', 0, 1),
    ],
    'y',
  );
  assert.not.ok(r.message.includes('key "x"'));
});

// ---- timed-out operations ----------------------------------------------------------------------

test('timed-out writes whose effect is seen later', () => {
  assertOk([writeT(1, 'x', 'a', 0), read(2, 'x', 'a', 10, 11), read(3, 'x', 'a', 12, 13)]);
  // Seen only after some reads that did not see it.
  assertOk([writeT(1, 'x', 'a', 0), read(2, 'x', null, 1, 2), read(3, 'x', 'a', 3, 4)]);
  // Never seen at all.
  assertOk([writeT(1, 'x', 'a', 0), read(2, 'x', null, 1, 2), read(3, 'x', null, 30, 40)]);
  // Takes effect long after a later completed write.
  assertOk([writeT(1, 'x', 'a', 0), write(2, 'x', 'b', 5, 6), read(3, 'x', 'b', 7, 8), read(3, 'x', 'a', 9, 10)]);
  // Timed-out cas that succeeded.
  assertOk([write(1, 'x', '0', 0, 1), casT(2, 'x', '0', '1', 2), read(3, 'x', '1', 5, 6)]);
  // Explains a failed cas.
  assertOk([write(1, 'x', 'a', 0, 1), writeT(2, 'x', 'b', 2), cas(3, 'x', 'a', 'c', false, 3, 4)]);
  // A chain of three timed-out cas, all needed, in order.
  assertOk([casT(1, 'x', null, 'a', 0), casT(2, 'x', 'a', 'b', 0), casT(3, 'x', 'b', 'c', 0), read(4, 'x', 'c', 1, 2)]);
  // A finite return with an unknown output (ambiguous error) is indeterminate too: may never apply.
  assertOk([{ ...write(1, 'x', 'a', 0, 5), output: undefined }, read(2, 'x', null, 6, 7)]);
});

test('timed-out write seen then unseen with no valid order', () => {
  // b is overwritten by the timed-out a once a is seen; nothing writes b again.
  assertNotOk([write(1, 'x', 'b', 0, 1), writeT(2, 'x', 'a', 2), read(3, 'x', 'a', 3, 4), read(3, 'x', 'b', 5, 6)], 'x');
  assertNotOk([writeT(1, 'x', 'a', 0), read(2, 'x', 'a', 1, 2), read(3, 'x', null, 3, 4)], 'x');
  // A timed-out write takes effect at most once.
  assertNotOk(
    [writeT(1, 'x', 'a', 0), read(2, 'x', 'a', 1, 2), write(3, 'x', 'b', 3, 4), read(2, 'x', 'a', 5, 6)],
    'x',
  );
  // Cannot take effect before it was called.
  assertNotOk([read(2, 'x', 'a', 0, 1), writeT(1, 'x', 'a', 5)], 'x');
  // Timed-out cas seen then unseen.
  assertNotOk(
    [write(1, 'x', '0', 0, 1), casT(2, 'x', '0', '1', 2), read(3, 'x', '1', 5, 6), read(3, 'x', '0', 7, 8)],
    'x',
  );
  // The message marks the timed-out op.
  const r = assertNotOk([writeT(7, 'x', 'a', 0), read(2, 'x', 'a', 1, 2), read(3, 'x', null, 3, 4)], 'x');
  assert.ok(r.message.includes('(timed out)') || r.linearized.some((o) => o.return === Infinity), r.message);
});

test('a timed-out write needed late is not spent on an early detour', () => {
  // The search first explains the read at [2,10] with the timed-out write (after fa), which
  // then is missing for the read at [13,14]; the right order is fa, wb, r, w3, t, r3. A cache
  // that pruned configurations using *fewer* timed-out ops than a failed one would miss it.
  assertOk([
    write('wb', 'x', 'b', 0, 10),
    write('fa', 'x', 'a', 0, 1),
    writeT('t', 'x', 'b', 0),
    read('r', 'x', 'b', 2, 10),
    write('w3', 'x', 'a', 11, 12),
    read('r3', 'x', 'b', 13, 14),
  ]);
  // Without the timed-out write it is not linearizable.
  assertNotOk(
    [write('wb', 'x', 'b', 0, 10), write('fa', 'x', 'a', 0, 1), read('r', 'x', 'b', 2, 10), write('w3', 'x', 'a', 11, 12), read('r3', 'x', 'b', 13, 14)],
    'x',
  );
});

test('the step budget yields unknown, never a wrong verdict', () => {
  const h = [writeT(1, 'x', 'a', 0), read(2, 'x', null, 1, 2), read(3, 'x', 'a', 3, 4), read(3, 'x', 'a', 5, 6)];
  const r = check(h, 1);
  assert.is(r.ok, 'unknown');
  if (r.ok === 'unknown') assert.ok(r.message.includes('key "x"'), r.message);
  assert.is(check(h).ok, true);
});

test('invalid operations are rejected', () => {
  assert.throws(() => check([read(1, 'x', null, 5, 4)]), /returns before its call/);
  assert.throws(() => check([read(1, 'x', null, NaN, 4)]), /non-finite call/);
});

test('a generic model without partitions', () => {
  // A counter: inc -> new value; the whole history is one partition named "".
  const counter: Model<number, 'inc', number> = {
    init: () => 0,
    step: (s, _i, out) => [out === undefined || out === s + 1, s + 1],
    key: (s) => String(s),
  };
  const op = (client: number, out: number | undefined, call: number, ret: number): Operation<'inc', number> => ({
    client,
    input: 'inc',
    call,
    return: out === undefined ? Infinity : ret,
    output: out,
  });
  assert.is(checkLinearizable(counter, [op(1, 2, 0, 10), op(2, 1, 1, 9), op(3, undefined, 2, 0), op(4, 4, 11, 12)]).ok, true);
  const bad = checkLinearizable(counter, [op(1, 2, 0, 1), op(2, 1, 2, 3)]);
  assert.is(bad.ok, false);
  if (bad.ok === false) {
    assert.is(bad.partition, '');
    assert.ok(bad.message.includes('the history'), bad.message);
  }
});

// ---- brute-force oracle ------------------------------------------------------------------------

/**
 * Independent reference: try every sequence of a subset of the ops that contains every completed
 * op (timed-out ones may be omitted), respects real-time order (a before b whenever
 * a.return < b.call) and is legal for a map of registers.
 */
function bruteForce(h: Op[]): boolean {
  const n = h.length;
  const indeterminate = h.map((o) => o.return === Infinity || o.output === undefined);
  const needed = indeterminate.filter((p) => !p).length;
  const used = new Array<boolean>(n).fill(false);
  const seq: number[] = [];
  const apply = (state: Map<string, string | null>, o: Op): boolean => {
    const i = o.input;
    const cur = state.get(i.key) ?? null;
    const out = o.output as any;
    if (i.kind === 'read') return out === undefined || out.value === cur;
    if (i.kind === 'write') {
      state.set(i.key, i.value);
      return true;
    }
    if (out === undefined) {
      if (cur === i.expected) state.set(i.key, i.value);
      return true;
    }
    if (out.ok !== (cur === i.expected)) return false;
    if (out.ok) state.set(i.key, i.value);
    return true;
  };
  const rec = (state: Map<string, string | null>, placed: number): boolean => {
    if (placed === needed) return true;
    for (let x = 0; x < n; x++) {
      if (used[x]) continue;
      // x may not come after an op that it precedes in real time
      if (seq.some((y) => h[x]!.return < h[y]!.call)) continue;
      const next = new Map(state);
      if (!apply(next, h[x]!)) continue;
      used[x] = true;
      seq.push(x);
      const ok = rec(next, placed + (indeterminate[x] ? 0 : 1));
      seq.pop();
      used[x] = false;
      if (ok) return true;
    }
    return false;
  };
  // Success once every completed op is placed; the timed-out ops not placed are omitted.
  return rec(new Map(), 0);
}

const VALS = ['a', 'b'] as const;
const opArb = (keys: string[]): fc.Arbitrary<Op> =>
  fc
    .record({
      client: fc.integer({ min: 0, max: 3 }),
      key: fc.constantFrom(...keys),
      kind: fc.constantFrom('read', 'write', 'cas'),
      call: fc.integer({ min: 0, max: 12 }),
      dur: fc.integer({ min: 0, max: 6 }),
      timedOut: fc.integer({ min: 0, max: 4 }).map((x) => x === 0),
      readValue: fc.constantFrom(null, ...VALS),
      value: fc.constantFrom(...VALS),
      expected: fc.constantFrom(null, ...VALS),
      ok: fc.boolean(),
    })
    .map((r): Op => {
      const ret = r.timedOut ? Infinity : r.call + r.dur;
      if (r.kind === 'read') {
        return { client: r.client, input: { kind: 'read', key: r.key }, call: r.call, return: ret, output: r.timedOut ? undefined : { value: r.readValue } };
      }
      if (r.kind === 'write') {
        return { client: r.client, input: { kind: 'write', key: r.key, value: r.value }, call: r.call, return: ret, output: r.timedOut ? undefined : { ok: true } };
      }
      return {
        client: r.client,
        input: { kind: 'cas', key: r.key, expected: r.expected, value: r.value },
        call: r.call,
        return: ret,
        output: r.timedOut ? undefined : { ok: r.ok },
      };
    });

const historyArb: fc.Arbitrary<Op[]> = fc
  .integer({ min: 1, max: 2 })
  .chain((nKeys) => fc.array(opArb(['x', 'y'].slice(0, nKeys)), { minLength: 0, maxLength: 7 }));

test('agrees with a brute-force checker on random small histories', () => {
  let yes = 0;
  let no = 0;
  let withTimeouts = 0;
  fc.assert(
    fc.property(historyArb, (h) => {
      const expected = bruteForce(h);
      const r = check(h);
      if (r.ok === 'unknown') return false;
      if (r.ok !== expected) return false;
      if (expected) yes++;
      else no++;
      if (h.some((o) => o.return === Infinity)) withTimeouts++;
      return true;
    }),
    { seed: 20240611, numRuns: 4000 },
  );
  // Both verdicts must be well represented, or the comparison says little.
  assert.ok(yes > 400, `linearizable cases: ${yes}`);
  assert.ok(no > 400, `non-linearizable cases: ${no}`);
  assert.ok(withTimeouts > 400, `cases with timeouts: ${withTimeouts}`);
});

test('brute-force agreement on histories biased towards linearizable with timeouts', () => {
  // Mostly writes and reads of few values on one key, so that the verdict hinges on the order.
  const arb = fc.array(opArb(['x']), { minLength: 4, maxLength: 7 });
  let yes = 0;
  fc.assert(
    fc.property(arb, (h) => {
      const expected = bruteForce(h);
      const r = check(h);
      if (expected) yes++;
      return r.ok === expected;
    }),
    { seed: 7, numRuns: 3000 },
  );
  assert.ok(yes > 100, `linearizable cases: ${yes}`);
});

// ---- histories of real sequential executions -------------------------------------------------

function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * Simulate clients issuing ops against an atomic register map: each op takes effect at a random
 * point inside its interval (a timed-out op: at a random later point, or never), so the history
 * is linearizable by construction.
 */
function simulate(seed: number, nOps: number, opts: { keys?: number; clients?: number; pTimeout?: number; pWrite?: number } = {}): Op[] {
  const rnd = mulberry32(seed);
  const int = (n: number): number => Math.floor(rnd() * n);
  const keys = Array.from({ length: opts.keys ?? 3 }, (_, i) => `k${i}`);
  const clients = opts.clients ?? 8;
  const pTimeout = opts.pTimeout ?? 0.1;
  const pWrite = opts.pWrite ?? 0.35;
  const free = new Array<number>(clients).fill(0);
  const written = new Map<string, string[]>(keys.map((k) => [k, []]));
  const ops: { op: Op; at: number | null }[] = [];
  let counter = 0;
  for (let i = 0; i < nOps; i++) {
    const c = int(clients);
    const call = free[c]! + int(6);
    const key = keys[int(keys.length)]!;
    const kind = rnd() < pWrite ? 'write' : rnd() < 0.6 ? 'read' : 'cas';
    let input: KvInput;
    if (kind === 'read') input = { kind, key };
    else {
      const value = `v${counter++}`;
      written.get(key)!.push(value);
      if (kind === 'write') input = { kind, key, value };
      else {
        const prev = written.get(key)!;
        const expected = rnd() < 0.2 || prev.length < 2 ? null : prev[prev.length - 2 - int(Math.min(3, prev.length - 1))]!;
        input = { kind, key, expected, value };
      }
    }
    const timedOut = rnd() < pTimeout;
    if (timedOut) {
      const at = rnd() < 0.6 ? call + int(120) : null;
      ops.push({ op: { client: `c${c}`, input, call, return: Infinity, output: undefined }, at });
      free[c] = call + 30; // the client gives up and moves on
    } else {
      const ret = call + 1 + int(25);
      ops.push({ op: { client: `c${c}`, input, call, return: ret, output: undefined }, at: call + rnd() * (ret - call) });
      free[c] = ret;
    }
  }
  // Execute in linearization-point order to fill in the outputs of completed ops.
  const state = new Map<string, string | null>();
  const order = ops.filter((o) => o.at !== null).sort((a, b) => a.at! - b.at!);
  for (const { op } of order) {
    const i = op.input;
    const cur = state.get(i.key) ?? null;
    let out: KvOutput;
    if (i.kind === 'read') out = { value: cur };
    else if (i.kind === 'write') {
      state.set(i.key, i.value);
      out = { ok: true };
    } else {
      const ok = cur === i.expected;
      if (ok) state.set(i.key, i.value);
      out = { ok };
    }
    if (op.return !== Infinity) op.output = out;
  }
  return ops.map((o) => o.op);
}

test('simulated sequential executions (200+ ops, 3 keys, 8 clients) pass quickly', () => {
  for (let seed = 1; seed <= 30; seed++) {
    const h = simulate(seed, 240);
    const t0 = performance.now();
    const r = check(h);
    const ms = performance.now() - t0;
    if (r.ok !== true) fail(`seed ${seed}: ${r.ok} ${r.message}`);
    assert.ok(ms < 1000, `seed ${seed} took ${ms.toFixed(0)} ms`);
  }
});

test('long histories with many timed-out writes stay fast', () => {
  for (let seed = 100; seed < 110; seed++) {
    const h = simulate(seed, 600, { keys: 3, clients: 8, pTimeout: 0.3, pWrite: 0.5 });
    const t0 = performance.now();
    const r = check(h);
    const ms = performance.now() - t0;
    if (r.ok !== true) fail(`seed ${seed}: ${r.ok} ${r.message}`);
    assert.ok(ms < 2000, `seed ${seed} took ${ms.toFixed(0)} ms`);
  }
});

test('one hot key, 8 concurrent clients, no timeouts: verdicts within the budget', () => {
  for (let seed = 300; seed < 306; seed++) {
    const h = simulate(seed, 300, { keys: 1, clients: 8, pTimeout: 0 });
    const idx = h.map((o, i) => [o, i] as const).filter(([o]) => o.input.kind === 'read').pop()![1];
    const bad = h.slice();
    bad[idx] = { ...h[idx]!, output: { value: 'never-written' } };
    const t0 = performance.now();
    const good = check(h);
    const r = check(bad);
    const ms = performance.now() - t0;
    if (good.ok !== true) fail(`seed ${seed}: ${good.ok} ${good.message}`);
    assert.is(r.ok, false, `seed ${seed}`);
    assert.ok(ms < 3000, `seed ${seed} took ${ms.toFixed(0)} ms`);
  }
});

test('corrupting one read of a simulated history is caught', () => {
  for (let seed = 200; seed < 220; seed++) {
    const h = simulate(seed, 240, { pTimeout: 0.2 });
    // The last completed read: make it return a value nobody wrote.
    const idx = h.map((o, i) => [o, i] as const).filter(([o]) => o.input.kind === 'read' && o.return !== Infinity).pop()![1];
    const bad = h.slice();
    bad[idx] = { ...h[idx]!, output: { value: 'never-written' } };
    const t0 = performance.now();
    const r = check(bad);
    const ms = performance.now() - t0;
    if (r.ok !== false) fail(`seed ${seed}: expected failure, got ${r.ok}`);
    assert.is(r.partition, h[idx]!.input.key);
    assert.ok(r.message.includes('"never-written"'), r.message);
    assert.ok(ms < 2000, `seed ${seed} took ${ms.toFixed(0)} ms`);
  }
});

test('many timed-out writes before an impossible read: fails fast', () => {
  const h: Op[] = [];
  for (let i = 0; i < 40; i++) {
    h.push(writeT(`t${i}`, 'x', `w${i}`, i * 2));
    h.push(read('r', 'x', i % 3 === 0 ? `w${i}` : null, i * 2 + 1, i * 2 + 1.5 + (i % 4)));
  }
  // Keep the writes and the reads that see them (every third), then end on an impossible value.
  const base = h.filter((o) => o.input.kind === 'write' || (o.output as any).value !== null);
  base.push(read('r', 'x', 'bogus', 200, 201));
  const t0 = performance.now();
  const r = check(base);
  const ms = performance.now() - t0;
  assert.is(r.ok, false);
  assert.ok(ms < 2000, `took ${ms.toFixed(0)} ms`);
  // Without the bogus read it is linearizable.
  assert.is(check(base.slice(0, -1)).ok, true);
});

test.run();
