// Join and drain with real processes: a 3-node cluster (R=3) takes a light stream of SDK
// writes while a 4th node joins with `raftbox node --join` and then another node is
// removed with `raftbox admin remove-node`. Every acknowledged write reads back intact,
// and every block ends with exactly three good copies, all on the remaining members.
//
// Its rebalancing has been seen to stall past a minute with another cluster test running
// beside it on 2 cores (surplus copies not yet released), so it runs on its own:
// run-tests: alone

import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import type { ClusterStatus } from '../../protocol/wire.ts';
import { connect, type Client } from '../sdk.ts';
import { goodCopies } from './block-files.ts';
import { LocalCluster, waitForLeader } from './local-cluster.ts';
import { eventually } from './eventually.ts';

const sleep = (ms: number) => new Promise((done) => setTimeout(done, ms));
/** Rebalancing confirms every surplus copy with its owners and releases it through the log, a few blocks per scan: alone about 10 s, slower on a loaded machine. */
const rebalanceTimeoutMs = 120_000;
const shim = fileURLToPath(new URL('../cli/raftbox.js', import.meta.url));

/** Writes files in a loop until stopped; remembers only the writes the cluster acknowledged. */
function writeLoad(client: Client) {
  const acknowledged = new Map<string, Uint8Array>();
  let stopped = false;
  let failed = 0;
  const done = (async () => {
    for (let i = 0; !stopped; i++) {
      const path = `load/f${i}`;
      const data = randomBytes(i % 4 === 0 ? 1_500_000 : 30_000 + i * 100);
      try {
        await client.writeFile(path, data);
        acknowledged.set(path, data);
      } catch {
        failed++;
      }
      await sleep(100);
    }
  })();
  return { acknowledged, failed: () => failed, stop: async () => ((stopped = true), await done) };
}

test('a node joins and another is drained and removed under load; nothing is lost', async () => {
  const cluster = await LocalCluster.start({ nodes: 3, replication: 3 });
  const client = await connect({ servers: cluster.urls, device: 'join-drain-test' });
  const load = writeLoad(client);
  try {
    await waitForLeader(client);
    await sleep(1500);
    await cluster.join('n4', 'n1');
    await eventually('n4 to join as a voter', async () => {
      const status: ClusterStatus = await client.status();
      const n4 = status.nodes.find((node) => node.id === 'n4');
      return (n4 !== undefined && (n4.role === 'follower' || n4.role === 'leader') && status.replication.underReplicated === 0) || JSON.stringify(status);
    });
    // Rebalancing: n4 takes the blocks the ring now gives it, and the node each replaced drops its surplus copy.
    const all = ['n1', 'n2', 'n3', 'n4'].map((id) => cluster.member(id).dataDir);
    const before = [...new Set((await client.list('load/')).flatMap((file) => file.blocks.map((block) => block.hash)))];
    // n4 becomes a voter before it joins the placement ring, and the blocks have 3 copies
    // on n1–n3 already: wait for the rebalancing itself, not only for the copy count.
    await eventually('n4 to take its share and every block written before the join to have exactly 3 copies over 4 nodes', async () => {
      const off = before.filter((hash) => goodCopies(all, hash).length !== 3);
      const onN4 = before.filter((hash) => goodCopies([cluster.member('n4').dataDir], hash).length === 1).length;
      if (onN4 === 0) return 'n4 holds none of the blocks yet';
      const where = (hash: string) => ['n1', 'n2', 'n3', 'n4'].filter((id) => goodCopies([cluster.member(id).dataDir], hash).length === 1).join('+');
      return off.length === 0 || `${off.length} of ${before.length} blocks have a copy count other than 3 (${off.slice(0, 4).map(where).join(', ')})`;
    }, rebalanceTimeoutMs);
    const onN4 = before.filter((hash) => goodCopies([cluster.member('n4').dataDir], hash).length === 1).length;
    assert.ok(onN4 > 0 && onN4 < before.length, `n4 holds some but not all of the ${before.length} blocks, got ${onN4}`);
    const { stdout } = await promisify(execFile)(process.execPath, [shim, 'admin', 'remove-node', 'n2', '--json', '--server', cluster.urls.join(',')], { timeout: 120_000 });
    const report = JSON.parse(stdout.trim().split('\n').pop()!) as { node: string; drainedBlocks: number };
    assert.is(report.node, 'n2');
    assert.ok(report.drainedBlocks > 0, 'n2 held blocks when its drain began');
    await sleep(1000);
    await load.stop();
    assert.ok(load.acknowledged.size >= 10, `the load wrote at least 10 files, got ${load.acknowledged.size} (${load.failed()} failed)`);
    await cluster.kill('n2');

    const status = await client.status();
    assert.equal(status.nodes.map((node) => node.id).sort(), ['n1', 'n3', 'n4'], 'n2 left the cluster map');
    for (const [path, data] of load.acknowledged) {
      const file = await client.readFile(path);
      assert.ok(file && Buffer.from(file.data).equals(data), `${path} reads back intact`);
    }
    const hashes = [...new Set((await client.list('load/')).flatMap((file) => file.blocks.map((block) => block.hash)))];
    const members = ['n1', 'n3', 'n4'].map((id) => cluster.member(id).dataDir);
    await eventually('every block to have exactly 3 good copies on n1, n3 and n4', async () => {
      const short = hashes.filter((hash) => goodCopies(members, hash).length !== 3);
      return short.length === 0 || `${short.length} of ${hashes.length} blocks lack copies`;
    });
  } finally {
    await load.stop();
    await client.close();
    await cluster.destroy();
  }
});

test.run();
