// Who watches which namespace on this node. Watches are local: each node pushes the
// commits it applies to the sessions connected to it, so pushes spread over the cluster.

import { raftboxError } from '../../../protocol/errors.ts';
import type { Address } from '../../../protocol/wire.ts';

/** A bounded set of (namespace, address) watches. */
export class Watchers {
  private byNamespace = new Map<string, Set<Address>>();
  private count = 0;

  constructor(private readonly watchersMax: number) {}

  get size(): number {
    return this.count;
  }

  /** Adds a watch; throws `overloaded` when `watchersMax` watches exist already. Watching twice is one watch. */
  add(namespace: string, address: Address): void {
    const addresses = this.byNamespace.get(namespace);
    if (addresses?.has(address)) return;
    if (this.count >= this.watchersMax) throw raftboxError('overloaded', `this node serves the most watches it allows (${this.watchersMax}); watch through another node or retry later`);
    if (addresses) addresses.add(address);
    else this.byNamespace.set(namespace, new Set([address]));
    this.count++;
  }

  /** Ends every watch of `address`, in all namespaces. */
  remove(address: Address): void {
    for (const [namespace, addresses] of this.byNamespace) {
      if (!addresses.delete(address)) continue;
      this.count--;
      if (addresses.size === 0) this.byNamespace.delete(namespace);
    }
  }

  /** The namespaces someone watches. */
  namespaces(): string[] {
    return [...this.byNamespace.keys()];
  }

  of(namespace: string): readonly Address[] {
    return [...(this.byNamespace.get(namespace) ?? [])];
  }
}
