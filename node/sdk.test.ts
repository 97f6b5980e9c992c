// The Node SDK against fake nodes on loopback. The last test runs a client in a child
// process and checks the child exits on its own after close(): no socket or timer of the
// SDK may keep a Node process alive.

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawn } from 'node:child_process';
import { hostname } from 'node:os';
import { fileURLToPath } from 'node:url';
import { FakeCluster } from '../protocol/client-test-server.ts';
import { connect, ConflictError, type Client, type FileInfo } from './sdk.ts';

const childUrlVariable = 'RAFTBOX_SDK_TEST_CHILD_URL';

// In the child: connect, use every kind of resource (requests, a watch, a retry timer), close, and let the process end.
async function runChild(url: string): Promise<void> {
  const client = await connect({ servers: [url], device: 'child' });
  const stop = client.watch(() => undefined);
  await client.writeFile('child.txt', new TextEncoder().encode('hello from the child'));
  const read = await client.readFile('child.txt');
  stop();
  client.watch(() => undefined);
  await client.close();
  process.stdout.write(JSON.stringify({ version: read?.version, text: new TextDecoder().decode(read?.data) }) + '\n');
}

const childUrl = process.env[childUrlVariable];
if (childUrl !== undefined) {
  await runChild(childUrl);
} else {
  let cluster: FakeCluster;
  const clients: Client[] = [];

  test.before.each(async () => {
    cluster = await FakeCluster.start(2);
  });

  test.after.each(async () => {
    for (const client of clients.splice(0)) await client.close();
    await cluster.stop();
  });

  test('connect() reaches the cluster and the client follows CONTRACT.md', async () => {
    const client = await connect({ servers: cluster.nodes.map((node) => node.url) });
    clients.push(client);
    assert.is(cluster.hellos[0]!.device, hostname(), 'the default device is the host name');
    const data = new TextEncoder().encode('contents');
    assert.equal(await client.writeFile('a/b.txt', data), { version: 1 });
    const read = await client.readFile('a/b.txt');
    assert.equal(read, { version: 1, data });
    assert.is((await client.stat('a/b.txt'))!.size, data.length);
    assert.equal((await client.list('a/')).map((info) => info.path), ['a/b.txt']);
    assert.equal(await client.remove('a/b.txt', { ifVersion: 1 }), { version: 2 });
    assert.equal((await client.history('a/b.txt')).map((info) => info.version), [2, 1]);
    const changes = await client.changes();
    assert.is(changes.cursor, 2);
    assert.is((await client.status()).nodes.length, 2);
  });

  test('a refused compare-and-set throws an Error with code conflict and current', async () => {
    const client = await connect({ servers: [cluster.nodes[0]!.url], device: 'sdk' });
    clients.push(client);
    await client.writeFile('c.txt', new Uint8Array([1]));
    let caught: unknown = null;
    try {
      await client.writeFile('c.txt', new Uint8Array([2]), { ifVersion: 0 });
    } catch (error) {
      caught = error;
    }
    assert.instance(caught, Error);
    assert.instance(caught, ConflictError);
    const conflict = caught as Error & { code: string; current: FileInfo | null };
    assert.is(conflict.code, 'conflict');
    assert.is(conflict.current!.version, 1);
    assert.is(conflict.current!.device, 'sdk');
  });

  test('watch() reports changes written by another client', async () => {
    const watcher = await connect({ servers: [cluster.nodes[1]!.url] });
    const writer = await connect({ servers: [cluster.nodes[0]!.url] });
    clients.push(watcher, writer);
    const seen: FileInfo[] = [];
    const stop = watcher.watch((info) => seen.push(info));
    while (cluster.watchers.size === 0) await new Promise((resolve) => setTimeout(resolve, 5));
    await writer.writeFile('w.txt', new Uint8Array([7]));
    while (seen.length === 0) await new Promise((resolve) => setTimeout(resolve, 5));
    assert.is(seen[0]!.path, 'w.txt');
    stop();
  });

  test('a wrong token makes connect() reject with unauthorized', async () => {
    cluster.token = 'right';
    let caught: unknown = null;
    try {
      await connect({ servers: [cluster.nodes[0]!.url], token: 'wrong' });
    } catch (error) {
      caught = error;
    }
    assert.is((caught as { code?: string }).code, 'unauthorized');
  });

  test('after close() the process exits by itself', async () => {
    const file = fileURLToPath(import.meta.url);
    const child = spawn(process.execPath, ['--import', 'tsx', file], {
      env: { ...process.env, [childUrlVariable]: cluster.nodes[0]!.url },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    const exitLimitMs = 15_000;
    const code = await new Promise<number | string>((resolve) => {
      const timer = setTimeout(() => {
        child.kill('SIGKILL');
        resolve('still running');
      }, exitLimitMs);
      child.on('exit', (exitCode) => {
        clearTimeout(timer);
        resolve(exitCode ?? 'signal');
      });
    });
    assert.is(code, 0, `the child should exit 0 by itself; output:\n${output}`);
    assert.equal(JSON.parse(output.trim().split('\n').at(-1)!), { version: 1, text: 'hello from the child' });
  });

  test.run();
}
