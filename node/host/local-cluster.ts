// A cluster of real node processes on loopback, for process-level tests and benchmarks:
// each node is `raftbox node` in its own child process with its own data folder, so
// kill -9, restarts and torn files behave as they would in production.

import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { nodeProcessEnv, v8Flags } from './process-settings.ts';

const shim = fileURLToPath(new URL('../cli/raftbox.js', import.meta.url));

export interface LocalClusterOptions {
  nodes?: number;
  replication?: number;
  /** Where the data folders go; a fresh temporary folder (removed by `destroy`) by default. */
  root?: string;
  logLevel?: 'debug' | 'info' | 'warn' | 'error';
  /** Extra environment for every node process. */
  env?: Record<string, string>;
  /** Extra arguments for `node` itself, such as `--cpu-prof`. */
  nodeArgs?: string[];
  /** Extra `raftbox node` flags for every node, such as `--gc-grace-ms 500`. */
  nodeFlags?: string[];
}

interface Member {
  id: string;
  port: number;
  dataDir: string;
  child: ChildProcess | null;
  exited: Promise<number | null> | null;
  output: string;
  /** For a node added with `join`: the flags that make it join instead of listing --peers. */
  joinFlags?: string[];
}

/** Waits until some node reports a leader through `client.status()`, and returns its id. */
export async function waitForLeader(client: { status(): Promise<{ leader: string | null }> }, timeoutMs = 15_000): Promise<string> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    try {
      const status = await client.status();
      if (status.leader) return status.leader;
    } catch {
      // An election is in progress, or the node asked is down; ask again.
    }
    await new Promise((done) => setTimeout(done, 100));
  }
  throw new Error(`no leader within ${timeoutMs} ms`);
}

/** Ports the OS says are free right now; good enough on a quiet loopback. */
export async function freePorts(count: number): Promise<number[]> {
  const servers = await Promise.all(
    Array.from({ length: count }, () => new Promise<import('node:net').Server>((done, fail) => {
      const server = createServer();
      server.once('error', fail).listen(0, '127.0.0.1', () => done(server));
    })),
  );
  const ports = servers.map((s) => (s.address() as import('node:net').AddressInfo).port);
  await Promise.all(servers.map((s) => new Promise((done) => s.close(done))));
  return ports;
}

export class LocalCluster {
  readonly members: Member[] = [];
  private constructor(readonly root: string, private readonly ownsRoot: boolean, private readonly options: LocalClusterOptions) {}

  /** Starts every node and resolves once each has printed that it listens. */
  static async start(options: LocalClusterOptions = {}): Promise<LocalCluster> {
    const count = options.nodes ?? 3;
    const root = options.root ?? mkdtempSync(join(tmpdir(), 'raftbox-cluster-'));
    const cluster = new LocalCluster(root, options.root === undefined, options);
    const ports = await freePorts(count);
    for (let i = 0; i < count; i++) cluster.members.push({ id: `n${i + 1}`, port: ports[i]!, dataDir: join(root, `n${i + 1}`), child: null, exited: null, output: '' });
    await Promise.all(cluster.members.map((m) => cluster.startMember(m)));
    return cluster;
  }

  get urls(): string[] {
    return this.members.map((m) => this.url(m.id));
  }

  url(id: string): string {
    return `ws://127.0.0.1:${this.member(id).port}`;
  }

  member(id: string): Member {
    const member = this.members.find((m) => m.id === id);
    if (!member) throw new Error(`no node ${id} in this cluster`);
    return member;
  }

  isRunning(id: string): boolean {
    return this.member(id).child !== null;
  }

  /** kill -9: no shutdown, no flush; whatever was not synced is gone. */
  async kill(id: string): Promise<void> {
    const member = this.member(id);
    if (!member.child) return;
    member.child.kill('SIGKILL');
    await member.exited;
  }

  /** A clean stop (SIGTERM), as Ctrl-C would do. */
  async stop(id: string): Promise<void> {
    const member = this.member(id);
    if (!member.child) return;
    member.child.kill('SIGTERM');
    await member.exited;
  }

  async restart(id: string): Promise<void> {
    await this.kill(id);
    await this.startMember(this.member(id));
  }

  /** Starts a new node `id` that joins through `via` (a member's id): `raftbox node --join`, with `--learner` when asked. */
  async join(id: string, via: string, options: { learner?: boolean } = {}): Promise<void> {
    if (this.members.some((m) => m.id === id)) throw new Error(`node ${id} is already in this cluster`);
    const [port] = await freePorts(1);
    const joinFlags = ['--join', this.url(via), ...(options.learner ? ['--learner'] : [])];
    const member: Member = { id, port: port!, dataDir: join(this.root, id), child: null, exited: null, output: '', joinFlags };
    this.members.push(member);
    await this.startMember(member);
  }

  async startNode(id: string): Promise<void> {
    const member = this.member(id);
    if (member.child) return;
    await this.startMember(member);
  }

  /** Stops every node (SIGKILL), and removes the data folders when this cluster made them. */
  async destroy(): Promise<void> {
    await Promise.all(this.members.map((m) => this.kill(m.id)));
    if (this.ownsRoot) rmSync(this.root, { recursive: true, force: true });
  }

  private startMember(member: Member): Promise<void> {
    const peers = member.joinFlags ? '' : this.members.filter((m) => m !== member && !m.joinFlags).map((m) => `${m.id}=127.0.0.1:${m.port}`).join(',');
    const args = [...v8Flags, ...(this.options.nodeArgs ?? []), shim, 'node', '--id', member.id, '--listen', `127.0.0.1:${member.port}`, ...(peers ? ['--peers', peers] : []), ...(member.joinFlags ?? []), '--data', member.dataDir, '--replication', String(this.options.replication ?? 3), '--log-level', this.options.logLevel ?? 'warn', ...(this.options.nodeFlags ?? [])];
    const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'], env: nodeProcessEnv({ ...process.env, ...this.options.env }) });
    member.child = child;
    member.output = '';
    member.exited = new Promise((done) => child.once('exit', (code) => {
      if (member.child === child) member.child = null;
      done(code);
    }));
    return new Promise((done, fail) => {
      const onData = (chunk: Buffer): void => {
        member.output = (member.output + chunk.toString()).slice(-64 * 1024);
        if (member.output.includes('listening on')) done();
      };
      child.stdout!.on('data', onData);
      child.stderr!.on('data', onData);
      void member.exited!.then((code) => fail(new Error(`node ${member.id} exited with status ${code} before listening:\n${member.output}`)));
    });
  }
}
