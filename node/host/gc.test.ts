// Garbage collection with real processes: delete files, run `raftbox admin gc` with a
// short grace period, and the blocks only they used leave every disk, while every file
// still listed (one sharing a block with a deleted one included) reads back intact.

import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { connect } from '../sdk.ts';
import { copyOf, goodCopies } from './block-files.ts';
import { LocalCluster, waitForLeader } from './local-cluster.ts';

const sleep = (ms: number) => new Promise((done) => setTimeout(done, ms));
const shim = fileURLToPath(new URL('../cli/raftbox.js', import.meta.url));

async function raftbox(args: string[]): Promise<string> {
  const { stdout } = await promisify(execFile)(process.execPath, [shim, ...args], { timeout: 60_000 });
  return stdout;
}

test('GC frees the blocks of deleted files after the grace period and keeps every listed file intact', async () => {
  const graceMs = 1000;
  // One retained version per path, so a delete leaves nothing in history to keep a block alive.
  const cluster = await LocalCluster.start({ nodes: 3, replication: 3, nodeFlags: ['--gc-grace-ms', String(graceMs), '--history-versions', '1'] });
  const client = await connect({ servers: cluster.urls, device: 'gc-test' });
  try {
    await waitForLeader(client);
    const shared = randomBytes(150_000);
    const kept = new Map([['gc/keep-a', randomBytes(120_000)], ['gc/keep-shared', shared]]);
    const doomed = new Map([['gc/gone-a', randomBytes(200_000)], ['gc/gone-b', randomBytes(210_000)], ['gc/gone-shared', shared]]);
    for (const [path, data] of [...kept, ...doomed]) await client.writeFile(path, data);
    const blocksOf = async (paths: Iterable<string>) => (await Promise.all([...paths].map((path) => client.stat(path)))).flatMap((info) => info!.blocks);
    const keptBlocks = await blocksOf(kept.keys());
    const doomedOnly = (await blocksOf(doomed.keys())).filter((block) => !keptBlocks.some((k) => k.hash === block.hash));
    assert.is(doomedOnly.length, 2, 'two blocks belong to deleted files only');
    for (const path of doomed.keys()) await client.remove(path);
    // (That nothing is collected within the grace period is a timing question: the state machine's unit test covers it.)
    await sleep(graceMs + 200);
    const report = JSON.parse(await raftbox(['admin', 'gc', '--json', '--server', cluster.urls.join(',')]));
    const doomedBytes = doomedOnly.reduce((sum, block) => sum + block.size, 0);
    assert.equal(report, { deletedBlocks: 2, freedBytes: 3 * doomedBytes });
    const dirs = cluster.members.map((member) => member.dataDir);
    const deadline = Date.now() + 10_000;
    while (doomedOnly.some((block) => dirs.some((dir) => copyOf(dir, block.hash) !== null)) && Date.now() < deadline) await sleep(50);
    for (const block of doomedOnly) for (const dir of dirs) assert.is(copyOf(dir, block.hash), null, `block ${block.hash} left ${dir}`);
    for (const block of keptBlocks) assert.is(goodCopies(dirs, block.hash).length, 3, `kept block ${block.hash} keeps its 3 copies`);
    assert.equal((await client.list('gc/')).map((file) => file.path), [...kept.keys()].sort());
    for (const [path, data] of kept) {
      const file = await client.readFile(path);
      assert.ok(file && Buffer.from(file.data).equals(data), `${path} reads back intact`);
    }
    const status = await client.status();
    assert.is(status.replication.blocks, keptBlocks.length, 'the registry holds only the kept blocks');
  } finally {
    await client.close();
    await cluster.destroy();
  }
});

test.run();
