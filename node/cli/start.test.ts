// Process test of `npm start`: the local cluster comes up from a fresh data folder, every
// node answers /metrics (Prometheus text) and /healthz, the dashboard's API reports a
// leader, Ctrl-C (SIGINT to the process group, as a terminal sends it) stops every process
// it started, a second start on the same folder resumes where the first left off, and the
// terminal reports a node that dies and the leader that follows.

import { spawn } from 'node:child_process';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { DashboardState } from '../../protocol/dashboard-feed.ts';
import { deriveClusterId } from '../host/node.ts';
import { freePortRange, shim, startLocalCluster, stopGroup, type Started } from './cluster-test-support.ts';

async function waitFor<T>(what: string, probe: () => Promise<T | null>, timeoutMs = 15_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let lastError = '';
  while (Date.now() < deadline) {
    try {
      const value = await probe();
      if (value !== null) return value;
    } catch (error) {
      lastError = error instanceof Error ? error.message : String(error);
    }
    await sleep(100);
  }
  throw new Error(`timed out waiting for ${what} ${lastError}`);
}

function sleep(ms: number): Promise<void> {
  return new Promise((done) => setTimeout(done, ms));
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/**
 * The dashboard's state once it shows a leader that has committed past `commitAfter`. A
 * leader is reported as soon as it is elected, but the commit index (learned, not stored)
 * only moves once its first entry of the term is committed, a moment later.
 */
async function leaderState(httpUrl: string, commitAfter: number): Promise<DashboardState> {
  return waitFor(`a leader on the dashboard that committed past index ${commitAfter}`, async () => {
    const state = (await (await fetch(`${httpUrl}/api/state`)).json()) as DashboardState;
    if (state.leader === null || !state.nodes.every((n) => n.stats !== null)) return null;
    return highestCommit(state) > commitAfter ? state : null;
  });
}

function highestCommit(state: DashboardState): number {
  return Math.max(...state.nodes.map((n) => n.stats!.commitIndex));
}

const data = mkdtempSync(join(tmpdir(), 'raftbox-start-'));
let running: Started | null = null;
let firstCommit = 0;
let firstTerm = 0;
let clusterId = '';
let basePort = 0;

// The pids whose command line contains `text`.
function processesMentioning(text: string): number[] {
  const pids: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      if (readFileSync(`/proc/${entry}/cmdline`, 'utf8').includes(text)) pids.push(Number(entry));
    } catch {
      // It exited meanwhile.
    }
  }
  return pids;
}

function storedClusterIds(folder: string): string[] {
  return ['n1', 'n2', 'n3'].map((id) => (JSON.parse(readFileSync(join(folder, id, 'node.json'), 'utf8')) as { clusterId: string }).clusterId);
}

test.after(() => {
  if (running) stopGroup(running.child, 'SIGKILL');
  rmSync(data, { recursive: true, force: true });
});

test('npm start comes up and every node answers /metrics and /healthz', async () => {
  running = await startLocalCluster(data, await freePortRange(3), 'npm');
  assert.is(running.nodeUrls.length, 3);
  // Once a leader is elected every node has exchanged Raft messages with its peers.
  const state = await leaderState(running.httpUrl, 0);
  for (const [i, url] of running.nodeUrls.entries()) {
    const health = await waitFor(`/healthz of n${i + 1}`, async () => {
      const response = await fetch(`${url}/healthz`);
      return response.ok ? ((await response.json()) as { ok: boolean; node: string }) : null;
    });
    assert.equal(health.ok, true);
    assert.is(health.node, `n${i + 1}`);
    const metrics = await fetch(`${url}/metrics`);
    assert.is(metrics.status, 200);
    assert.match(metrics.headers.get('content-type') ?? '', /^text\/plain/);
    const text = await metrics.text();
    assert.match(text, /# TYPE raftbox_raft_term gauge/);
    assert.match(text, new RegExp(`raftbox_raft_commit_index\\{node="n${i + 1}"\\} \\d+`));
    assert.match(text, /raftbox_blocks_under_replicated\{node="n\d"\} 0/);
    assert.match(text, /raftbox_peer_messages_sent_total\{type="[a-zA-Z]+",node="n\d"\} \d+/);
  }
  firstTerm = state.term;
  firstCommit = highestCommit(state);
  // A fresh folder gets a cluster id of its own, not one derived from the names n1-n3
  // that every local cluster shares.
  const ids = storedClusterIds(data);
  assert.is(new Set(ids).size, 1);
  assert.match(ids[0]!, /^rbx-[0-9a-f]{16}$/);
  assert.is.not(ids[0], deriveClusterId(['n1', 'n2', 'n3']));
  clusterId = ids[0]!;
  const servers = (await (await fetch(`${running.httpUrl}/servers.json`)).json()) as { servers: string[] };
  assert.equal(servers.servers, running.nodeUrls.map((url) => url.replace('http://', 'ws://')));
  const page = await fetch(`${running.httpUrl}/dashboard.html`);
  assert.is(page.status, 200);
  assert.match(await page.text(), /Raftbox cluster/);
});

test('Ctrl-C stops every process it started', async () => {
  const state = (await (await fetch(`${running!.httpUrl}/api/state`)).json()) as DashboardState;
  const pids = state.nodes.map((n) => n.pid!);
  assert.is(pids.filter((pid) => pid !== null && alive(pid)).length, 3);
  const exited = new Promise<void>((done) => running!.child.once('exit', () => done()));
  stopGroup(running!.child, 'SIGINT');
  await exited;
  await waitFor('every node process to exit', async () => (pids.some(alive) ? null : true), 10_000);
  running = null;
});

test('a second start on the same data folder resumes', async () => {
  basePort = await freePortRange(3);
  running = await startLocalCluster(data, basePort, 'npm');
  // Waits for the log to continue past where the first run left it, or times out.
  const state = await leaderState(running.httpUrl, firstCommit);
  assert.ok(state.term > firstTerm, `the term moved on from ${firstTerm} (now ${state.term}), so it was recovered, not reset`);
  assert.equal(storedClusterIds(data), [clusterId, clusterId, clusterId]);
});

test('a second cluster on ports in use says which port, and leaves nothing running', async () => {
  const other = mkdtempSync(join(tmpdir(), 'raftbox-start-other-'));
  try {
    const second = spawn(process.execPath, [shim, 'cluster', '--data', other, '--base-port', String(basePort), '--http-port', '0'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    second.stdout!.on('data', (chunk: Buffer) => (output += chunk.toString()));
    second.stderr!.on('data', (chunk: Buffer) => (output += chunk.toString()));
    const status = await new Promise<number | null>((done) => second.once('exit', (code) => done(code)));
    assert.is.not(status, 0, output);
    const ports = [basePort, basePort + 1, basePort + 2].join('|');
    assert.match(output, new RegExp(`127\\.0\\.0\\.1:(${ports}) is already in use by another process \\(another node\\?\\); stop it or pass another --listen port`));
    // None of its nodes is left behind, and the running cluster still has all of its own.
    assert.equal(processesMentioning(other), [], 'no process runs on the second data folder');
    const state = (await (await fetch(`${running!.httpUrl}/api/state`)).json()) as DashboardState;
    assert.ok(state.nodes.every((n) => n.pid !== null && alive(n.pid)), JSON.stringify(state.nodes.map((n) => n.pid)));
  } finally {
    rmSync(other, { recursive: true, force: true });
  }
});

test('the terminal says when a node dies and who leads', async () => {
  const state = (await (await fetch(`${running!.httpUrl}/api/state`)).json()) as DashboardState;
  const victim = state.nodes.find((n) => n.id === state.leader)!;
  process.kill(victim.pid!, 'SIGKILL');
  const line = new RegExp(`^\\[\\d{2}:\\d{2}:\\d{2}Z\\] ${victim.id} exited unexpectedly \\(SIGKILL\\); the others keep running`, 'm');
  await waitFor(`a line saying ${victim.id} died`, async () => (line.test(running!.output()) ? true : null));
  // The survivors elect a new leader, which the terminal names too.
  await waitFor('a line naming the new leader', async () => (/^\[\d{2}:\d{2}:\d{2}Z\] n\d leads term \d+/m.test(running!.output().split(line)[1] ?? '') ? true : null));
  stopGroup(running!.child, 'SIGINT');
  await new Promise<void>((done) => (running!.child.exitCode !== null ? done() : running!.child.once('exit', () => done())));
  running = null;
});

test.run();
