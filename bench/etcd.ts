// The etcd baseline of the `meta` benchmark: a real 3-member etcd cluster on loopback,
// with fsync on as shipped, loaded with small puts through etcd's HTTP/JSON gateway by
// the same closed-loop runner that drives Raftbox, so both numbers mean the same thing.
//
//   node --import tsx bench/etcd.ts    starts a cluster, runs 1/16/64/256 clients, prints a table

import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, realpathSync, rmSync } from 'node:fs';
import { Agent, request } from 'node:http';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { closedLoop, type LoadResult } from './load.ts';
import { printTable, round } from './table.ts';

const etcdPaths = ['/usr/bin/etcd', '/usr/local/bin/etcd'];
const healthTimeoutMs = 30_000;
const stopTimeoutMs = 10_000;
// Only the end of a member's log is kept, to explain a failed start.
const logTailBytesMax = 8_192;
const valueBytes = 200;

/** A running etcd cluster made by {@link startEtcdCluster}. */
export interface EtcdCluster {
  /** Client URLs, one per member, e.g. `http://127.0.0.1:40123`. */
  endpoints: string[];
  /** Kills every member, waits for them to exit and removes their data directories. */
  stop(): Promise<void>;
}

interface Member {
  name: string;
  clientUrl: string;
  peerUrl: string;
  dataDir: string;
  child?: ChildProcess;
  exited?: Promise<void>;
  logTail: string;
}

/** The path of the etcd binary, or null when etcd is not installed. */
export function etcdInstalled(): string | null {
  return etcdPaths.find((path) => existsSync(path)) ?? null;
}

/**
 * Starts a 3-member etcd cluster on 127.0.0.1 as child processes, bootstrapped statically
 * with `--initial-cluster`, each member with its own temporary data directory and fsync
 * left on (etcd's default). Ports are free ones chosen by the kernel unless `basePort` is
 * given (then basePort.. basePort+5). Resolves once `/health` reports a leader; rejects
 * with the members' log tails if that takes longer than 30 s or a member exits. The
 * members are also killed if this process exits without calling stop().
 */
export async function startEtcdCluster(options: { nodes?: 3; basePort?: number } = {}): Promise<EtcdCluster> {
  const binary = etcdInstalled();
  if (binary === null) throw new Error('etcd is not installed; run: apt-get install -y etcd-server');
  const nodes = options.nodes ?? 3;
  const ports = options.basePort === undefined ? await freePorts(nodes * 2) : Array.from({ length: nodes * 2 }, (_, i) => options.basePort! + i);
  const members: Member[] = Array.from({ length: nodes }, (_, i) => ({
    name: `bench${i}`,
    clientUrl: `http://127.0.0.1:${ports[2 * i]}`,
    peerUrl: `http://127.0.0.1:${ports[2 * i + 1]}`,
    dataDir: mkdtempSync(join(tmpdir(), `raftbox-etcd${i}-`)),
    logTail: '',
  }));
  const initialCluster = members.map((member) => `${member.name}=${member.peerUrl}`).join(',');
  const killOnExit = (): void => {
    for (const member of members) member.child?.kill('SIGKILL');
    for (const member of members) rmSync(member.dataDir, { recursive: true, force: true });
  };
  process.on('exit', killOnExit);
  for (const member of members) launch(binary, member, initialCluster);

  let stopped = false;
  const stop = async (): Promise<void> => {
    if (stopped) return;
    stopped = true;
    for (const member of members) member.child?.kill('SIGTERM');
    const exited = Promise.all(members.map((member) => member.exited));
    const timer = setTimeout(() => members.forEach((member) => member.child?.kill('SIGKILL')), stopTimeoutMs);
    await exited;
    clearTimeout(timer);
    for (const member of members) rmSync(member.dataDir, { recursive: true, force: true });
    process.off('exit', killOnExit);
  };
  try {
    await waitHealthy(members);
  } catch (error) {
    await stop();
    throw error;
  }
  return { endpoints: members.map((member) => member.clientUrl), stop };
}

function launch(binary: string, member: Member, initialCluster: string): void {
  const args = [
    `--name=${member.name}`,
    `--data-dir=${member.dataDir}`,
    `--listen-client-urls=${member.clientUrl}`,
    `--advertise-client-urls=${member.clientUrl}`,
    `--listen-peer-urls=${member.peerUrl}`,
    `--initial-advertise-peer-urls=${member.peerUrl}`,
    `--initial-cluster=${initialCluster}`,
    '--initial-cluster-state=new',
    `--initial-cluster-token=raftbox-bench-${process.pid}`,
    '--logger=zap',
    '--log-level=warn',
  ];
  const child = spawn(binary, args, { stdio: ['ignore', 'ignore', 'pipe'] });
  child.stderr!.on('data', (chunk: Buffer) => {
    member.logTail = (member.logTail + chunk.toString()).slice(-logTailBytesMax);
  });
  member.child = child;
  member.exited = new Promise((resolve) => child.once('exit', () => resolve()));
}

async function waitHealthy(members: Member[]): Promise<void> {
  const deadline = Date.now() + healthTimeoutMs;
  let last = 'no answer yet';
  while (Date.now() < deadline) {
    const dead = members.find((member) => member.child?.exitCode !== null || member.child?.signalCode !== null);
    if (dead) throw new Error(`etcd member ${dead.name} exited during startup:\n${dead.logTail}`);
    try {
      const answers = await Promise.all(members.map((member) => fetch(`${member.clientUrl}/health`).then((response) => response.text())));
      if (answers.every((body) => (JSON.parse(body) as { health?: unknown }).health === 'true')) return;
      last = answers.join(' ');
    } catch (error) {
      last = error instanceof Error ? error.message : String(error);
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  const logs = members.map((member) => `--- ${member.name}\n${member.logTail}`).join('\n');
  throw new Error(`etcd cluster not healthy after ${healthTimeoutMs / 1000} s (last: ${last}):\n${logs}`);
}

// Ports the kernel reports free right now; a tiny race with other processes is acceptable
// for a benchmark, and etcd fails loudly (caught by waitHealthy) if one was taken.
async function freePorts(count: number): Promise<number[]> {
  const servers = Array.from({ length: count }, () => createServer());
  const ports = await Promise.all(
    servers.map(
      (server) =>
        new Promise<number>((resolve, reject) => {
          server.once('error', reject);
          server.listen(0, '127.0.0.1', () => {
            const address = server.address();
            resolve(typeof address === 'object' && address !== null ? address.port : 0);
          });
        }),
    ),
  );
  await Promise.all(servers.map((server) => new Promise((resolve) => server.close(resolve))));
  return ports;
}

/**
 * Runs `clients` closed-loop clients for `durationMs` (after `warmupMs`, default 1 s),
 * each putting 200-byte values under its own keys with POST /v3/kv/put of etcd's JSON
 * gateway over keep-alive HTTP/1.1. Client c talks to `endpoints[c % endpoints.length]`;
 * followers forward to the leader, so pass one endpoint to send everything to one member.
 * A non-200 answer counts as an error.
 */
export async function etcdPutLoad(endpoints: string[], clients: number, durationMs: number, warmupMs = 1_000): Promise<LoadResult> {
  if (endpoints.length === 0) throw new RangeError('etcdPutLoad needs at least one endpoint');
  const agent = new Agent({ keepAlive: true, maxSockets: clients, maxFreeSockets: clients });
  const value = Buffer.alloc(valueBytes, 'v').toString('base64');
  const urls = endpoints.map((endpoint) => new URL('/v3/kv/put', endpoint));
  try {
    return await closedLoop({
      clients,
      durationMs,
      warmupMs,
      operation: (client, i) => {
        const key = Buffer.from(`bench/${client}/${i}`).toString('base64');
        return postJson(agent, urls[client % urls.length]!, JSON.stringify({ key, value }));
      },
    });
  } finally {
    agent.destroy();
  }
}

function postJson(agent: Agent, url: URL, body: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const outgoing = request(
      url,
      { method: 'POST', agent, headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) } },
      (response) => {
        let text = '';
        response.setEncoding('utf8');
        response.on('data', (chunk: string) => (text += chunk));
        response.on('end', () => {
          if (response.statusCode === 200) resolve();
          else reject(new Error(`etcd put answered ${response.statusCode}: ${text.slice(0, 200)}`));
        });
        response.on('error', reject);
      },
    );
    outgoing.on('error', reject);
    outgoing.end(body);
  });
}

/** The rows printed by the direct run; exported for the `meta` benchmark's table. */
export function etcdRow(result: LoadResult): (string | number)[] {
  return [
    result.clients,
    Math.round(result.opsPerSecond),
    round(result.p50Ms, 1),
    round(result.p99Ms, 1),
    round(result.maxMs, 1),
    result.ops,
    result.errors,
  ];
}

/** The header matching {@link etcdRow}. */
export const etcdHeader = ['clients', 'puts/s', 'p50 ms', 'p99 ms', 'max ms', 'puts', 'errors'];

async function main(): Promise<void> {
  const cluster = await startEtcdCluster();
  try {
    process.stdout.write(`etcd: 3 members on loopback, fsync on, 200-byte puts via /v3/kv/put, 5 s per row after 1 s warmup\n\n`);
    const rows: (string | number)[][] = [];
    for (const clients of [1, 16, 64, 256]) {
      const result = await etcdPutLoad(cluster.endpoints, clients, 5_000);
      if (result.firstError !== null) process.stderr.write(`${clients} clients, first error: ${result.firstError}\n`);
      rows.push(etcdRow(result));
    }
    printTable(etcdHeader, rows);
  } finally {
    await cluster.stop();
  }
}

const invokedDirectly = process.argv[1] !== undefined && import.meta.url === pathToFileURL(realpathSync(process.argv[1])).href;
if (invokedDirectly) await main();
