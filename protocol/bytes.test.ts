import fc from 'fast-check';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { bytesToHex, hexToBytes } from './bytes.ts';

test('property: hex round-trips any bytes, in either case', () => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 80 }), (bytes) => {
      const hex = bytesToHex(bytes);
      assert.equal(hexToBytes(hex), bytes);
      assert.equal(hexToBytes(hex.toUpperCase()), bytes);
    }),
  );
});

test('hexToBytes refuses an odd length and any character that is not a hex digit', () => {
  for (const bad of ['a', 'abc', 'zz', '0g', '12 4', 'ab\u0100c', '\u00ff0', '-1']) {
    assert.throws(() => hexToBytes(bad), /not a hex string/, JSON.stringify(bad));
  }
  assert.equal(hexToBytes(''), new Uint8Array(0));
});

test.run();
