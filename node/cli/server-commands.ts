// `raftbox node` (one node in this process) and `raftbox cluster` (N node processes on
// loopback plus the web client's HTTP port, stopped together by Ctrl-C).

import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { extname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startNode } from '../host/node.ts';
import { integerFlag, parseArgs, parseHostPort, parsePeers, UsageError } from './args.ts';

const nodeValueFlags = ['--id', '--listen', '--peers', '--data', '--replication', '--secret', '--cluster-id', '--log-level'];
const levels = ['debug', 'info', 'warn', 'error'] as const;

/** `raftbox node …`: runs one node until SIGINT/SIGTERM; a fatal storage error exits 1 with its sentence. */
export async function nodeCommand(argv: string[]): Promise<number> {
  const args = parseArgs(argv, nodeValueFlags, []);
  if (args.positionals.length > 0) throw new UsageError(`node takes no positional arguments, got "${args.positionals[0]}".`);
  const id = args.values.get('--id');
  if (!id || !/^[A-Za-z0-9_-]{1,64}$/.test(id)) throw new UsageError('--id needs a node id of letters, digits, "-" or "_" (at most 64).');
  const listen = parseHostPort('--listen', args.values.get('--listen') ?? '127.0.0.1:7001');
  const peers = parsePeers(args.values.get('--peers'));
  if (peers.has(id)) peers.delete(id);
  const dataDir = args.values.get('--data');
  if (!dataDir) throw new UsageError('--data needs the folder that holds this node\'s log and blocks.');
  const replication = integerFlag(args, '--replication', 3, 1, 64);
  const levelText = args.values.get('--log-level') ?? 'info';
  const minLevel = levels.indexOf(levelText as (typeof levels)[number]);
  if (minLevel === -1) throw new UsageError(`--log-level must be one of ${levels.join(', ')}.`);
  const secret = args.values.get('--secret') ?? process.env.RAFTBOX_SECRET;
  const snapshotEntries = snapshotEntriesFromEnv(process.env.RAFTBOX_SNAPSHOT_ENTRIES);

  let exiting = false;
  const node = await startNode({
    id,
    host: listen.host,
    port: listen.port,
    peers,
    dataDir,
    replication,
    secret,
    clusterId: args.values.get('--cluster-id'),
    ...(snapshotEntries === undefined ? {} : { raft: { snapshotEntries } }),
    log: (level, event, fields) => {
      if (levels.indexOf(level as (typeof levels)[number]) < minLevel) return;
      process.stderr.write(`${JSON.stringify({ t: new Date().toISOString(), level, event, ...fields })}\n`);
    },
    onFatal: (error) => {
      if (exiting) return;
      exiting = true;
      console.error(`raftbox node ${id}: ${error instanceof Error ? error.message : String(error)}`);
      process.exit(1);
    },
  });
  console.log(`node ${id} of cluster ${node.clusterId} listening on ${node.url} (data ${resolve(dataDir)})`);
  await new Promise<void>((done) => {
    const stop = (): void => {
      if (exiting) return;
      exiting = true;
      void node.stop().then(done);
    };
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
  });
  return 0;
}

// Tests set it to force snapshots (and InstallSnapshot to a node that fell behind) after a few writes.
function snapshotEntriesFromEnv(text: string | undefined): number | undefined {
  if (text === undefined || text === '') return undefined;
  const entries = Number(text);
  if (!Number.isSafeInteger(entries) || entries < 1) throw new UsageError(`RAFTBOX_SNAPSHOT_ENTRIES must be a whole number of log entries of at least 1, got "${text}".`);
  return entries;
}

const shim = fileURLToPath(new URL('./raftbox.js', import.meta.url));
const webRoot = fileURLToPath(new URL('../../dist/web/', import.meta.url));

/** `raftbox cluster …`: N child node processes on loopback; Ctrl-C (or SIGTERM) stops them all. */
export async function clusterCommand(argv: string[]): Promise<number> {
  const args = parseArgs(argv, ['--nodes', '--base-port', '--http-port', '--data', '--replication', '--log-level'], []);
  if (args.positionals.length > 0) throw new UsageError(`cluster takes no positional arguments, got "${args.positionals[0]}".`);
  const count = integerFlag(args, '--nodes', 3, 1, 16);
  const basePort = integerFlag(args, '--base-port', 7001, 1, 65535 - count);
  const httpPort = integerFlag(args, '--http-port', 8080, 0, 65535);
  const data = args.values.get('--data') ?? '.raftbox';
  const replication = integerFlag(args, '--replication', 3, 1, 64);
  const ids = Array.from({ length: count }, (_, i) => `n${i + 1}`);
  const address = (i: number): string => `127.0.0.1:${basePort + i}`;
  const children: ChildProcess[] = [];
  let stopping = false;
  const exited = ids.map((id, i) => {
    const peers = ids.map((peer, j) => `${peer}=${address(j)}`).filter((_, j) => j !== i).join(',');
    const child = spawn(process.execPath, [shim, 'node', '--id', id, '--listen', address(i), '--peers', peers, '--data', join(data, id), '--replication', String(replication), '--log-level', args.values.get('--log-level') ?? 'warn'], { stdio: ['ignore', 'inherit', 'inherit'] });
    children.push(child);
    return new Promise<number>((done) => child.once('exit', (code) => {
      if (!stopping) console.error(`raftbox cluster: node ${id} exited with status ${code}; the others keep running.`);
      done(code ?? 1);
    }));
  });
  const web = createServer((request, response) => serveStatic(request.url ?? '/', response));
  await new Promise<void>((done, fail) => web.once('error', fail).listen(httpPort, '127.0.0.1', done));
  const servers = ids.map((_, i) => `ws://${address(i)}`).join(',');
  console.log(`cluster of ${count} nodes: ${servers}`);
  console.log(`web client: http://127.0.0.1:${httpPort}/`);
  console.log(`try: RAFTBOX_SERVER=${servers} npx raftbox status   (Ctrl-C stops the cluster)`);
  await new Promise<void>((done) => {
    const stop = (): void => {
      if (stopping) return;
      stopping = true;
      for (const child of children) child.kill('SIGTERM');
      web.close();
      void Promise.all(exited).then(() => done());
    };
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
    void Promise.all(exited).then(() => stop());
  });
  return 0;
}

const contentTypes: Record<string, string> = { '.html': 'text/html', '.js': 'text/javascript', '.css': 'text/css', '.json': 'application/json', '.svg': 'image/svg+xml', '.png': 'image/png', '.webmanifest': 'application/manifest+json', '.wasm': 'application/wasm' };

function serveStatic(url: string, response: import('node:http').ServerResponse): void {
  const pathname = decodeURIComponent(url.split('?')[0] ?? '/');
  const relative = pathname === '/' ? 'index.html' : pathname.replace(/^\/+/, '');
  const file = resolve(webRoot, relative);
  if (!file.startsWith(webRoot) || !existsSync(file)) {
    const built = existsSync(join(webRoot, 'index.html'));
    response.writeHead(404, { 'content-type': 'text/plain' });
    response.end(built ? 'not found\n' : 'the web client is not built yet: run npm run build\n');
    return;
  }
  response.writeHead(200, { 'content-type': contentTypes[extname(file)] ?? 'application/octet-stream' });
  response.end(readFileSync(file));
}
