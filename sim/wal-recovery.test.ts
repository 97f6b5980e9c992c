// The write-ahead log across crashes, on the simulator's disk (which forgets whatever was
// not synced when it crashes).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import type { Entry, Snapshot } from '../protocol/raft-messages.ts';
import { Wal } from '../node/core/raft/wal.ts';
import { EventQueue } from './event-queue.ts';
import { Prng } from './prng.ts';
import { SimDisk } from './sim-disk.ts';

const config = { voters: ['n1', 'n2', 'n3'], learners: [] };
const bootstrap: Snapshot = { index: 0, term: 0, config, data: new Uint8Array(0) };

function entries(from: number, to: number, term: number): Entry[] {
  const out: Entry[] = [];
  for (let index = from; index <= to; index++) out.push({ index, term, type: 'normal', data: Uint8Array.of(index & 0xff) });
  return out;
}

function disk(): { disk: SimDisk; settle: () => void } {
  const queue = new EventQueue();
  const simDisk = new SimDisk(queue, new Prng(1), { tear: false }, () => {});
  return { disk: simDisk, settle: () => queue.runUntil(queue.now + 1_000) };
}

/** A fresh WAL on `simDisk` holding entries 1..`last` of term 1, synced, with `commit` committed. */
function walHolding(simDisk: SimDisk, last: number, commit: number): Wal {
  const wal = new Wal(simDisk, 1 << 20);
  wal.recover(bootstrap);
  wal.append(null, entries(1, last, 1), { term: 1, vote: 'n1', commit });
  wal.sync('synced');
  return wal;
}

test('a snapshot saved just before a crash, with no marker in the log, does not make the next entries read as a gap', () => {
  const { disk: simDisk, settle } = disk();
  let wal = walHolding(simDisk, 5, 3);
  settle();

  // A follower installs a snapshot from the leader, far past its log: the snapshot file
  // becomes durable, then the node crashes before the marker is written and synced.
  const installed: Snapshot = { index: 20, term: 2, config, data: Uint8Array.of(7) };
  wal.saveSnapshot(installed, 'saved');
  settle();
  wal.append(installed, [], { term: 2, vote: null, commit: 20 });
  simDisk.crash();

  wal = new Wal(simDisk, 1 << 20);
  const afterCrash = wal.recover(bootstrap);
  assert.is(afterCrash.snapshot.index, 20);
  assert.equal(afterCrash.entries, [], 'entries that predate the snapshot are not part of the state');

  // The node goes on: the leader sends entries after the snapshot, and they are synced.
  wal.append(null, entries(21, 23, 2), { term: 2, vote: null, commit: 22 });
  wal.sync('synced');
  settle();

  wal = new Wal(simDisk, 1 << 20);
  const again = wal.recover(bootstrap);
  assert.is(again.snapshot.index, 20);
  assert.equal(again.entries.map((entry) => entry.index), [21, 22, 23]);
  assert.is(again.hardState.commit, 22);
});

test('a log that continues its snapshot owes no marker and keeps its entries', () => {
  const { disk: simDisk, settle } = disk();
  let wal = walHolding(simDisk, 10, 10);
  wal.saveSnapshot({ index: 6, term: 1, config, data: Uint8Array.of(6) }, 'saved');
  settle();

  wal = new Wal(simDisk, 1 << 20);
  assert.equal(wal.recover(bootstrap).entries.map((entry) => entry.index), [7, 8, 9, 10]);
  wal.append(null, entries(11, 11, 1), null);
  wal.sync('synced');
  settle();

  wal = new Wal(simDisk, 1 << 20);
  assert.equal(wal.recover(bootstrap).entries.map((entry) => entry.index), [7, 8, 9, 10, 11]);
});

test.run();
