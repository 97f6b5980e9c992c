import { uniformFloat64 } from 'pure-rand/distribution/uniformFloat64';
import { xoroshiro128plus } from 'pure-rand/generator/xoroshiro128plus';

/**
 * A seeded random stream. Every choice a simulation makes comes from one of these, so a
 * seed replays the run byte for byte. `fork` derives an independent stream per purpose
 * (a node's election timeouts, the network, the workload), so draws in one do not shift
 * the others.
 */
export class Prng {
  private readonly generator;

  constructor(readonly seed: number) {
    this.generator = xoroshiro128plus(seed | 0);
  }

  /** A float in [0, 1). */
  float(): number {
    return uniformFloat64(this.generator);
  }

  /** An integer in [lo, hi]. */
  int(lo: number, hi: number): number {
    return lo + Math.floor(this.float() * (hi - lo + 1));
  }

  chance(probability: number): boolean {
    return probability > 0 && this.float() < probability;
  }

  pick<T>(items: readonly T[]): T {
    if (items.length === 0) throw new RangeError('cannot pick from an empty list');
    return items[Math.floor(this.float() * items.length)]!;
  }

  /** A few distinct items, in random order. */
  sample<T>(items: readonly T[], count: number): T[] {
    const pool = [...items];
    const out: T[] = [];
    while (out.length < count && pool.length > 0) out.push(pool.splice(Math.floor(this.float() * pool.length), 1)[0]!);
    return out;
  }

  fork(label: string): Prng {
    let hash = this.seed ^ 0x9e3779b9;
    for (let i = 0; i < label.length; i++) hash = Math.imul(hash ^ label.charCodeAt(i), 0x01000193);
    return new Prng(hash ^ this.generator.next());
  }
}
