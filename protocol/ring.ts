// The placement ring: which nodes keep a block. Consistent hashing with virtual nodes
// (Dynamo, Cassandra): each node owns many small arcs of a 32-bit circle, so adding or
// removing a node moves only the blocks on the arcs it gains or loses, about 1/N of them.
// It is a pure function of the node list, so every node, client and simulator agrees.

import type { NodeId } from './raft-messages.ts';
import type { BlockHash } from './wire.ts';

/** Virtual nodes per node when none is given: enough to keep each node's share within about ±25% of fair. */
export const virtualNodesDefault = 64;

/** Most virtual nodes per node; past this the ring costs memory without improving balance. */
export const virtualNodesMax = 4096;

const utf8 = new TextEncoder();

/**
 * A deterministic 32-bit hash of a string: FNV-1a over its UTF-8 bytes, then the
 * MurmurHash3 finalizer. FNV-1a alone spreads similar short keys (`n1#0`, `n1#1`) poorly
 * across the high bits; the finalizer mixes every input bit into every output bit.
 */
export function stringHash32(text: string): number {
  let hash = 0x811c9dc5;
  for (const byte of utf8.encode(text)) {
    hash ^= byte;
    hash = Math.imul(hash, 0x01000193);
  }
  hash ^= hash >>> 16;
  hash = Math.imul(hash, 0x85ebca6b);
  hash ^= hash >>> 13;
  hash = Math.imul(hash, 0xc2b2ae35);
  hash ^= hash >>> 16;
  return hash >>> 0;
}

/**
 * A block's position on the ring: the first 8 hex characters of its SHA-256 name read as
 * an unsigned 32-bit number. SHA-256 is already uniform, so no further mixing is needed.
 */
export function blockPoint(hash: BlockHash): number {
  const prefix = hash.slice(0, 8);
  if (!/^[0-9a-f]{8}$/.test(prefix)) throw new RangeError(`a block hash must start with 8 lowercase hex characters, got '${hash.slice(0, 16)}'`);
  return Number.parseInt(prefix, 16) >>> 0;
}

/**
 * Consistent-hash placement of blocks over a set of nodes. `preference(hash)` lists every
 * node once, in the order a block's copies should go: clockwise from the block's point.
 * `owners(hash, count)` is its first `count` entries, the block's home replicas.
 */
export class PlacementRing {
  readonly nodes: readonly NodeId[];
  private readonly points: Uint32Array;
  private readonly pointOwners: NodeId[];

  constructor(nodes: NodeId[], virtualNodes = virtualNodesDefault) {
    if (!Number.isInteger(virtualNodes) || virtualNodes < 1 || virtualNodes > virtualNodesMax) {
      throw new RangeError(`virtualNodes must be an integer from 1 to ${virtualNodesMax}, got ${virtualNodes}`);
    }
    this.nodes = [...new Set(nodes)].sort();
    const entries: { point: number; node: NodeId }[] = [];
    for (const node of this.nodes) {
      for (let i = 0; i < virtualNodes; i++) entries.push({ point: stringHash32(`${node}#${i}`), node });
    }
    // Ties between two nodes' points are broken by node id, so the order never depends on input order.
    entries.sort((a, b) => a.point - b.point || (a.node < b.node ? -1 : a.node > b.node ? 1 : 0));
    this.points = Uint32Array.from(entries, (e) => e.point);
    this.pointOwners = entries.map((e) => e.node);
  }

  /** Every node once, clockwise from the block's point: where its copies go, best first. */
  preference(hash: BlockHash): NodeId[] {
    return this.walk(hash, this.nodes.length);
  }

  /** The first `min(count, nodes)` nodes of `preference(hash)`: the block's home replicas. */
  owners(hash: BlockHash, count: number): NodeId[] {
    if (!Number.isInteger(count) || count < 0) throw new RangeError(`owner count must be a non-negative integer, got ${count}`);
    return this.walk(hash, Math.min(count, this.nodes.length));
  }

  private walk(hash: BlockHash, count: number): NodeId[] {
    const found: NodeId[] = [];
    if (count === 0) return found;
    const start = this.firstPointAtOrAfter(blockPoint(hash));
    const seen = new Set<NodeId>();
    for (let step = 0; step < this.points.length && found.length < count; step++) {
      const node = this.pointOwners[(start + step) % this.points.length]!;
      if (seen.has(node)) continue;
      seen.add(node);
      found.push(node);
    }
    return found;
  }

  // Binary search; a point past the last one wraps to index 0, closing the circle.
  private firstPointAtOrAfter(point: number): number {
    let low = 0;
    let high = this.points.length;
    while (low < high) {
      const middle = (low + high) >>> 1;
      if (this.points[middle]! < point) low = middle + 1;
      else high = middle;
    }
    return low === this.points.length ? 0 : low;
  }
}
