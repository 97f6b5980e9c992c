// Corruption with real processes: a flipped byte in a block copy on disk. A read still
// returns the right bytes (from another owner) and repairs the copy it found bad;
// `raftbox admin scrub` finds corrupt copies and repairs them; a copy lost while its node
// was down comes back on its own once the node runs again.

import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { PlacementRing } from '../../protocol/ring.ts';
import { connect } from '../sdk.ts';
import { corruptCopy, goodCopies, loseCopy } from './block-files.ts';
import { LocalCluster, waitForLeader } from './local-cluster.ts';
import { eventually } from './eventually.ts';

const shim = fileURLToPath(new URL('../cli/raftbox.js', import.meta.url));

async function raftbox(args: string[]): Promise<string> {
  const { stdout } = await promisify(execFile)(process.execPath, [shim, ...args], { timeout: 60_000 });
  return stdout;
}

test('a corrupt copy is read around and repaired; scrub repairs corrupt copies; a lost copy is restored after restart', async () => {
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

    // A copy lost while its node was down: the node's start-up scan fetches it again.
    const victim = 'n2';
    await cluster.stop(victim);
    loseCopy(dir(victim), hashes[2]!);
    assert.is(goodCopies([dir(victim)], hashes[2]!).length, 0, 'the copy is gone from disk');
    await cluster.restart(victim);
    await eventually('the lost copy to be fetched again', () => goodCopies([dir(victim)], hashes[2]!).length === 1, 20_000, 50);

    // Scrub: a corrupt copy nothing has read.
    corruptCopy(dir(victim), hashes[1]!, 7);
    const report = JSON.parse(await raftbox(['admin', 'scrub', '--node', victim, '--json', '--server', cluster.urls.join(',')]));
    assert.equal(report, { checked: hashes.length, corrupt: 1, repaired: 1, missing: 0 });
    for (const [i, hash] of hashes.entries()) assert.equal(goodCopies(all.map(dir), hash), all.map(dir), `block ${i} (${hash}) has a good copy on every node again`);
    const clean = JSON.parse(await raftbox(['admin', 'scrub', '--json', '--server', cluster.urls.join(',')]));
    assert.equal(clean, { checked: 3 * hashes.length, corrupt: 0, repaired: 0, missing: 0 }, 'a scrub of every node finds nothing left to fix');
  } finally {
    await client.close();
    await cluster.destroy();
  }
});

test.run();
