// Scrub: re-hash this node's block copies and replace any that are corrupt (or that the
// registry says are here but are not) with a good copy from another owner. A slow pass
// runs in the background at a configured rate; `admin.scrub` runs a whole pass now and
// answers with what it found once every repair it started has finished.
//
// The background pass gives way to foreground traffic: a tick after which blocks were put
// or read is sat out, up to `busyTicksMax` in a row, so a busy node still scrubs at a
// tenth of the rate. Its reads come off the disk (packs are written past the page cache),
// so they are made off the actor's thread (BlockStore.readLater): a disk kept busy by
// others must not hold up the actor, nor Raft beside it. A step or tick asks for its
// budget's worth of blocks at once, and a pass moves on once they are all in.

import type { Env } from '../actor/env.ts';
import type { NodeId } from '../../../protocol/raft-messages.ts';
import type { BlockHash, ScrubReport } from '../../../protocol/wire.ts';
import type { BlockDirectory } from './block-directory.ts';
import type { BlockInternalMessage } from './block-messages.ts';
import type { BlockStore } from './block-store.ts';
import type { Placement } from './placement.ts';
import type { Repairer } from './repairer.ts';

export interface ScrubberOptions {
  node: NodeId;
  /** Bytes per second the background pass re-hashes; 0 turns it off. */
  scrubBytesPerSecond: number;
  scrubTickMs: number;
  /** Bytes one step of a pass run now re-hashes before yielding the actor to other messages. */
  stepBytesMax: number;
  /**
   * Bytes each block counts for at least, against a tick's budget and a step's. Checking
   * a block costs a read and a hash call however small it is, so without a floor a tick
   * over 100-byte blocks would check 40,000 of them while clients wait.
   */
  blockBytesMin: number;
  /** Background ticks sat out in a row at most while the node is busy (see the top). */
  busyTicksMax: number;
}

interface Pass {
  id: number;
  hashes: BlockHash[];
  next: number;
  report: ScrubReport;
  repairsPending: number;
  /** Blocks of the current step still being read. */
  reading: number;
  scanned: boolean;
  done: (report: ScrubReport) => void;
}

/** Totals since start, for the node's metrics. */
export interface ScrubStats {
  checked: number;
  corrupt: number;
  repaired: number;
  missing: number;
}

export class Scrubber {
  private background: { hashes: BlockHash[]; next: number } = { hashes: [], next: 0 };
  private pass: Pass | null = null;
  private nextPassId = 1;
  /** Blocks were put or read since the last background tick. */
  private busy = false;
  private ticksSatOut = 0;
  /** Blocks of the last background tick still being read; a tick finding some left sits out. */
  private backgroundReading = 0;
  readonly totals: ScrubStats = { checked: 0, corrupt: 0, repaired: 0, missing: 0 };

  constructor(
    private readonly env: Env,
    private readonly options: ScrubberOptions,
    private readonly directory: BlockDirectory | null,
    private readonly placement: Placement,
    private readonly store: BlockStore,
    private readonly repairer: Repairer,
  ) {
    // Without a directory there is no owner to repair from, so a background pass would only count.
    if (options.scrubBytesPerSecond > 0 && directory !== null) env.timer(options.scrubTickMs, { type: 'blocks.scrub-tick' } satisfies BlockInternalMessage);
  }

  /** Foreground block traffic happened: the next background tick may be sat out. */
  noteBusy(): void {
    this.busy = true;
  }

  /** The background pass: re-hash about a tick's worth of bytes, starting over when the list runs out. */
  onTick(): void {
    this.env.timer(this.options.scrubTickMs, { type: 'blocks.scrub-tick' } satisfies BlockInternalMessage);
    if (this.pass !== null) return;
    const busy = this.busy;
    this.busy = false;
    if (busy && this.ticksSatOut < this.options.busyTicksMax) {
      this.ticksSatOut++;
      return;
    }
    this.ticksSatOut = 0;
    // The disk has not delivered the last tick's blocks yet: asking for more would only queue up reads.
    if (this.backgroundReading > 0) return;
    if (this.background.next >= this.background.hashes.length) this.background = { hashes: this.store.list(), next: 0 };
    let budget = (this.options.scrubBytesPerSecond * this.options.scrubTickMs) / 1000;
    while (budget > 0 && this.background.next < this.background.hashes.length) {
      this.backgroundReading++;
      budget -= this.check(this.background.hashes[this.background.next++]!, null, () => this.backgroundReading--);
    }
  }

  /** Runs a whole pass now; false when one is already running (the caller answers `overloaded`). */
  runPass(done: (report: ScrubReport) => void): boolean {
    if (this.pass !== null) return false;
    const id = this.nextPassId++;
    this.pass = { id, hashes: this.store.list(), next: 0, report: { checked: 0, corrupt: 0, repaired: 0, missing: 0 }, repairsPending: 0, reading: 0, scanned: false, done };
    this.step(id);
    return true;
  }

  /** One slice of the pass run now: its blocks are read, and once all are in the next slice comes back through the mailbox. */
  step(id: number): void {
    const pass = this.pass;
    if (pass === null || pass.id !== id || pass.reading > 0) return;
    let budget = this.options.stepBytesMax;
    // Counted before the first read is asked for, so a read answered at once cannot end the step early.
    pass.reading++;
    while (budget > 0 && pass.next < pass.hashes.length) {
      pass.reading++;
      budget -= this.check(pass.hashes[pass.next++]!, pass, () => this.stepRead(pass));
    }
    this.stepRead(pass);
  }

  // One block of the step is checked; after the last, the pass goes on.
  private stepRead(pass: Pass): void {
    if (--pass.reading > 0 || this.pass !== pass) return;
    if (pass.next < pass.hashes.length) {
      this.env.timer(0, { type: 'blocks.scrub-step', pass: pass.id } satisfies BlockInternalMessage);
      return;
    }
    if (!pass.scanned) {
      pass.scanned = true;
      this.findMissing(pass);
    }
    this.finishIfDone(pass);
  }

  // Re-hash one block, calling `checked` when done; returns what it costs the budget: the
  // bytes it will read, at least blockBytesMin.
  private check(hash: BlockHash, pass: Pass | null, checked: () => void): number {
    this.store.readLater(hash, (local) => {
      if (local.state !== 'missing') this.count(pass, 'checked');
      if (local.state === 'corrupt') {
        this.count(pass, 'corrupt');
        this.env.log('warn', 'blocks.corrupt', { hash, node: this.options.node, size: local.size, by: 'scrub' });
        this.repair(hash, pass);
      }
      checked();
    });
    return Math.max(this.store.sizeOf(hash) ?? 0, this.options.blockBytesMin);
  }

  // Blocks the registry says this node holds but whose file is gone.
  private findMissing(pass: Pass): void {
    if (this.directory === null) return;
    for (const [hash, block] of this.directory.blocks()) {
      if (!block.owners.includes(this.options.node) || this.store.has(hash)) continue;
      this.count(pass, 'missing');
      this.repair(hash, pass);
    }
  }

  private repair(hash: BlockHash, pass: Pass | null): void {
    const known = this.directory?.block(hash) ?? null;
    const sources = (known ? known.owners.filter((node) => this.placement.isLive(node)) : this.placement.preference(hash)).filter((node) => node !== this.options.node);
    const size = known?.size ?? 0;
    if (known === null || sources.length === 0) return;
    if (pass) pass.repairsPending++;
    const queued = this.repairer.enqueue(hash, size, 'repair', sources, (ok) => {
      if (ok) this.count(pass, 'repaired');
      if (!pass) return;
      pass.repairsPending--;
      this.finishIfDone(pass);
    });
    if (!queued && pass) pass.repairsPending--;
  }

  private count(pass: Pass | null, field: keyof ScrubReport): void {
    this.totals[field]++;
    if (pass) pass.report[field]++;
  }

  private finishIfDone(pass: Pass): void {
    if (this.pass !== pass || !pass.scanned || pass.next < pass.hashes.length || pass.reading > 0 || pass.repairsPending > 0) return;
    this.pass = null;
    this.env.log('info', 'blocks.scrubbed', { node: this.options.node, ...pass.report });
    pass.done(pass.report);
  }
}
