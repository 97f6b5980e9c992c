import { test } from 'uvu';
import * as assert from 'uvu/assert';
import fc from 'fast-check';
import { encode } from '@msgpack/msgpack';
import * as v from 'valibot';
import { decodeRaftMessage, decodeWith, encodeFrame, encodeRaftMessage } from './codec.ts';
import { RaftboxError } from './errors.ts';
import { entriesPerAppendMax, frameBytesMax, nodeIdBytesMax } from './limits.ts';
import type { Entry, RaftMessage, RaftMessageType } from './raft-messages.ts';
import { expectError } from './test-support/expect-error.ts';

const utf8Bytes = (text: string): number => new TextEncoder().encode(text).length;

const nodeIdArb = fc.oneof(
  fc.constantFrom('n1', 'n2', 'n3'),
  fc.string({ unit: 'grapheme', minLength: 1, maxLength: 12 }).filter((s) => utf8Bytes(s) <= nodeIdBytesMax),
);
const countArb = fc.oneof(fc.nat(1000), fc.maxSafeNat());
const bytesArb = fc.uint8Array({ maxLength: 40 });
const baseArb = { from: nodeIdArb, to: nodeIdArb, term: countArb };

// Appends must be internally consistent (consecutive indexes, non-decreasing terms), so
// they are built from a prevIndex/prevTerm and per-entry term increments.
const appendArb = fc
  .record({
    from: nodeIdArb,
    to: nodeIdArb,
    prevIndex: fc.nat(1_000_000),
    prevTerm: fc.nat(1_000_000),
    steps: fc.array(fc.record({ termStep: fc.nat(2), type: fc.constantFrom('normal', 'config', 'noop'), data: bytesArb }), {
      maxLength: 5,
    }),
    extraTerm: fc.nat(3),
    commit: countArb,
  })
  .map(({ from, to, prevIndex, prevTerm, steps, extraTerm, commit }): RaftMessage => {
    let term = prevTerm;
    const entries: Entry[] = steps.map((step, i) => {
      term += step.termStep;
      return { term, index: prevIndex + 1 + i, type: step.type as Entry['type'], data: step.data };
    });
    return { type: 'append', from, to, term: term + extraTerm, prevIndex, prevTerm, entries, commit };
  });

const messageArb: fc.Arbitrary<RaftMessage> = fc.oneof(
  fc.record({ type: fc.constant('vote' as const), ...baseArb, preVote: fc.boolean(), lastIndex: countArb, lastTerm: countArb, transfer: fc.boolean() }),
  fc.record({ type: fc.constant('voteResponse' as const), ...baseArb, preVote: fc.boolean(), granted: fc.boolean() }),
  appendArb,
  fc.record({ type: fc.constant('appendResponse' as const), ...baseArb, reject: fc.boolean(), index: countArb, hintIndex: countArb, hintTerm: countArb }),
  fc.record({ type: fc.constant('heartbeat' as const), ...baseArb, commit: countArb, readRound: countArb }),
  fc.record({ type: fc.constant('heartbeatResponse' as const), ...baseArb, readRound: countArb }),
  fc.record({
    type: fc.constant('snapshot' as const),
    ...baseArb,
    snapshot: fc.record({
      index: countArb,
      term: countArb,
      config: fc.record({ voters: fc.array(nodeIdArb, { maxLength: 5 }), learners: fc.array(nodeIdArb, { maxLength: 3 }) }),
      data: fc.uint8Array({ maxLength: 200 }),
    }),
  }),
  fc.record({ type: fc.constant('timeoutNow' as const), ...baseArb }),
);

const allTypes: RaftMessageType[] = ['vote', 'voteResponse', 'append', 'appendResponse', 'heartbeat', 'heartbeatResponse', 'snapshot', 'timeoutNow'];


const vote = { type: 'vote', from: 'n1', to: 'n2', term: 3, preVote: false, lastIndex: 7, lastTerm: 2, transfer: false };

test('every message type round-trips', () => {
  const seen = new Set<RaftMessageType>();
  fc.assert(
    fc.property(messageArb, (message) => {
      seen.add(message.type);
      // fast-check builds null-prototype records; decoded messages are plain objects.
      assert.equal(decodeRaftMessage(encodeRaftMessage(message)), structuredClone(message));
    }),
    { seed: 20240611, numRuns: 3000 },
  );
  assert.equal([...seen].sort(), [...allTypes].sort());
});

test('decoded byte arrays are copies, not views into the frame', () => {
  const message: RaftMessage = {
    type: 'append', from: 'n1', to: 'n2', term: 2, prevIndex: 4, prevTerm: 1, commit: 3,
    entries: [{ term: 2, index: 5, type: 'normal', data: new Uint8Array([1, 2, 3]) }],
  };
  const frame = encodeRaftMessage(message);
  const decoded = decodeRaftMessage(frame);
  frame.fill(0);
  assert.equal(decoded, message);
});

test('unknown fields are dropped, so newer peers may add optional fields', () => {
  assert.equal(decodeRaftMessage(encode({ ...vote, futureField: 'x' })), vote);
});

test('an oversized frame is refused before decoding', () => {
  expectError(() => decodeRaftMessage(new Uint8Array(frameBytesMax + 1)), 'frame_too_large');
  // One byte less is decoded (and is not msgpack), so the limit is exactly frameBytesMax.
  expectError(() => decodeRaftMessage(new Uint8Array(frameBytesMax).fill(0xc1)), 'bad_frame');
  const huge: RaftMessage = {
    type: 'snapshot', from: 'n1', to: 'n2', term: 1,
    snapshot: { index: 1, term: 1, config: { voters: ['n1'], learners: [] }, data: new Uint8Array(frameBytesMax) },
  };
  expectError(() => encodeRaftMessage(huge), 'frame_too_large');
});

test('bytes that are not one msgpack value are bad_frame', () => {
  expectError(() => decodeRaftMessage(new Uint8Array(0)), 'bad_frame');
  expectError(() => decodeRaftMessage(new Uint8Array([0xc1])), 'bad_frame');
  const frame = encodeRaftMessage(vote as RaftMessage);
  expectError(() => decodeRaftMessage(frame.subarray(0, frame.length - 1)), 'bad_frame');
  expectError(() => decodeRaftMessage(new Uint8Array([...frame, 0])), 'bad_frame', /Extra/);
  // An array header claiming four billion elements must not allocate them.
  expectError(() => decodeRaftMessage(new Uint8Array([0xdd, 0xff, 0xff, 0xff, 0xff])), 'bad_frame');
});

test('schema violations are bad_message naming the field', () => {
  const bad = (value: unknown, pattern: RegExp) => expectError(() => decodeRaftMessage(encode(value)), 'bad_message', pattern);
  bad(null, /^Raft message must be one of vote/);
  bad({ ...vote, type: 'bogus' }, /field 'type' must be one of/);
  bad({ ...vote, term: -1 }, /field 'term' must be a non-negative safe integer, got -1\./);
  bad({ ...vote, lastIndex: 1.5 }, /field 'lastIndex' must be a non-negative safe integer/);
  bad({ ...vote, lastTerm: 2 ** 60 }, /field 'lastTerm' must be a non-negative safe integer/);
  bad({ ...vote, term: '3' }, /field 'term' must be a number/);
  bad({ ...vote, preVote: 0 }, /field 'preVote' must be a boolean/);
  bad({ ...vote, from: '' }, /field 'from' must not be empty/);
  bad({ ...vote, to: 'x'.repeat(nodeIdBytesMax + 1) }, /field 'to' must be at most 64 bytes/);
  bad({ ...vote, to: 'é'.repeat(nodeIdBytesMax / 2 + 1) }, /field 'to' must be at most 64 bytes/);
  const { from: _from, ...noFrom } = vote;
  bad(noFrom, /field 'from' is missing\./);
  const append = { type: 'append', from: 'n1', to: 'n2', term: 2, prevIndex: 0, prevTerm: 0, commit: 0 };
  const entry = { term: 1, index: 1, type: 'normal', data: new Uint8Array(1) };
  bad({ ...append, entries: [{ ...entry, type: 'weird' }] }, /field 'entries\.0\.type' must be one of normal, config, noop/);
  bad({ ...append, entries: [{ ...entry, data: 'text' }] }, /field 'entries\.0\.data' must be binary/);
  bad({ ...append, entries: [entry, { ...entry, index: 3 }] }, /field 'entries' must have consecutive indexes/);
  bad({ ...append, entries: [{ ...entry, term: 3 }] }, /field 'entries' must have terms that never decrease/);
  bad({ ...append, entries: [{ ...entry, term: 2 }, { ...entry, index: 2, term: 1 }] }, /terms that never decrease/);
  bad({ ...append, prevTerm: 2, entries: [{ ...entry, term: 1 }] }, /terms that never decrease/);
  const many = Array.from({ length: entriesPerAppendMax + 1 }, (_, i) => ({ ...entry, index: i + 1 }));
  bad({ ...append, entries: many }, /field 'entries' must hold at most 1024 entries/);
  const snapshot = { type: 'snapshot', from: 'n1', to: 'n2', term: 1 };
  const config = { voters: ['n1'], learners: [] };
  bad({ ...snapshot, snapshot: { index: 1, term: 1, config: { ...config, voters: ['n1', 7] }, data: new Uint8Array() } }, /field 'snapshot\.config\.voters\.1' must be a string/);
  bad({ ...snapshot, snapshot: { index: 1, term: 1, config, data: [1, 2] } }, /field 'snapshot\.data' must be binary/);
});

test('mutated and truncated frames decode to a valid message or throw RaftboxError only', () => {
  const mutationArb = fc.oneof(
    fc.record({ kind: fc.constant('xor' as const), at: fc.nat(), mask: fc.integer({ min: 1, max: 255 }) }),
    fc.record({ kind: fc.constant('set' as const), at: fc.nat(), byte: fc.integer({ min: 0, max: 255 }) }),
    fc.record({ kind: fc.constant('insert' as const), at: fc.nat(), byte: fc.integer({ min: 0, max: 255 }) }),
    fc.record({ kind: fc.constant('delete' as const), at: fc.nat() }),
    fc.record({ kind: fc.constant('truncate' as const), at: fc.nat() }),
  );
  type Mutation = typeof mutationArb extends fc.Arbitrary<infer T> ? T : never;
  const mutate = (frame: Uint8Array, mutations: Mutation[]): Uint8Array => {
    let bytes = Array.from(frame);
    for (const mutation of mutations) {
      const at = bytes.length === 0 ? 0 : mutation.at % bytes.length;
      if (mutation.kind === 'xor') bytes[at] = (bytes[at] ?? 0) ^ mutation.mask;
      if (mutation.kind === 'set') bytes[at] = mutation.byte;
      if (mutation.kind === 'insert') bytes.splice(at, 0, mutation.byte);
      if (mutation.kind === 'delete') bytes.splice(at, 1);
      if (mutation.kind === 'truncate') bytes = bytes.slice(0, at);
    }
    return Uint8Array.from(bytes);
  };
  const outcomes = { decoded: 0, bad_frame: 0, bad_message: 0 };
  fc.assert(
    fc.property(messageArb, fc.array(mutationArb, { minLength: 1, maxLength: 4 }), (message, mutations) => {
      const bytes = mutate(encodeRaftMessage(message), mutations);
      let decoded: RaftMessage;
      try {
        decoded = decodeRaftMessage(bytes);
      } catch (error) {
        if (!(error instanceof RaftboxError)) throw new Error(`a non-RaftboxError escaped: ${String(error)}`);
        assert.ok(error.code === 'bad_frame' || error.code === 'bad_message', error.code);
        outcomes[error.code]++;
        return;
      }
      // Whatever decodes must itself be a valid message: it survives another round trip.
      assert.equal(decodeRaftMessage(encodeRaftMessage(decoded)), decoded);
      outcomes.decoded++;
    }),
    { seed: 7, numRuns: 25_000 },
  );
  console.log(`\n  mutations: ${JSON.stringify(outcomes)}`);
  assert.is(outcomes.decoded + outcomes.bad_frame + outcomes.bad_message, 25_000);
  // Each outcome must actually occur, or the mutations are not exercising the decoder.
  assert.ok(outcomes.decoded > 0 && outcomes.bad_frame > 0 && outcomes.bad_message > 0, JSON.stringify(outcomes));
});

test('decodeWith checks a frame against any schema', () => {
  const hello = v.object({ type: v.literal('hello'), version: v.pipe(v.number(), v.integer()) });
  assert.equal(decodeWith(hello, encodeFrame({ type: 'hello', version: 1 })), { type: 'hello', version: 1 });
  expectError(() => decodeWith(hello, encodeFrame({ type: 'hello', version: 'one' }), 'Client hello'), 'bad_message', /^Client hello field 'version' is invalid/);
  expectError(() => encodeFrame(new Uint8Array(frameBytesMax)), 'frame_too_large');
});

test.run();
