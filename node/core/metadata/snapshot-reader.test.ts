import { test } from 'uvu';
import * as assert from 'uvu/assert';
import * as fc from 'fast-check';
import { encode } from '@msgpack/msgpack';
import { PieceReader, SnapshotFormatError, valueEnd } from './snapshot-reader.ts';
import { arrayHeader, mapHeader } from './snapshot-writer.ts';

// Every kind of msgpack value: integers of each width, floats, strings and binaries of
// each length class, nested arrays and maps, and extensions (a Date is ext type -1).
const scalar = fc.oneof(
  fc.constant(null),
  fc.boolean(),
  fc.integer({ min: -(2 ** 31), max: 2 ** 32 - 1 }),
  fc.constantFrom(127, 128, 255, 256, 65_535, 65_536, -32, -33, -128, -129, -32_768, -32_769, 2 ** 40, -(2 ** 40)),
  fc.double({ noNaN: true }),
  fc.string({ maxLength: 40 }),
  fc.constantFrom('x'.repeat(31), 'x'.repeat(32), 'x'.repeat(255), 'x'.repeat(256), 'x'.repeat(70_000)),
  fc.uint8Array({ maxLength: 300 }),
  fc.constantFrom(new Uint8Array(70_000)),
  fc.date({ noInvalidDate: true }),
);
const value = fc.letrec<{ value: unknown }>((tie) => ({
  value: fc.oneof(
    { depthSize: 'small' },
    scalar,
    fc.array(tie('value'), { maxLength: 20 }),
    fc.dictionary(fc.string({ maxLength: 8 }), tie('value'), { maxKeys: 20 }),
  ),
})).value;

test('valueEnd finds where each of a run of msgpack values ends, for every kind of value', () => {
  fc.assert(
    fc.property(fc.array(value, { minLength: 1, maxLength: 6 }), (values) => {
      const encoded = values.map((item) => encode(item));
      const bytes = new Uint8Array(encoded.reduce((total, part) => total + part.byteLength, 0));
      let offset = 0;
      const ends: number[] = [];
      for (const part of encoded) {
        bytes.set(part, offset);
        offset += part.byteLength;
        ends.push(offset);
      }
      let at = 0;
      for (const end of ends) {
        at = valueEnd(bytes, at);
        assert.is(at, end);
      }
    }),
    { numRuns: 300 },
  );
});

test('a value cut short, or a byte msgpack never uses, is a SnapshotFormatError', () => {
  const bytes = encode({ files: ['a', 'b'], data: new Uint8Array(20) });
  for (const length of [0, 1, 5, bytes.byteLength - 1]) {
    assert.throws(() => valueEnd(bytes.subarray(0, length), 0), (error: unknown) => error instanceof SnapshotFormatError && /runs past the end/.test(error.message));
  }
  assert.throws(() => valueEnd(Uint8Array.of(0x92, 0x01, 0xc1), 0), (error: unknown) => error instanceof SnapshotFormatError && /0xc1/.test(error.message));
});

test('the reader walks headers it is told to expect and decodes the elements between them', () => {
  for (const length of [0, 15, 16, 65_536]) {
    const items = Array.from({ length }, (_, i) => [`p${i}`, { size: i }]);
    const reader = new PieceReader(encode({ rows: items, after: true }));
    assert.is(reader.mapHeader(), 2);
    assert.is(reader.key(), 'rows');
    assert.is(reader.arrayHeader(), length);
    for (let i = 0; i < length; i++) assert.equal(reader.value(), items[i]);
    assert.is(reader.key(), 'after');
    assert.is(reader.value(), true);
    assert.ok(reader.done);
  }
  assert.equal(new PieceReader(arrayHeader(70_000)).arrayHeader(), 70_000);
  assert.equal(new PieceReader(mapHeader(70_000)).mapHeader(), 70_000);
  assert.throws(() => new PieceReader(encode([1])).mapHeader(), (error: unknown) => error instanceof SnapshotFormatError && /expected a map at byte 0/.test(error.message));
  assert.throws(() => new PieceReader(encode([1])).key(), (error: unknown) => error instanceof SnapshotFormatError && /expected a map key/.test(error.message));
});

test.run();
