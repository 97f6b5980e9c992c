// The supervisor behind `raftbox cluster`: it starts N node processes on loopback, knows
// each child it started, polls every node's `/stats`, turns what changed into a timeline
// (elections, leader changes, nodes down and up, repairs), and, because it started the
// nodes itself, can break them on request: kill -9 and restart a process, cut a node off
// from its peers, or slow a link (through the `--chaos` hook each node was started with).

import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { ChaosCommand, ChaosSettings, DashboardNode, DashboardState, NodeStats, TimelineEvent, TimelineKind } from '../../protocol/dashboard-feed.ts';
import { storedClusterId } from '../host/data-dir.ts';
import { chaosDelayMsMax } from '../host/peer-traffic.ts';
import { nodeProcessEnv, v8Flags } from '../host/process-settings.ts';

const shim = fileURLToPath(new URL('./raftbox.js', import.meta.url));
/** Timeline lines kept; older ones are dropped. */
export const timelineEventsMax = 500;
const pollIntervalMs = 250;
const pollTimeoutMs = 1000;
/** Polls a running node may miss before the timeline says it stopped answering. */
const missedPollsMax = 3;

export interface SupervisorOptions {
  count: number;
  basePort: number;
  data: string;
  replication: number;
  logLevel: string;
  /** Called after every poll round and every change, with the new state. */
  onState?: (state: DashboardState) => void;
  /** Called with each event as it joins the timeline (a node down, a new leader…). */
  onEvent?: (event: TimelineEvent) => void;
  /** Where the children's stdout and stderr go; inherited by default. */
  childOutput?: 'inherit' | 'ignore';
}

interface Member {
  id: string;
  port: number;
  child: ChildProcess | null;
  exited: Promise<void> | null;
  starting: boolean;
  /** Why the process is expected to end, so the timeline can say it; null when nobody asked. */
  stopReason: string | null;
  stats: NodeStats | null;
  lastSeenMs: number | null;
  missedPolls: number;
  rates: { atMs: number; sent: number; received: number; sentPerSecond: number; receivedPerSecond: number } | null;
}

/** Runs and watches the node processes of one local cluster. */
export class ClusterSupervisor {
  private readonly members: Member[];
  private readonly timeline: TimelineEvent[] = [];
  private readonly cuts = new Set<string>();
  private readonly delays = new Map<string, number>();
  private pollTimer: NodeJS.Timeout | null = null;
  private stopping = false;
  private clusterId: string | null = null;
  private seen = { leader: null as string | null, term: 0, downNodes: '', repaired: 0, underReplicated: 0 };

  constructor(private readonly options: SupervisorOptions) {
    this.members = Array.from({ length: options.count }, (_, i) => ({
      id: `n${i + 1}`, port: options.basePort + i, child: null, exited: null, starting: false, stopReason: null, stats: null, lastSeenMs: null, missedPolls: 0, rates: null,
    }));
  }

  get ids(): string[] {
    return this.members.map((m) => m.id);
  }

  /** The nodes' ws:// URLs, in id order. */
  get urls(): string[] {
    return this.members.map((m) => `ws://127.0.0.1:${m.port}`);
  }

  /** Starts every node and the polling; resolves once every node listens. */
  async start(): Promise<void> {
    this.clusterId = this.pickClusterId();
    await Promise.all(this.members.map((m) => this.spawnMember(m)));
    this.note('up', null, `cluster of ${this.members.length} nodes started`);
    this.schedulePoll();
  }

  /** Stops polling and every node (SIGTERM, then SIGKILL after `graceMs`). */
  async stop(graceMs = 5000): Promise<void> {
    this.stopping = true;
    if (this.pollTimer) clearTimeout(this.pollTimer);
    await Promise.all(this.members.map(async (m) => {
      if (!m.child) return;
      const child = m.child;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
      await m.exited;
      clearTimeout(timer);
    }));
  }

  /** The whole dashboard state now. */
  state(): DashboardState {
    const now = Date.now();
    const nodes: DashboardNode[] = this.members.map((m) => ({
      id: m.id,
      url: `ws://127.0.0.1:${m.port}`,
      httpUrl: `http://127.0.0.1:${m.port}`,
      process: m.starting ? 'starting' : m.child ? 'running' : 'stopped',
      pid: m.child?.pid ?? null,
      stats: m.child && m.missedPolls < missedPollsMax ? m.stats : null,
      lastSeenAgeMs: m.lastSeenMs === null ? null : now - m.lastSeenMs,
      sentPerSecond: m.rates?.sentPerSecond ?? 0,
      receivedPerSecond: m.rates?.receivedPerSecond ?? 0,
    }));
    const live = nodes.map((n) => n.stats).filter((s): s is NodeStats => s !== null);
    const leaderStats = this.clusterLeader(live);
    const reference = leaderStats ?? live[0] ?? null;
    return {
      leader: leaderStats?.id ?? null,
      term: Math.max(0, ...live.map((s) => s.term)),
      replication: Math.min(this.options.replication, this.members.length),
      underReplicated: reference?.underReplicated ?? 0,
      registeredBlocks: reference?.registeredBlocks ?? 0,
      nodes,
      timeline: [...this.timeline],
      chaosEnabled: true,
    };
  }

  /** Carries out one chaos command; throws a sentence when it cannot. */
  async chaos(command: ChaosCommand): Promise<void> {
    switch (command.action) {
      case 'crash':
        return this.crash(this.member(command.node));
      case 'restart':
        return this.restart(this.member(command.node));
      case 'isolate':
        return this.isolate(this.member(command.node).id);
      case 'slow':
        return this.slow(this.member(command.from).id, this.member(command.to).id, command.delayMs);
      case 'heal':
        return this.heal();
      default:
        throw new Error(`unknown chaos action ${JSON.stringify((command as { action?: unknown }).action)}; use crash, restart, isolate, slow or heal`);
    }
  }

  private member(id: unknown): Member {
    const member = this.members.find((m) => m.id === id);
    if (!member) throw new Error(`there is no node ${String(id)} in this cluster; the nodes are ${this.ids.join(', ')}`);
    return member;
  }

  private async crash(member: Member): Promise<void> {
    if (!member.child) throw new Error(`node ${member.id} is not running`);
    member.stopReason = 'crashed (kill -9) from the dashboard';
    member.child.kill('SIGKILL');
    await member.exited;
  }

  private async restart(member: Member): Promise<void> {
    if (member.child) await this.crash(member);
    this.note('chaos', member.id, `restarting ${member.id}`);
    await this.spawnMember(member);
    await this.pushChaos(member);
  }

  private async isolate(id: string): Promise<void> {
    for (const other of this.ids) {
      if (other === id) continue;
      this.cuts.add(`${id}>${other}`);
      this.cuts.add(`${other}>${id}`);
    }
    this.note('chaos', id, `${id} is cut off from its peers`);
    await this.pushChaosAll();
  }

  private async slow(from: string, to: string, delayMs: number): Promise<void> {
    if (from === to) throw new Error('a link joins two different nodes; pick two');
    if (!Number.isFinite(delayMs) || delayMs < 0 || delayMs > chaosDelayMsMax) throw new Error(`a link delay must be between 0 and ${chaosDelayMsMax} ms`);
    for (const key of [`${from}>${to}`, `${to}>${from}`]) {
      if (delayMs > 0) this.delays.set(key, delayMs);
      else this.delays.delete(key);
    }
    this.note('chaos', from, delayMs > 0 ? `link ${from}–${to} slowed by ${delayMs} ms each way` : `link ${from}–${to} back to full speed`);
    await this.pushChaosAll();
  }

  private async heal(): Promise<void> {
    this.cuts.clear();
    this.delays.clear();
    this.note('chaos', null, 'every link healed');
    await this.pushChaosAll();
  }

  private settingsOf(id: string): ChaosSettings {
    const cut = this.ids.filter((other) => this.cuts.has(`${id}>${other}`));
    const delayMs: Record<string, number> = {};
    for (const other of this.ids) {
      const delay = this.delays.get(`${id}>${other}`);
      if (delay !== undefined) delayMs[other] = delay;
    }
    return { cut, delayMs };
  }

  private async pushChaosAll(): Promise<void> {
    await Promise.all(this.members.filter((m) => m.child).map((m) => this.pushChaos(m)));
  }

  private async pushChaos(member: Member): Promise<void> {
    const response = await fetch(`http://127.0.0.1:${member.port}/chaos`, { method: 'POST', body: JSON.stringify(this.settingsOf(member.id)), signal: AbortSignal.timeout(pollTimeoutMs) });
    if (!response.ok) throw new Error(`node ${member.id} refused the fault: ${((await response.json()) as { error?: string }).error ?? response.status}`);
  }

  // The id the data folder's nodes already carry, or a new random one: two local clusters
  // on the same ports (one started while the other still runs, on another folder) must
  // not take each other's nodes as peers, as ids derived from the member names would.
  private pickClusterId(): string {
    for (const member of this.members) {
      const stored = storedClusterId(join(this.options.data, member.id));
      if (stored !== null) return stored;
    }
    return `rbx-${randomBytes(8).toString('hex')}`;
  }

  private spawnMember(member: Member): Promise<void> {
    const peers = this.members.filter((m) => m !== member).map((m) => `${m.id}=127.0.0.1:${m.port}`).join(',');
    const args = [...v8Flags, shim, 'node', '--id', member.id, '--listen', `127.0.0.1:${member.port}`, '--peers', peers, '--data', join(this.options.data, member.id), '--cluster-id', this.clusterId!, '--replication', String(this.options.replication), '--log-level', this.options.logLevel, '--chaos'];
    const child = spawn(process.execPath, args, {
      stdio: ['pipe', 'pipe', this.options.childOutput ?? 'inherit'],
      env: { ...nodeProcessEnv(process.env), RAFTBOX_EXIT_WITH_PARENT: '1' },
    });
    member.child = child;
    member.starting = true;
    member.stopReason = null;
    member.missedPolls = 0;
    member.rates = null;
    member.exited = new Promise((done) => child.once('exit', (code, signal) => {
      if (member.child === child) this.onExit(member, code, signal);
      done();
    }));
    return new Promise((done, fail) => {
      let output = '';
      child.stdout!.on('data', (chunk: Buffer) => {
        if (this.options.childOutput !== 'ignore') process.stdout.write(chunk);
        output = (output + chunk.toString()).slice(-4096);
        if (member.starting && output.includes('listening on')) {
          member.starting = false;
          done();
        }
      });
      void member.exited!.then(() => {
        if (member.starting) fail(new Error(`node ${member.id} exited before it listened; is port ${member.port} free?`));
        member.starting = false;
      });
    });
  }

  private onExit(member: Member, code: number | null, signal: NodeJS.Signals | null): void {
    member.child = null;
    member.stats = null;
    if (this.stopping) return;
    const why = member.stopReason ?? `exited unexpectedly (${signal ?? `status ${code}`}); the others keep running, and the dashboard can restart it`;
    this.note('down', member.id, `${member.id} ${why}`);
    this.publish();
  }

  private schedulePoll(): void {
    if (this.stopping) return;
    this.pollTimer = setTimeout(() => void this.pollRound().finally(() => this.schedulePoll()), pollIntervalMs);
  }

  private async pollRound(): Promise<void> {
    await Promise.all(this.members.map((m) => this.poll(m)));
    this.noticeChanges();
    this.publish();
  }

  private async poll(member: Member): Promise<void> {
    if (!member.child || member.starting) return;
    try {
      const response = await fetch(`http://127.0.0.1:${member.port}/stats`, { signal: AbortSignal.timeout(pollTimeoutMs) });
      if (!response.ok) throw new Error(`status ${response.status}`);
      const stats = (await response.json()) as NodeStats;
      this.noticeNode(member, stats);
      member.stats = stats;
      member.lastSeenMs = Date.now();
      member.missedPolls = 0;
      this.updateRates(member, stats);
    } catch {
      member.missedPolls++;
      if (member.missedPolls === missedPollsMax && member.child) this.note('down', member.id, `${member.id} stopped answering`);
    }
  }

  private noticeNode(member: Member, stats: NodeStats): void {
    const before = member.stats;
    if (before === null) this.note('up', member.id, `${member.id} is up (term ${stats.term}, applied ${stats.appliedIndex})`);
    if (stats.role === 'candidate' && before?.role !== 'candidate') this.note('election', member.id, `${member.id} started an election in term ${stats.term}`);
    const copied = stats.repair.copiedBlocks - (before?.repair.copiedBlocks ?? stats.repair.copiedBlocks);
    if (copied > 0) this.note('repair', member.id, `${member.id} re-replicated ${copied} block${copied === 1 ? '' : 's'}`);
  }

  private noticeChanges(): void {
    const live = this.members.map((m) => (m.child ? m.stats : null)).filter((s): s is NodeStats => s !== null);
    const leader = this.clusterLeader(live);
    if (leader && (leader.id !== this.seen.leader || leader.term !== this.seen.term)) {
      const from = this.seen.leader && this.seen.leader !== leader.id ? ` (was ${this.seen.leader})` : '';
      this.note('leader', leader.id, `${leader.id} leads term ${leader.term}${from}`);
      this.seen.leader = leader.id;
      this.seen.term = leader.term;
    }
    if (!leader && this.seen.leader !== null && !this.members.find((m) => m.id === this.seen.leader)?.child) {
      this.note('election', null, `no leader: ${this.seen.leader} is gone, an election is due`);
      this.seen.leader = null;
    }
    const reference = leader ?? live[0];
    if (!reference) return;
    const down = reference.downNodes.join(',');
    if (down !== this.seen.downNodes) {
      const was = new Set(this.seen.downNodes ? this.seen.downNodes.split(',') : []);
      for (const node of reference.downNodes) if (!was.has(node)) this.note('down', node, `the cluster declared ${node} down; its blocks are re-replicated`);
      for (const node of was) if (!reference.downNodes.includes(node)) this.note('up', node, `the cluster declared ${node} up again`);
      this.seen.downNodes = down;
    }
    if ((reference.underReplicated > 0) !== (this.seen.underReplicated > 0)) {
      this.note('replication', null, reference.underReplicated > 0 ? `${reference.underReplicated} blocks are under-replicated` : 'every block is fully replicated again');
    }
    this.seen.underReplicated = reference.underReplicated;
  }

  /** The node that leads in the highest term among those answering. */
  private clusterLeader(live: NodeStats[]): NodeStats | null {
    let best: NodeStats | null = null;
    for (const stats of live) if (stats.role === 'leader' && (!best || stats.term > best.term)) best = stats;
    return best;
  }

  private updateRates(member: Member, stats: NodeStats): void {
    const now = Date.now();
    const previous = member.rates;
    if (!previous || now <= previous.atMs) {
      member.rates = { atMs: now, sent: stats.messagesSent, received: stats.messagesReceived, sentPerSecond: 0, receivedPerSecond: 0 };
      return;
    }
    const seconds = (now - previous.atMs) / 1000;
    // Smoothed over about a second, so the figure does not jitter with every poll.
    const blend = (old: number, fresh: number): number => Math.round(old * 0.5 + fresh * 0.5);
    member.rates = {
      atMs: now,
      sent: stats.messagesSent,
      received: stats.messagesReceived,
      sentPerSecond: blend(previous.sentPerSecond, Math.max(0, stats.messagesSent - previous.sent) / seconds),
      receivedPerSecond: blend(previous.receivedPerSecond, Math.max(0, stats.messagesReceived - previous.received) / seconds),
    };
  }

  private note(kind: TimelineKind, node: string | null, text: string): void {
    const event = { atMs: Date.now(), kind, node, text };
    this.timeline.push(event);
    this.options.onEvent?.(event);
    if (this.timeline.length > timelineEventsMax) this.timeline.splice(0, this.timeline.length - timelineEventsMax);
  }

  private publish(): void {
    this.options.onState?.(this.state());
  }
}
