// Valibot building blocks shared by the Raft codec (codec.ts) and the client and peer
// frame schemas (wire-schema.ts), so both speak of a bad field in the same words.

import * as v from 'valibot';

/** A non-negative safe integer: indexes, terms, ids, sizes. */
export const count = v.pipe(
  v.number('must be a number'),
  v.safeInteger('must be a non-negative safe integer'),
  v.minValue(0, 'must be a non-negative safe integer'),
);

export const flag = v.boolean('must be a boolean');

/** A string of at most `bytesMax` UTF-8 bytes and, unless `minBytes` is 0, not empty. */
export function text(bytesMax: number, minBytes = 1) {
  const checks = minBytes > 0 ? [v.minLength<string, number, string>(minBytes, 'must not be empty')] : [];
  return v.pipe(
    v.string('must be a string'),
    ...checks,
    v.maxBytes(bytesMax, `must be at most ${bytesMax} bytes of UTF-8`),
  );
}

/**
 * Binary of at most `bytesMax` bytes. Decoded binary is a view of the frame's buffer
 * (transports hand over a fresh buffer per message and never write to it again). A view
 * of less than half its buffer is copied out, so a small field kept for long (a log
 * entry) does not pin a large frame; a field that is most of its frame (a block, a
 * snapshot) stays a view, which spares a copy of every block on every hop.
 */
export function binary(bytesMax: number) {
  return v.pipe(
    v.instance(Uint8Array, 'must be binary (msgpack bin)'),
    v.maxLength(bytesMax, `must be at most ${bytesMax} bytes`),
    v.transform((bytes): Uint8Array => detachSmall(bytes)),
  );
}

/** `bytes` itself when it is at least half of its buffer, else a copy that owns its buffer. */
function detachSmall(bytes: Uint8Array): Uint8Array {
  return bytes.byteLength * 2 >= bytes.buffer.byteLength ? bytes : bytes.slice();
}
