// The convergence property of folder sync, after Dropbox's CanopyCheck: three devices
// make random edits (creates, edits, deletes, moves, folders, the executable bit) and
// sync in a random order, going offline and back, sometimes editing a file while a sync
// runs; now and then a CLI user puts a file straight into the cluster. Once all are
// online and synced until quiet:
//   - every device holds the same tree, and it is the cluster's (folders included);
//   - every content that was ever synced, on a device or in the cluster, is in that tree
//     (maybe as a conflict copy) or in the cluster's history.
// Each case is one seed; a failure prints the seed and how to replay it alone.
//   RAFTBOX_SYNC_CASES=N (default 1500) and RAFTBOX_SYNC_SEED=S (one case, traced) control it.

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { createHash } from 'node:crypto';
import { isRaftboxError } from '../../protocol/errors.ts';
import { syncOnce, type SyncOptions } from '../../protocol/sync-engine.ts';
import { contentKey, isFolderMode } from '../../protocol/sync-tree.ts';
import { Prng } from '../prng.ts';
import { MemoryReplica } from './memory-replica.ts';
import { MemoryCluster, MemoryRemote } from './memory-remote.ts';

const sha256 = (bytes: Uint8Array): string => createHash('sha256').update(bytes).digest('hex');
const chunk = (data: Uint8Array): Uint8Array[] => {
  const pieces: Uint8Array[] = [];
  for (let start = 0; start < data.length; start += 8) pieces.push(data.subarray(start, start + 8));
  return pieces;
};
const names = ['a.txt', 'b.txt', 'c', 'd', 'd/x.md', 'd/y', 'e/f', 'e'];
const stepsPerCase = 40;
const settleRoundsMax = 6;

interface Device {
  name: string;
  replica: MemoryReplica;
  remote: MemoryRemote;
  options: SyncOptions;
}

/** Runs one case; returns null when it holds, or what went wrong. */
async function runCase(seed: number, trace: (line: string) => void = () => undefined): Promise<string | null> {
  const random = new Prng(seed);
  const cluster = new MemoryCluster(sha256);
  let written = 0;
  let interfering = false;
  const survivors = new Map<string, string>();
  const devices = ['d1', 'd2', 'd3'].map((name): Device => {
    const replica = new MemoryReplica({
      sha256,
      chunk,
      interfere: (self) => {
        if (interfering && random.chance(0.1)) userEdit(self, random, name, ++written, 'write');
      },
    });
    const options: SyncOptions = {
      device: name,
      conflictStamp: `2026-11-21 ${String(seed % 1_000_000).padStart(6, '0')}`,
      sha256: async (bytes) => sha256(bytes),
      now: () => 0,
      sleep: async () => undefined,
    };
    return { name, replica, remote: new MemoryRemote(cluster, name), options };
  });
  // What must survive: every content the cluster held after a sync, and every local
  // content a sync started with, unless the user overwrote it while that sync ran.
  const sync = async (device: Device, interfere: boolean): Promise<boolean> => {
    const before = interfere ? [] : [...device.replica.items].filter(([, item]) => item.kind === 'file');
    interfering = interfere;
    try {
      await syncOnce(device.replica, device.remote, device.options);
    } catch (error) {
      if (!/offline/.test(String((error as Error).message))) throw error;
      trace(`${device.name} sync: offline`);
      return false;
    } finally {
      interfering = false;
    }
    trace(`${device.name} synced:\n  ${describe(device.replica).replaceAll('\n', '\n  ')}`);
    for (const [path, item] of before) survivors.set(keyOf(item.data), `${new TextDecoder().decode(item.data)} (at ${path} on ${device.name})`);
    for (const file of cluster.machine.list('default', '', false)) if (!survivors.has(contentKey(file))) survivors.set(contentKey(file), `version ${file.version} of ${file.path} in the cluster`);
    return true;
  };

  // Someone with the CLI or the SDK: whole files straight into the cluster, no folder
  // records, no compare-and-set. The cluster refuses one that would make a path a file
  // and a folder at once, as it would `raftbox put`.
  const cli = new MemoryRemote(cluster, 'cli');
  const put = async (path: string): Promise<void> => {
    const data = new TextEncoder().encode(`cli#${++written}:`.padEnd(random.int(4, 30), '.'));
    const pieces = chunk(data).map((piece) => ({ hash: sha256(piece), data: piece }));
    await cli.putBlocks(pieces);
    try {
      await cli.commit([{ path, deleted: false, blocks: pieces.map(({ hash, data: piece }) => ({ hash, size: piece.length })), size: data.length, mtime: 0, mode: 0o644 }]);
      survivors.set(keyOf(data), `cli#${written} (put at ${path})`);
      trace(`cli put ${path}`);
    } catch (error) {
      if (!isRaftboxError(error, 'path_conflict')) throw error;
      trace(`cli put ${path}: refused, ${(error as Error).message}`);
    }
  };

  for (let step = 0; step < stepsPerCase; step++) {
    const device = random.pick(devices);
    const roll = random.float();
    if (roll < 0.05) await put(random.pick(names));
    else if (roll < 0.6) {
      const before = describe(device.replica);
      userEdit(device.replica, random, device.name, ++written);
      if (describe(device.replica) !== before) trace(`${device.name} edit:\n  ${describe(device.replica).replaceAll('\n', '\n  ')}`);
    }
    else if (roll < 0.92) {
      await sync(device, random.chance(0.3));
    } else device.remote.online = !device.remote.online;
  }

  for (const device of devices) device.remote.online = true;
  for (let round = 0; round < settleRoundsMax; round++) {
    for (const device of devices) await sync(device, false);
  }
  const trees = devices.map((device) => describe(device.replica));
  for (let index = 1; index < trees.length; index++) {
    if (trees[index] !== trees[0]) return `devices d1 and d${index + 1} differ:\n${trees[0]}\n---\n${trees[index]}\n--- cluster:\n${clusterShape(cluster)}`;
  }
  // The cluster is a replica too: what it holds is what every device holds, folders it
  // knows only as the parents of its files included.
  const held = shapeOf(devices[0]!.replica);
  const stored = clusterShape(cluster);
  if (held !== stored) return `the devices and the cluster differ:\n${held}\n--- cluster:\n${stored}`;
  const kept = new Set([...devices[0]!.replica.items.values()].filter((item) => item.kind === 'file').map((item) => keyOf(item.data)));
  for (const file of cluster.history()) if (!file.deleted) kept.add(contentKey(file));
  for (const [key, what] of survivors) {
    if (!kept.has(key)) return `a synced content was lost: ${what}`;
  }
  return null;
}

/** One random user action on a device's files. */
function userEdit(replica: MemoryReplica, random: Prng, device: string, serial: number, only?: 'write'): void {
  const path = random.pick(names);
  const parent = path.includes('/') ? path.slice(0, path.lastIndexOf('/')) : null;
  const action = only ?? random.pick(['write', 'write', 'write', 'delete', 'move', 'mkdir', 'chmod'] as const);
  const existing = replica.items.get(path);
  if (action === 'write' || action === 'chmod') {
    if (parent !== null && replica.items.get(parent)?.kind !== 'dir') {
      if (replica.items.has(parent)) return;
      replica.makeDir(parent);
    }
    if (existing?.kind === 'dir') return;
    if (action === 'chmod') {
      if (existing !== undefined) replica.write(path, existing.data, !existing.executable);
      return;
    }
    // Distinct contents, sometimes long enough for several blocks, sometimes a copy of another file.
    const copyOf = [...replica.items.values()].find((item) => item.kind === 'file' && random.chance(0.1));
    const data = copyOf?.data ?? new TextEncoder().encode(`${device}#${serial}:`.padEnd(random.int(4, 30), '.'));
    replica.write(path, data, existing?.executable ?? false);
  } else if (action === 'delete') {
    replica.delete(path);
  } else if (action === 'move') {
    const target = random.pick(names);
    const targetParent = target.includes('/') ? target.slice(0, target.lastIndexOf('/')) : null;
    if (target.startsWith(`${path}/`) || (targetParent !== null && replica.items.get(targetParent)?.kind !== 'dir')) return;
    replica.move(path, target);
  } else if (action === 'mkdir') {
    if (existing === undefined && (parent === null || replica.items.get(parent)?.kind === 'dir')) replica.makeDir(path);
  }
}

function keyOf(data: Uint8Array): string {
  return chunk(data).map(sha256).join(',');
}

/** Each path's kind, executable bit and content key, in path order. */
function shapeOf(replica: MemoryReplica): string {
  return [...replica.items]
    .sort(([a], [b]) => (a < b ? -1 : 1))
    .map(([path, item]) => `${path} ${item.kind}${item.executable ? '+x' : ''} ${item.kind === 'file' ? keyOf(item.data) : ''}`)
    .join('\n');
}

/** The same for the cluster's live records, with the folders its paths imply. */
function clusterShape(cluster: MemoryCluster): string {
  const lines = new Map<string, string>();
  for (const file of cluster.machine.list('default', '', false)) {
    const folder = isFolderMode(file.mode);
    lines.set(file.path, `${file.path} ${folder ? 'dir' : 'file'}${!folder && (file.mode & 0o111) !== 0 ? '+x' : ''} ${folder ? '' : contentKey(file)}`);
    for (let slash = file.path.indexOf('/'); slash !== -1; slash = file.path.indexOf('/', slash + 1)) {
      const parent = file.path.slice(0, slash);
      if (!lines.has(parent)) lines.set(parent, `${parent} dir `);
    }
  }
  return [...lines].sort(([a], [b]) => (a < b ? -1 : 1)).map(([, line]) => line).join('\n');
}

function describe(replica: MemoryReplica): string {
  return [...replica.items]
    .sort(([a], [b]) => (a < b ? -1 : 1))
    .map(([path, item]) => `${path} ${item.kind}${item.executable ? '+x' : ''} ${new TextDecoder().decode(item.data)}`)
    .join('\n');
}

test('three devices with random edits, sync order and outages converge and lose nothing', async () => {
  const only = process.env.RAFTBOX_SYNC_SEED;
  const seeds = only !== undefined ? [Number(only)] : Array.from({ length: Number(process.env.RAFTBOX_SYNC_CASES ?? 1500) }, (_, index) => index + 1);
  const failures: string[] = [];
  for (const seed of seeds) {
    const problem = await runCase(seed, only !== undefined ? (line) => console.log(line) : undefined).catch((error: Error) => `threw ${error.stack}`);
    if (problem !== null) {
      failures.push(`seed ${seed}: ${problem}\n  replay: RAFTBOX_SYNC_SEED=${seed} node --import tsx sim/sync/convergence.test.ts`);
      if (failures.length >= 3) break;
    }
  }
  assert.is(failures.length, 0, failures.join('\n\n'));
});

test.run();
