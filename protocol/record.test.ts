import { test } from 'uvu';
import * as assert from 'uvu/assert';
import fc from 'fast-check';
import { decodeRecords, encodeRecord, recordHeaderBytes } from './record.ts';
import { recordBytesMax } from './limits.ts';
import { concatBytes as concat } from './bytes.ts';

const ascii = (text: string): Uint8Array => new TextEncoder().encode(text);
const payloads = [ascii('first record'), ascii('2'), ascii('the third and last record of the file')];
const file = concat(payloads.map(encodeRecord));
const boundaries = [0];
for (const payload of payloads) boundaries.push(boundaries.at(-1)! + recordHeaderBytes + payload.length);

test('round trip of arbitrary payloads', () => {
  fc.assert(
    fc.property(fc.array(fc.uint8Array({ minLength: 1, maxLength: 300 }), { maxLength: 20 }), (parts) => {
      const bytes = concat(parts.map(encodeRecord));
      const decoded = decodeRecords(bytes);
      assert.equal(decoded.records, parts);
      assert.is(decoded.validBytes, bytes.length);
      assert.is(decoded.stop, 'end');
    }),
    { seed: 42, numRuns: 300 },
  );
});

test('an empty input is a clean end', () => {
  assert.equal(decodeRecords(new Uint8Array(0)), { records: [], validBytes: 0, stop: 'end' });
});

test('every truncation point yields the complete prefix records', () => {
  for (let cut = 0; cut <= file.length; cut++) {
    const decoded = decodeRecords(file.subarray(0, cut));
    const complete = boundaries.filter((boundary) => boundary <= cut).length - 1;
    assert.equal(decoded.records, payloads.slice(0, complete), `cut at ${cut}`);
    assert.is(decoded.validBytes, boundaries[complete], `cut at ${cut}`);
    assert.is(decoded.stop, boundaries.includes(cut) ? 'end' : 'torn', `cut at ${cut}`);
  }
});

test('every single-byte change is detected and no wrong payload is returned', () => {
  let changes = 0;
  for (let position = 0; position < file.length; position++) {
    const damaged = boundaries.filter((boundary) => boundary <= position).length - 1;
    for (let mask = 1; mask < 256; mask++) {
      const bytes = file.slice();
      bytes[position]! ^= mask;
      const decoded = decodeRecords(bytes);
      const where = `byte ${position} xor ${mask}`;
      assert.ok(decoded.stop === 'corrupt' || decoded.stop === 'torn', where);
      assert.equal(decoded.records, payloads.slice(0, damaged), where);
      assert.is(decoded.validBytes, boundaries[damaged], where);
      changes++;
    }
  }
  assert.is(changes, file.length * 255);
});

test('a zero-filled tail reads as torn, a zero length before data as corrupt', () => {
  const zeroTail = concat([file, new Uint8Array(4096)]);
  assert.equal(decodeRecords(zeroTail), { records: payloads, validBytes: file.length, stop: 'torn' });
  const zeroLength = concat([file, new Uint8Array(8), ascii('x')]);
  assert.equal(decodeRecords(zeroLength), { records: payloads, validBytes: file.length, stop: 'corrupt' });
});

test('a length over recordBytesMax is corrupt even when bytes follow', () => {
  const header = new Uint8Array(recordHeaderBytes);
  new DataView(header.buffer).setUint32(0, recordBytesMax + 1, true);
  const decoded = decodeRecords(concat([file, header, new Uint8Array(64)]));
  assert.is(decoded.stop, 'corrupt');
  assert.is(decoded.validBytes, file.length);
});

test('records are copies, not views into the input', () => {
  const bytes = file.slice();
  const decoded = decodeRecords(bytes);
  bytes.fill(0);
  assert.equal(decoded.records, payloads);
});

test('decodes a view with a non-zero byte offset', () => {
  const padded = concat([new Uint8Array(3).fill(7), file]);
  assert.equal(decodeRecords(padded.subarray(3)).records, payloads);
});

test('encodeRecord refuses empty and oversized payloads', () => {
  assert.throws(() => encodeRecord(new Uint8Array(0)), /must not be empty/);
  assert.throws(() => encodeRecord(new Uint8Array(recordBytesMax + 1)), /exceeds recordBytesMax/);
});

test.run();
