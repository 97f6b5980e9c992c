// Which blocks' owner lists changed, by registry version. A node's repairer asks for the
// blocks changed since its last look, so after a burst of uploads it examines the blocks
// just registered instead of the whole registry, whose size is unbounded. The record is
// bounded: once it has forgotten a version, a reader that has not seen that version gets
// null and must look at everything, as it must after a ring change (which alters what
// every block needs) or a snapshot install.

import type { BlockHash } from '../../../protocol/wire.ts';

export class OwnerChanges {
  private entries: { version: number; hashes: readonly BlockHash[] }[] = [];
  private hashes = 0;
  /** Changes at versions up to this one are not on record. */
  private forgottenUpTo = 0;
  private latest = 0;

  constructor(private readonly hashesMax: number) {}

  /** The owners of `hashes` changed at registry version `version`. */
  record(version: number, hashes: readonly BlockHash[]): void {
    this.latest = version;
    if (hashes.length === 0) return;
    this.entries.push({ version, hashes });
    this.hashes += hashes.length;
    while (this.hashes > this.hashesMax) {
      const oldest = this.entries.shift()!;
      this.hashes -= oldest.hashes.length;
      this.forgottenUpTo = oldest.version;
    }
  }

  /** Something changed at `version` that every block must be looked at again for. */
  forgetAll(version: number): void {
    this.entries = [];
    this.hashes = 0;
    this.forgottenUpTo = version;
    this.latest = version;
  }

  /** The blocks whose owners changed after `version`, or null if that is no longer known (or `version` is not one of ours). */
  since(version: number): BlockHash[] | null {
    if (version < this.forgottenUpTo || version > this.latest) return null;
    const changed: BlockHash[] = [];
    for (let at = this.entries.length - 1; at >= 0 && this.entries[at]!.version > version; at--) changed.push(...this.entries[at]!.hashes);
    return changed;
  }
}
