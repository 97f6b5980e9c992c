// Process test of `npm start`: the local cluster comes up from a fresh data folder, every
// node answers /metrics (Prometheus text) and /healthz, the dashboard's API reports a
// leader, Ctrl-C (SIGINT to the process group, as a terminal sends it) stops every process
// it started, and a second start on the same folder resumes where the first left off.

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { DashboardState } from '../../protocol/dashboard-feed.ts';
import { freePortRange, startLocalCluster, stopGroup, type Started } from './cluster-test-support.ts';

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
  running = await startLocalCluster(data, await freePortRange(3), 'npm');
  // Waits for the log to continue past where the first run left it, or times out.
  const state = await leaderState(running.httpUrl, firstCommit);
  assert.ok(state.term > firstTerm, `the term moved on from ${firstTerm} (now ${state.term}), so it was recovered, not reset`);
  stopGroup(running.child, 'SIGINT');
  await new Promise<void>((done) => (running!.child.exitCode !== null ? done() : running!.child.once('exit', () => done())));
  running = null;
});

test.run();
