// Records one simulator run as a replay the browser can scrub through with a time slider:
// frames of every node's Raft state (role, term, vote, commit, log tail), the messages
// between nodes with their send and arrival times, the notable events of the trace, and
// each checker's verdict. The recorder only watches: it wraps the network's send and the
// cluster's delivery to note what passes, and samples after mailbox drains, so the run is
// the very run `npm run sim -- --seed S --scenario NAME` makes. Isomorphic: it runs in a
// Web Worker.

import type { SimCluster } from './cluster.ts';
import { runSeed } from './run.ts';
import { defaultSimOptions, type SimOptions, type SimResult } from './types.ts';

/** One node at one instant. `logTerms[i]` is the term of the entry at `logStart + i`. */
export interface ReplayNode {
  id: string;
  up: boolean;
  role: 'leader' | 'follower' | 'candidate' | 'preCandidate' | 'down';
  term: number;
  vote: string | null;
  commitIndex: number;
  appliedIndex: number;
  lastIndex: number;
  snapshotIndex: number;
  logStart: number;
  logTerms: number[];
}

export interface ReplayFrame {
  atMs: number;
  leader: string | null;
  nodes: ReplayNode[];
}

/** A message between two nodes; `arriveMs` is null when it was lost (a cut link, loss, a crash). */
export interface ReplayMessage {
  from: string;
  to: string;
  type: string;
  sentMs: number;
  arriveMs: number | null;
}

export interface ReplayEvent {
  atMs: number;
  node: string;
  event: string;
  detail: string;
}

export interface CheckerVerdict {
  checker: string;
  ok: boolean;
  message: string;
}

export interface Replay {
  seed: number;
  scenario: string | null;
  nodes: string[];
  durationMs: number;
  frames: ReplayFrame[];
  messages: ReplayMessage[];
  /** True when the run sent more messages than the replay keeps. */
  messagesTruncated: boolean;
  events: ReplayEvent[];
  verdicts: CheckerVerdict[];
  result: Omit<SimResult, 'trace'>;
}

/** Replay limits: a run past them keeps its first part, and says so. */
export const replayFramesMax = 20_000;
export const replayMessagesMax = 150_000;
export const replayEventsMax = 5_000;
/** Entries of each log a frame keeps, counted back from the last. */
export const replayLogTailMax = 24;
/** Simulated ms between frames; drains closer together than this share a frame. */
const frameIntervalMs = 5;

/** Checkers every run has, whether or not they failed; scenario checkers are added when they report. */
export const standardCheckers = ['election-safety', 'state-machine-safety', 'leader-completeness', 'log-matching', 'persistence', 'liveness', 'convergence', 'acknowledged-writes', 'linearizability'];

/** Trace events worth a line in the replay's event list. */
const notableEvents = /^(node\.(start|crash)|fault\.|raft\.role|member\.|transfer|raft\.snapshotRestored)/;

/** Runs one seed (a scenario's or the random fault schedule) and records its replay. */
export function recordReplay(request: { seed: number; scenario: string | null; nodes?: number; durationMs?: number }): Replay {
  const options: SimOptions = { ...defaultSimOptions, seed: request.seed, scenario: request.scenario, trace: true, nodes: request.nodes ?? defaultSimOptions.nodes, durationMs: request.durationMs ?? defaultSimOptions.durationMs };
  const recorder = new ReplayRecorder();
  const result = runSeed(options, (cluster) => recorder.attach(cluster));
  recorder.finish();
  const { trace, ...rest } = result;
  return {
    seed: request.seed,
    scenario: request.scenario,
    nodes: recorder.nodeIds(),
    durationMs: result.simulatedMs,
    frames: recorder.frames,
    messages: recorder.messages,
    messagesTruncated: recorder.messagesTruncated,
    events: parseEvents(trace ?? []),
    verdicts: verdictsOf(result),
    result: rest,
  };
}

/** One verdict per standard checker, plus any other checker that reported a failure. */
export function verdictsOf(result: Pick<SimResult, 'failures'>): CheckerVerdict[] {
  const names = [...standardCheckers, ...result.failures.map((f) => f.checker).filter((c) => !standardCheckers.includes(c))];
  return [...new Set(names)].map((checker) => {
    const failure = result.failures.find((f) => f.checker === checker);
    return failure ? { checker, ok: false, message: failure.message } : { checker, ok: true, message: 'held' };
  });
}

class ReplayRecorder {
  readonly frames: ReplayFrame[] = [];
  readonly messages: ReplayMessage[] = [];
  messagesTruncated = false;
  private cluster: SimCluster | null = null;
  /** Messages sent and not yet delivered, by object: the network hands over the very object sent. */
  private pending = new Map<object, number[]>();
  private lastFrameMs = -Infinity;

  attach(cluster: SimCluster): void {
    this.cluster = cluster;
    const network = cluster.network;
    const send = network.send.bind(network);
    network.send = (from, to, message) => {
      this.onSend(from, to, message);
      send(from, to, message);
    };
    // SimCluster delivers through its `route`; wrapping it notes each arrival.
    const routed = cluster as unknown as { route: (from: string, to: string, message: unknown) => void };
    const route = routed.route.bind(cluster);
    routed.route = (from, to, message) => {
      this.onArrive(to, message);
      route(from, to, message);
    };
    cluster.drainListeners.push(() => this.sample(false));
  }

  nodeIds(): string[] {
    return this.cluster?.nodes.map((n) => n.id) ?? [];
  }

  finish(): void {
    this.sample(true);
  }

  private isNode(address: string): boolean {
    return this.cluster!.nodes.some((n) => n.id === address);
  }

  private onSend(from: string, to: string, message: unknown): void {
    if (typeof message !== 'object' || message === null || !this.isNode(from) || !this.isNode(to)) return;
    if (this.messages.length >= replayMessagesMax) {
      this.messagesTruncated = true;
      return;
    }
    const type = String((message as { type?: unknown }).type ?? 'message');
    this.messages.push({ from, to, type, sentMs: this.cluster!.queue.now, arriveMs: null });
    const waiting = this.pending.get(message);
    if (waiting) waiting.push(this.messages.length - 1);
    else this.pending.set(message, [this.messages.length - 1]);
  }

  private onArrive(to: string, message: unknown): void {
    if (typeof message !== 'object' || message === null) return;
    const waiting = this.pending.get(message);
    if (!waiting) return;
    const at = waiting.findIndex((index) => this.messages[index]!.to === to);
    if (at === -1) return;
    const [index] = waiting.splice(at, 1);
    if (waiting.length === 0) this.pending.delete(message);
    this.messages[index!]!.arriveMs = this.cluster!.queue.now;
  }

  private sample(force: boolean): void {
    const cluster = this.cluster!;
    const now = cluster.queue.now;
    if (!force && now - this.lastFrameMs < frameIntervalMs) return;
    if (this.frames.length >= replayFramesMax) return;
    this.lastFrameMs = now;
    const nodes = cluster.nodes.map((node): ReplayNode => {
      const raft = node.up ? node.actor?.raft : undefined;
      if (!raft) return { id: node.id, up: false, role: 'down', term: 0, vote: null, commitIndex: 0, appliedIndex: 0, lastIndex: 0, snapshotIndex: 0, logStart: 1, logTerms: [] };
      const last = raft.log.lastIndex();
      const logStart = Math.max(raft.log.firstIndex(), last - replayLogTailMax + 1, 1);
      const logTerms: number[] = [];
      for (let index = logStart; index <= last; index++) logTerms.push(raft.log.term(index) ?? 0);
      return { id: node.id, up: true, role: raft.role, term: raft.term, vote: raft.vote, commitIndex: raft.log.committed, appliedIndex: raft.log.applied, lastIndex: last, snapshotIndex: raft.log.snapshot.index, logStart, logTerms };
    });
    this.frames.push({ atMs: now, leader: cluster.leader()?.id ?? null, nodes });
  }
}

/** Turns trace lines (`12.345 n1 event {json}`) into events, keeping the notable ones. */
export function parseEvents(trace: string[]): ReplayEvent[] {
  const events: ReplayEvent[] = [];
  for (const line of trace) {
    const match = /^(\d+(?:\.\d+)?) (\S+) (\S+)(?: (.*))?$/.exec(line);
    if (!match || !notableEvents.test(match[3]!)) continue;
    events.push({ atMs: Number(match[1]), node: match[2]!, event: match[3]!, detail: match[4] ?? '' });
    if (events.length >= replayEventsMax) break;
  }
  return events;
}
