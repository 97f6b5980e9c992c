import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { concatBytes } from '../../../protocol/bytes.ts';
import { encodePadding, encodeRecordHeader, packAlignment, packHeaderBytes, packSeq, packFile, parsePack, replayPacks } from './pack-format.ts';

const hash = (digit: string) => digit.repeat(64);
const data = (n: number) => new Uint8Array(n).fill(7);

test('records read back in order; a tombstone removes the block on replay, a later record brings it back', () => {
  const pack = concatBytes([encodeRecordHeader('block', hash('a'), 5), data(5), encodeRecordHeader('tombstone', hash('a'), 0), encodeRecordHeader('block', hash('b'), 0)]);
  const { records, intactBytes } = parsePack(pack);
  assert.equal(records, [
    { kind: 'block', hash: hash('a'), offset: packHeaderBytes, length: 5 },
    { kind: 'tombstone', hash: hash('a'), offset: 2 * packHeaderBytes + 5, length: 0 },
    { kind: 'block', hash: hash('b'), offset: 3 * packHeaderBytes + 5, length: 0 },
  ]);
  assert.is(intactBytes, pack.byteLength);
  const second = concatBytes([encodeRecordHeader('block', hash('a'), 2), data(2)]);
  assert.equal([...replayPacks([{ seq: 1, records }, { seq: 2, records: parsePack(second).records }])], [
    [hash('b'), { pack: 1, offset: 3 * packHeaderBytes + 5, length: 0 }],
    [hash('a'), { pack: 2, offset: packHeaderBytes, length: 2 }],
  ]);
});

test('reading stops at a torn or garbled header, and at data cut short by the end of the file', () => {
  const good = concatBytes([encodeRecordHeader('block', hash('c'), 3), data(3)]);
  for (const [what, tail] of [
    ['a header cut short', encodeRecordHeader('block', hash('d'), 3).subarray(0, 20)],
    ['data cut short', concatBytes([encodeRecordHeader('block', hash('d'), 30), data(10)])],
    ['a flipped bit in a header', (() => { const h = encodeRecordHeader('block', hash('d'), 3); h[9]! ^= 1; return concatBytes([h, data(3)]); })()],
    ['zeros', new Uint8Array(100)],
  ] as const) {
    const { records, intactBytes } = parsePack(concatBytes([good, tail]));
    assert.is(records.length, 1, what);
    assert.is(intactBytes, good.byteLength, what);
  }
});

test('padding takes a pack to the next alignment boundary, a whole unit further when the gap cannot hold a header; replay skips it', () => {
  assert.is(encodePadding(0), null);
  assert.is(encodePadding(3 * packAlignment), null);
  for (const before of [packHeaderBytes, packHeaderBytes + 5, packAlignment - packHeaderBytes, packAlignment - packHeaderBytes + 1, packAlignment - 1, packAlignment + 100]) {
    // One block record `before` bytes long.
    const head = concatBytes([encodeRecordHeader('block', hash('e'), before - packHeaderBytes), data(before - packHeaderBytes)]);
    const padding = encodePadding(before)!;
    const pack = concatBytes([head, padding]);
    assert.is(pack.byteLength % packAlignment, 0, `after ${before} bytes`);
    assert.ok(padding.byteLength >= packHeaderBytes, `after ${before} bytes`);
    const { records, intactBytes } = parsePack(concatBytes([pack, encodeRecordHeader('block', hash('f'), 3), data(3)]));
    assert.equal(records.at(-2), { kind: 'padding', offset: before + packHeaderBytes, length: padding.byteLength - packHeaderBytes }, `after ${before} bytes`);
    assert.equal(records.at(-1), { kind: 'block', hash: hash('f'), offset: pack.byteLength + packHeaderBytes, length: 3 });
    assert.is(intactBytes, pack.byteLength + packHeaderBytes + 3);
    assert.ok(replayPacks([{ seq: 1, records }]).has(hash('f')), 'the block after the padding is held');
  }
});

test('pack names carry a zero-padded sequence number; other names are not packs', () => {
  assert.is(packFile(12), 'packs/000000000012');
  assert.is(packSeq(packFile(12)), 12);
  for (const name of ['packs/12', 'packs/000000000012.tmp-1', 'blocks/000000000012', 'packs/notes.txt']) assert.is(packSeq(name), null, name);
});

test.run();
