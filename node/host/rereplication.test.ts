// Node loss with real processes: 4 nodes at R=3, kill -9 one; every block must return to
// three good copies on the live nodes' disks, and a second kill afterwards loses nothing.

import { randomBytes } from 'node:crypto';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import type { ClusterStatus } from '../../protocol/wire.ts';
import { connect, type Client } from '../sdk.ts';
import { goodCopies } from './block-files.ts';
import { LocalCluster, waitForLeader } from './local-cluster.ts';

const sleep = (ms: number) => new Promise((done) => setTimeout(done, ms));

/** Polls status until `check` holds; returns the status that satisfied it. */
async function waitForStatus(client: Client, what: string, check: (status: ClusterStatus) => boolean, timeoutMs = 30_000): Promise<ClusterStatus> {
  const deadline = Date.now() + timeoutMs;
  let last: ClusterStatus | null = null;
  while (Date.now() < deadline) {
    try {
      last = await client.status();
      if (check(last)) return last;
    } catch {
      // The node asked may be the one just killed, or an election is under way.
    }
    await sleep(100);
  }
  throw new Error(`timed out waiting for ${what}; last status: ${JSON.stringify(last)}`);
}

test('a killed node\'s blocks return to 3 copies, and a second kill afterwards loses nothing', async () => {
  const cluster = await LocalCluster.start({ nodes: 4, replication: 3 });
  const client = await connect({ servers: cluster.urls, device: 'rereplication-test' });
  try {
    const leader = await waitForLeader(client);
    const files = new Map<string, Uint8Array>();
    for (let i = 0; i < 12; i++) {
      const data = randomBytes(i % 3 === 0 ? 2_500_000 + i : 50_000 + i * 1000);
      await client.writeFile(`loss/f${i}`, data);
      files.set(`loss/f${i}`, data);
    }
    const hashes = [...new Set((await client.list('loss/')).flatMap((file) => file.blocks.map((block) => block.hash)))];
    assert.ok(hashes.length >= 12, `the files are stored as at least 12 blocks, got ${hashes.length}`);
    const dirs = (ids: string[]) => ids.map((id) => cluster.member(id).dataDir);
    for (const hash of hashes) assert.is(goodCopies(dirs(['n1', 'n2', 'n3', 'n4']), hash).length, 3, `block ${hash} starts with 3 copies`);

    const first = ['n1', 'n2', 'n3', 'n4'].find((id) => id !== leader)!;
    await cluster.kill(first);
    const live = ['n1', 'n2', 'n3', 'n4'].filter((id) => id !== first);
    const healed = await waitForStatus(client, `the log to declare ${first} down and every block back at 3 copies`, (status) =>
      status.nodes.find((node) => node.id === first)?.role === 'down' && status.replication.epoch === 1 && status.replication.underReplicated === 0);
    assert.is(healed.replication.blocks, hashes.length);
    for (const hash of hashes) assert.is(goodCopies(dirs(live), hash).length, 3, `block ${hash} has 3 good copies on the live nodes`);

    const second = live.find((id) => id !== leader)!;
    await cluster.kill(second);
    const survivors = live.filter((id) => id !== second);
    for (const hash of hashes) assert.ok(goodCopies(dirs(survivors), hash).length >= 2, `block ${hash} survives the second kill`);
    // Two of four voters cannot commit or read: bring the first node back with an empty
    // block store (its disk "replaced"), so every byte read must come from the survivors.
    rmSync(join(cluster.member(first).dataDir, 'blocks'), { recursive: true, force: true });
    await cluster.startNode(first);
    for (const [path, data] of files) {
      const file = await client.readFile(path);
      assert.ok(file, `${path} is still listed`);
      assert.ok(Buffer.from(file.data).equals(data), `${path} reads back intact`);
    }
  } finally {
    await client.close();
    await cluster.destroy();
  }
});

test.run();
