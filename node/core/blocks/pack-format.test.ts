import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { concatBytes } from '../../../protocol/bytes.ts';
import { encodeRecordHeader, packHeaderBytes, packSeq, packFile, parsePack, replayPacks } from './pack-format.ts';

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

test('pack names carry a zero-padded sequence number; other names are not packs', () => {
  assert.is(packFile(12), 'packs/000000000012');
  assert.is(packSeq(packFile(12)), 12);
  for (const name of ['packs/12', 'packs/000000000012.tmp-1', 'blocks/000000000012', 'packs/notes.txt']) assert.is(packSeq(name), null, name);
});

test.run();
