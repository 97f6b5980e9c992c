// Crash tests with real node processes on loopback: the leader killed with SIGKILL in the
// middle of a write stream, the whole cluster killed at once, and log segments torn at
// random offsets. In every case each acknowledged write must read back byte for byte.

import { randomBytes } from 'node:crypto';
import { readdirSync, statSync, truncateSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { connect, type Client } from '../sdk.ts';
import { LocalCluster, waitForLeader } from './local-cluster.ts';

const sleep = (ms: number) => new Promise((done) => setTimeout(done, ms));

/** Writers that each write fresh files until stopped, recording what was acknowledged. */
function startWriters(clients: Client[], acknowledged: Map<string, Uint8Array>, prefix: string) {
  let running = true;
  let failures = 0;
  const loops = clients.map(async (client, w) => {
    for (let i = 0; running; i++) {
      const path = `${prefix}/w${w}/f${i}`;
      // Mostly small files, now and then one of several blocks.
      const data = randomBytes(i % 10 === 0 ? 1_500_000 + i : 200 + (i % 50));
      try {
        await client.writeFile(path, data);
        acknowledged.set(path, data);
      } catch {
        failures++;
        await sleep(20);
      }
    }
  });
  return {
    get failures() {
      return failures;
    },
    async stop() {
      running = false;
      await Promise.all(loops);
    },
  };
}

async function verifyAll(client: Client, acknowledged: Map<string, Uint8Array>): Promise<void> {
  for (const [path, data] of acknowledged) {
    const file = await client.readFile(path);
    assert.ok(file, `acknowledged file ${path} is missing`);
    assert.ok(Buffer.from(file.data).equals(Buffer.from(data)), `acknowledged file ${path} reads back different bytes`);
  }
}

test('failover: killing the leader with SIGKILL mid-stream, three times, loses no acknowledged write', async () => {
  const cluster = await LocalCluster.start({ nodes: 3 });
  const clients = await Promise.all(Array.from({ length: 8 }, (_, i) => connect({ servers: cluster.urls, device: `writer-${i}` })));
  const observer = await connect({ servers: cluster.urls, device: 'observer' });
  const acknowledged = new Map<string, Uint8Array>();
  try {
    await waitForLeader(observer);
    const writers = startWriters(clients, acknowledged, 'failover');
    const killed: string[] = [];
    for (let round = 0; round < 3; round++) {
      await sleep(800);
      const leader = await waitForLeader(observer);
      const before = acknowledged.size;
      await cluster.kill(leader);
      killed.push(leader);
      await sleep(1200);
      await cluster.startNode(leader);
      assert.ok(acknowledged.size >= before, 'acknowledgements never go backwards');
    }
    await sleep(800);
    await writers.stop();
    assert.ok(acknowledged.size > 50, `writers made progress through the failovers (${acknowledged.size} writes, ${writers.failures} failed attempts)`);
    await verifyAll(observer, acknowledged);
  } finally {
    await Promise.all([...clients, observer].map((c) => c.close()));
    await cluster.destroy();
  }
});

test('whole-cluster crash: SIGKILL every node, restart them all, and every acknowledged write is there', async () => {
  const cluster = await LocalCluster.start({ nodes: 3 });
  const clients = await Promise.all(Array.from({ length: 4 }, (_, i) => connect({ servers: cluster.urls, device: `writer-${i}` })));
  const acknowledged = new Map<string, Uint8Array>();
  try {
    await waitForLeader(clients[0]!);
    const writers = startWriters(clients, acknowledged, 'blackout');
    await sleep(1500);
    // All at once, while writes are in flight.
    await Promise.all(cluster.members.map((m) => cluster.kill(m.id)));
    await writers.stop();
    assert.ok(acknowledged.size > 10, `writes were acknowledged before the crash (${acknowledged.size})`);
    for (const member of cluster.members) await cluster.startNode(member.id);
    const reader = await connect({ servers: cluster.urls, device: 'reader' });
    try {
      await waitForLeader(reader);
      await verifyAll(reader, acknowledged);
      // Each node counts the blocks it kept on disk and reports them again after the restart.
      const deadline = Date.now() + 10_000;
      let counts: number[] = [];
      while (Date.now() < deadline) {
        counts = (await reader.status()).nodes.map((node) => node.blocks);
        if (counts.every((count) => count > 0)) break;
        await sleep(200);
      }
      assert.ok(counts.every((count) => count > 0), `every node reports its blocks after the restart: ${counts.join(', ')}`);
    } finally {
      await reader.close();
    }
  } finally {
    await Promise.all(clients.map((c) => c.close()));
    await cluster.destroy();
  }
});

test('torn log: a node whose last log segment is cut at random offsets recovers and catches up', async () => {
  const cluster = await LocalCluster.start({ nodes: 3 });
  const client = await connect({ servers: cluster.urls, device: 'torn' });
  const acknowledged = new Map<string, Uint8Array>();
  try {
    await waitForLeader(client);
    for (let round = 0; round < 4; round++) {
      for (let i = 0; i < 30; i++) {
        const path = `torn/r${round}/f${i}`;
        const data = randomBytes(100 + i);
        await client.writeFile(path, data);
        acknowledged.set(path, data);
      }
      const victim = cluster.members[round % 3]!;
      await cluster.kill(victim.id);
      const walDir = join(victim.dataDir, 'wal');
      const segments = readdirSync(walDir).filter((name) => /^\d+$/.test(name)).sort();
      assert.ok(segments.length > 0, `node ${victim.id} has log segments`);
      const last = join(walDir, segments[segments.length - 1]!);
      const size = statSync(last).size;
      const cut = Math.floor(Math.random() * size);
      truncateSync(last, cut);
      await cluster.startNode(victim.id);
      // The node came back: it answers, and it catches up with the leader.
      const deadline = Date.now() + 15_000;
      let caughtUp = false;
      while (!caughtUp && Date.now() < deadline) {
        const status = await client.status().catch(() => null);
        const mine = status?.nodes.find((n) => n.id === victim.id);
        const leader = status?.nodes.find((n) => n.id === status.leader);
        caughtUp = !!mine && !!leader && mine.role !== 'down' && mine.appliedIndex >= leader.commitIndex - 1;
        if (!caughtUp) await sleep(100);
      }
      assert.ok(caughtUp, `node ${victim.id} caught up after its last segment was cut at ${cut} of ${size} bytes:\n${victim.output}`);
    }
    await verifyAll(client, acknowledged);
  } finally {
    await client.close();
    await cluster.destroy();
  }
});

test.run();
