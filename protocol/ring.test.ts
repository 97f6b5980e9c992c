import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { createHash } from 'node:crypto';
import { PlacementRing, blockPoint, stringHash32 } from './ring.ts';

// Hashes of a counter: as uniform as random block names, but the same on every run.
function sampleHashes(count: number, salt = 'block'): string[] {
  return Array.from({ length: count }, (_, i) => createHash('sha256').update(`${salt}-${i}`).digest('hex'));
}

const hashes = sampleHashes(30_000);

function primaryShares(ring: PlacementRing): Map<string, number> {
  const shares = new Map<string, number>(ring.nodes.map((n) => [n, 0]));
  for (const hash of hashes) {
    const primary = ring.owners(hash, 1)[0]!;
    shares.set(primary, shares.get(primary)! + 1);
  }
  return shares;
}

for (const count of [3, 5]) {
  test(`balance: ${count} nodes with 64 virtual nodes each get their fair share of primaries within 25%`, () => {
    const nodes = Array.from({ length: count }, (_, i) => `n${i + 1}`);
    const shares = primaryShares(new PlacementRing(nodes, 64));
    const fair = hashes.length / count;
    for (const [node, share] of shares) {
      assert.ok(Math.abs(share - fair) <= 0.25 * fair, `${node} is primary for ${share} blocks, fair is ${fair.toFixed(0)}`);
    }
  });
}

test('stability: adding a 4th node moves only the blocks it now owns, about a quarter', () => {
  const before = new PlacementRing(['n1', 'n2', 'n3']);
  const after = new PlacementRing(['n1', 'n2', 'n3', 'n4']);
  let moved = 0;
  for (const hash of hashes) {
    const was = before.owners(hash, 1)[0];
    const now = after.owners(hash, 1)[0];
    if (was === now) continue;
    moved++;
    assert.is(now, 'n4', `block ${hash} moved from ${was} to ${now}, not to the new node`);
  }
  const fraction = moved / hashes.length;
  assert.ok(fraction > 0.15 && fraction < 0.35, `moved fraction ${fraction}`);
});

test('stability: the old nodes keep their relative order in every preference list', () => {
  const before = new PlacementRing(['n1', 'n2', 'n3']);
  const after = new PlacementRing(['n1', 'n2', 'n3', 'n4']);
  for (const hash of hashes.slice(0, 2000)) {
    assert.equal(after.preference(hash).filter((n) => n !== 'n4'), before.preference(hash));
  }
});

test('determinism: the same nodes in any order give the same placement', () => {
  const a = new PlacementRing(['n1', 'n2', 'n3', 'n4', 'n5']);
  const b = new PlacementRing(['n5', 'n3', 'n1', 'n4', 'n2', 'n3']);
  for (const hash of hashes.slice(0, 2000)) assert.equal(a.preference(hash), b.preference(hash));
  assert.is(stringHash32('n1#0'), stringHash32('n1#0'));
  assert.is.not(stringHash32('n1#0'), stringHash32('n1#1'));
});

test('owners are distinct, come from the preference list, and are capped by the node count', () => {
  const ring = new PlacementRing(['n1', 'n2', 'n3', 'n4', 'n5']);
  for (const hash of hashes.slice(0, 2000)) {
    const preference = ring.preference(hash);
    assert.is(preference.length, 5);
    assert.is(new Set(preference).size, 5);
    assert.equal(ring.owners(hash, 3), preference.slice(0, 3));
  }
  const small = new PlacementRing(['n1', 'n2']);
  assert.is(small.owners(hashes[0]!, 3).length, 2);
  assert.equal(new PlacementRing([]).owners(hashes[0]!, 3), []);
  assert.equal(small.owners(hashes[0]!, 0), []);
});

test('a block point is the first 8 hex characters of its name; bad names are refused', () => {
  assert.is(blockPoint('ffffffff' + '0'.repeat(56)), 0xffffffff);
  assert.is(blockPoint('00000001' + '0'.repeat(56)), 1);
  assert.throws(() => blockPoint('XYZ'), /8 lowercase hex/);
  assert.throws(() => new PlacementRing(['n1'], 0), /virtualNodes/);
});

test('a block past the last point wraps around to the first', () => {
  const ring = new PlacementRing(['n1', 'n2', 'n3']);
  const top = ring.preference('ffffffff' + '0'.repeat(56));
  const bottom = ring.preference('00000000' + '0'.repeat(56));
  assert.equal(top, bottom);
});

test.run();
