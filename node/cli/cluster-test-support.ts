// Test support for process and browser tests of `raftbox cluster` / `npm start`: free
// port ranges, starting the command in its own process group, and stopping that group
// the way Ctrl-C in a terminal does.

import { spawn, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../../', import.meta.url));
/** The raftbox command, to run with node. */
export const shim = fileURLToPath(new URL('./raftbox.js', import.meta.url));
const readyTimeoutMs = 60_000;

export interface Started {
  child: ChildProcess;
  httpUrl: string;
  nodeUrls: string[];
  output: () => string;
}

/** `count` consecutive ports that are free right now, as `raftbox cluster --base-port` needs. */
export async function freePortRange(count: number): Promise<number> {
  for (let attempt = 0; attempt < 50; attempt++) {
    const base = 20_000 + Math.floor(Math.random() * 30_000);
    const ok = await Promise.all(Array.from({ length: count }, (_, i) => portIsFree(base + i)));
    if (ok.every(Boolean)) return base;
  }
  throw new Error(`found no ${count} consecutive free ports`);
}

function portIsFree(port: number): Promise<boolean> {
  return new Promise((done) => {
    const server = createServer();
    server.once('error', () => done(false));
    server.listen(port, '127.0.0.1', () => server.close(() => done(true)));
  });
}

/**
 * Runs `npm start` (or `raftbox cluster` directly) with the given data folder and ports,
 * in a process group of its own; resolves once it printed its URLs.
 */
export async function startLocalCluster(data: string, basePort: number, via: 'npm' | 'raftbox'): Promise<Started> {
  const flags = ['--data', data, '--base-port', String(basePort), '--http-port', '0'];
  const [command, args] = via === 'npm' ? ['npm', ['start', '--silent', '--', ...flags]] : [process.execPath, [shim, 'cluster', ...flags]];
  const child = spawn(command, args, { cwd: root, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout!.on('data', (chunk: Buffer) => (output = (output + chunk.toString()).slice(-200_000)));
  child.stderr!.on('data', (chunk: Buffer) => (output = (output + chunk.toString()).slice(-200_000)));
  const deadline = Date.now() + readyTimeoutMs;
  while (Date.now() < deadline) {
    const match = /dashboard: (http:\/\/127\.0\.0\.1:\d+)\//.exec(output);
    if (match) {
      const nodes = /cluster of \d+ nodes: (\S+)/.exec(output)![1]!.split(',');
      return { child, httpUrl: match[1]!, nodeUrls: nodes.map((url) => url.replace('ws://', 'http://')), output: () => output };
    }
    if (child.exitCode !== null) break;
    await new Promise((done) => setTimeout(done, 100));
  }
  stopGroup(child, 'SIGKILL');
  throw new Error(`the local cluster (${via}) did not come up:\n${output}`);
}

/** Sends `signal` to the whole process group, as Ctrl-C in a terminal does. */
export function stopGroup(child: ChildProcess, signal: NodeJS.Signals): void {
  try {
    process.kill(-child.pid!, signal);
  } catch {
    // Already gone.
  }
}

