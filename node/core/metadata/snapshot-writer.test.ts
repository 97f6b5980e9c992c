import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { decode, encode } from '@msgpack/msgpack';
import { arrayHeader, arrayPieces, joinBytesPerStep, mapHeader, SlicedEncoder, whole, type Piece } from './snapshot-writer.ts';

function* listed(items: unknown[]): Generator<Piece> {
  yield* arrayPieces(items);
}

function runAll(encoder: SlicedEncoder): { data: Uint8Array; steps: number } {
  for (let steps = 1; ; steps++) {
    const data = encoder.step();
    if (data !== null) return { data, steps };
  }
}

test('an array encoded element by element is byte for byte its one-shot encoding, at every header size', () => {
  for (const length of [0, 1, 15, 16, 255, 65_535, 65_536, 70_000]) {
    const items = Array.from({ length }, (_, i) => (i % 3 === 0 ? { path: `p${i}`, size: i } : i % 3 === 1 ? [`x${i}`, i * 7] : `s${i}`));
    const { data } = runAll(new SlicedEncoder(listed(items), 1000));
    assert.equal(data, encode(items), `length ${length}`);
  }
});

test('map headers of every size match, and nested pieces make one value', () => {
  for (const size of [0, 7, 15, 16, 65_535, 65_536]) {
    const entries = Array.from({ length: size }, (_, i) => [`k${i}`, i] as const);
    function* pieces(): Generator<Piece> {
      yield { bytes: mapHeader(size), weight: 0 };
      for (const [key, value] of entries) {
        yield whole(key);
        yield whole(value);
      }
    }
    const { data } = runAll(new SlicedEncoder(pieces(), 500));
    assert.equal(data, encode(Object.fromEntries(entries)), `size ${size}`);
  }
  assert.equal(arrayHeader(3), Uint8Array.of(0x93));
});

test('each step does a bounded share of the work', () => {
  const items = Array.from({ length: 10_000 }, (_, i) => i);
  const { data, steps } = runAll(new SlicedEncoder(listed(items), 1000));
  assert.is(steps, 11, 'ten full steps of 1,000 elements, then the one that finds the end');
  assert.equal(decode(data), items);
});

test('a large encoding is joined over several steps, none copying much more than joinBytesPerStep', () => {
  // 24 values of 1 MiB of binary each: all encoded in the first step (the weight allows it), then joined.
  const items = Array.from({ length: 24 }, (_, i) => new Uint8Array(1024 * 1024).fill(i));
  const encoder = new SlicedEncoder(listed(items), 1000);
  const { data, steps } = runAll(encoder);
  // A step stops copying once it reached the limit, so it may go one chunk (a value here) beyond it.
  const joinSteps = Math.ceil(data.byteLength / (joinBytesPerStep + items[0]!.byteLength + 16));
  assert.ok(joinSteps >= 5 && steps >= joinSteps, `${steps} steps for ${data.byteLength} bytes: the join alone needs ${joinSteps}`);
  assert.ok(sameBytes(data, encode(items)), 'byte for byte the one-shot encoding');
});

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.byteLength === b.byteLength && Buffer.compare(a, b) === 0;
}

test.run();
