import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { crc32, crc32c, crc32cRange } from './crc32.ts';

const ascii = (text: string): Uint8Array => new TextEncoder().encode(text);

test('crc32c matches the standard check value of "123456789"', () => {
  assert.is(crc32c(ascii('123456789')), 0xe3069283);
});

test('crc32 matches the standard check value of "123456789"', () => {
  assert.is(crc32(ascii('123456789')), 0xcbf43926);
  assert.is(crc32(ascii('The quick brown fox jumps over the lazy dog')), 0x414fa339);
});

test('crc32c matches the RFC 3720 (iSCSI) test vectors', () => {
  assert.is(crc32c(new Uint8Array(32)), 0x8a9136aa);
  assert.is(crc32c(new Uint8Array(32).fill(0xff)), 0x62a8ab43);
  assert.is(crc32c(Uint8Array.from({ length: 32 }, (_, i) => i)), 0x46dd794e);
  assert.is(crc32c(Uint8Array.from({ length: 32 }, (_, i) => 31 - i)), 0x113fdb5c);
});

test('both are 0 for empty input', () => {
  assert.is(crc32c(new Uint8Array(0)), 0);
  assert.is(crc32(new Uint8Array(0)), 0);
});

test('both continue across pieces', () => {
  const whole = ascii('The quick brown fox jumps over the lazy dog');
  for (let cut = 0; cut <= whole.length; cut++) {
    const head = whole.subarray(0, cut);
    const tail = whole.subarray(cut);
    assert.is(crc32c(tail, crc32c(head)), crc32c(whole));
    assert.is(crc32(tail, crc32(head)), crc32(whole));
  }
});

/** Bit by bit, straight from the definition: the reference the table-driven code must match. */
function bitwise(reversedPolynomial: number, bytes: Uint8Array): number {
  let crc = 0xffffffff;
  for (const byte of bytes) {
    crc ^= byte;
    for (let bit = 0; bit < 8; bit++) crc = crc & 1 ? (crc >>> 1) ^ reversedPolynomial : crc >>> 1;
  }
  return ~crc >>> 0;
}

test('every length and alignment agrees with the bit-by-bit definition, and ranges with whole views', () => {
  let seed = 7;
  const bytes = Uint8Array.from({ length: 300 }, () => (seed = (seed * 1103515245 + 12345) >>> 0) >>> 24);
  for (let start = 0; start < 9; start++) {
    for (let end = start; end <= 140; end++) {
      const view = bytes.subarray(start, end);
      assert.is(crc32c(view), bitwise(0x82f63b78, view), `crc32c of [${start}, ${end})`);
      assert.is(crc32(view), bitwise(0xedb88320, view), `crc32 of [${start}, ${end})`);
      assert.is(crc32cRange(bytes, start, end), crc32c(view));
    }
  }
});

test.run();
