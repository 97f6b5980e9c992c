import type { RaftBug } from '../node/core/raft/raft.ts';
import type { NetworkConditions } from './sim-network.ts';

/** Which faults a run may inject; each is chosen from the seed. */
export interface FaultOptions {
  crash: boolean;
  partition: boolean;
  loss: boolean;
  duplicate: boolean;
  reorder: boolean;
  /** Unsynced tails lost on crash may be torn or corrupted; the CRC must catch them. */
  diskTear: boolean;
  flapping: boolean;
}

export interface SimOptions {
  seed: number;
  nodes: number;
  clients: number;
  /** Simulated milliseconds of workload with faults on. */
  durationMs: number;
  /** Simulated milliseconds after faults stop in which a leader and progress must appear. */
  livenessMs: number;
  faults: FaultOptions;
  /** A named scenario from the library; it replaces the random fault schedule. */
  scenario: string | null;
  /** Keep a line-per-event trace (costs time). */
  trace: boolean;
  /** Test-only: a deliberately wrong Raft, which the checkers must catch. */
  bug?: RaftBug;
  /** Snapshot every this many applied entries (small values exercise InstallSnapshot). */
  snapshotEntries: number;
  /** Network conditions from the start (random faults may change them later; healing resets them). */
  network?: Partial<NetworkConditions>;
}

export interface CheckFailure {
  checker: string;
  message: string;
}

export interface SimResult {
  seed: number;
  ok: boolean;
  failures: CheckFailure[];
  simulatedMs: number;
  events: number;
  /** Client operations completed (acknowledged), and how many timed out. */
  operations: number;
  timedOut: number;
  /** One line per event when `trace` was on; identical for identical options. */
  trace: string[] | null;
  /** The command that replays this run. */
  replay: string;
}

export const allFaults: FaultOptions = { crash: true, partition: true, loss: true, duplicate: true, reorder: true, diskTear: true, flapping: true };
export const noFaults: FaultOptions = { crash: false, partition: false, loss: false, duplicate: false, reorder: false, diskTear: false, flapping: false };

export const defaultSimOptions: Omit<SimOptions, 'seed'> = {
  nodes: 5,
  clients: 8,
  durationMs: 20_000,
  livenessMs: 10_000,
  faults: allFaults,
  scenario: null,
  trace: false,
  snapshotEntries: 200,
};
