// Corruption with real processes: a flipped byte in a block file on disk. A read still
// returns the right bytes (from another owner) and repairs the copy it found bad;
// `raftbox admin scrub` finds corrupt and missing copies and repairs them.

import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { rmSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { PlacementRing } from '../../protocol/ring.ts';
import { connect } from '../sdk.ts';
import { blockPath, corruptCopy, goodCopies } from './block-files.ts';
import { LocalCluster, waitForLeader } from './local-cluster.ts';
import { eventually } from './eventually.ts';

const shim = fileURLToPath(new URL('../cli/raftbox.js', import.meta.url));

async function raftbox(args: string[]): Promise<string> {
  const { stdout } = await promisify(execFile)(process.execPath, [shim, ...args], { timeout: 60_000 });
  return stdout;
}

test('a corrupt copy is read around and repaired; scrub repairs corrupt and missing copies', async () => {
  // No background scrub, so every repair below is the read's or the admin pass's doing.
  const cluster = await LocalCluster.start({ nodes: 3, replication: 3, nodeFlags: ['--scrub-mib-per-second', '0'] });
  const client = await connect({ servers: cluster.urls, device: 'scrub-test' });
  try {
    await waitForLeader(client);
    // Three small files: one block each, whatever the chunker.
    const files = [0, 1, 2].map((i) => ({ path: `scrub/f${i}.bin`, data: randomBytes(100_000 + i) }));
    for (const file of files) await client.writeFile(file.path, file.data);
    const hashes: string[] = [];
    for (const file of files) hashes.push(...(await client.stat(file.path))!.blocks.map((block) => block.hash));
    assert.is(hashes.length, 3);
    const dir = (id: string) => cluster.member(id).dataDir;
    const all = ['n1', 'n2', 'n3'];

    // The read: corrupt the copy on the node the client asks first for block 0.
    const ring = new PlacementRing(all);
    const first = ring.preference(hashes[0]!)[0]!;
    corruptCopy(dir(first), hashes[0]!, 1000);
    assert.is(goodCopies([dir(first)], hashes[0]!).length, 0, 'the copy is corrupt on disk');
    const read = await client.readFile(files[0]!.path);
    assert.ok(read && Buffer.from(read.data).equals(files[0]!.data), 'the read returns the right bytes');
    await eventually('the read to repair the corrupt copy', () => goodCopies([dir(first)], hashes[0]!).length === 1, 10_000, 50);

    // Scrub: one corrupt and one missing copy on the same node.
    const victim = 'n2';
    corruptCopy(dir(victim), hashes[1]!, 7);
    rmSync(blockPath(dir(victim), hashes[2]!));
    const report = JSON.parse(await raftbox(['admin', 'scrub', '--node', victim, '--json', '--server', cluster.urls.join(',')]));
    assert.equal(report, { checked: hashes.length - 1, corrupt: 1, repaired: 2, missing: 1 });
    for (const hash of hashes) assert.is(goodCopies(all.map(dir), hash).length, 3, `block ${hash} has 3 good copies again`);
    const clean = JSON.parse(await raftbox(['admin', 'scrub', '--json', '--server', cluster.urls.join(',')]));
    assert.equal(clean, { checked: 3 * hashes.length, corrupt: 0, repaired: 0, missing: 0 }, 'a scrub of every node finds nothing left to fix');
  } finally {
    await client.close();
    await cluster.destroy();
  }
});

test.run();
