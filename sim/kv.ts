import type { Entry } from '../protocol/raft-messages.ts';
import type { RaftActor, RaftFailure, StateMachine } from '../node/core/raft/raft-actor.ts';
import { SessionTable } from '../node/core/raft/sessions.ts';

// The replicated key/value register the simulator drives until the metadata store
// exists: reads, blind writes and compare-and-set, with client sessions for exactly-once.

export type KvInput = { kind: 'read'; key: string } | { kind: 'write'; key: string; value: string } | { kind: 'cas'; key: string; expected: string | null; value: string };
export type KvOutput = { value: string | null } | { ok: boolean };

export interface KvRequest {
  type: 'kv.request';
  client: string;
  /** Session sequence number; retries of one command reuse it. Reads carry 0. */
  seq: number;
  /** Distinguishes attempts, so a late answer to an abandoned attempt is ignored. */
  attempt: number;
  input: KvInput;
}

export type KvResponse =
  | { type: 'kv.response'; attempt: number; ok: true; output: KvOutput }
  | { type: 'kv.response'; attempt: number; ok: false; failure: RaftFailure | { code: 'stale'; message: string; leader: null } };

interface KvCommand {
  client: string;
  seq: number;
  input: Exclude<KvInput, { kind: 'read' }>;
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();
const sessionsMax = 1024;
const restoreKeysPerStep = 1;

export class KvStateMachine implements StateMachine {
  values = new Map<string, string>();
  sessions = new SessionTable<KvOutput>(sessionsMax);
  /** Every applied entry, folded into one number: equal digests mean equal histories. */
  digest = 0;
  appliedIndex = 0;
  /** Hook for checkers: each command as it is applied. */
  onApply: ((entry: Entry, command: KvCommand) => void) | null = null;

  apply(entry: Entry): unknown {
    const command = JSON.parse(decoder.decode(entry.data)) as KvCommand;
    this.digest = fold(this.digest, entry.index, entry.data);
    this.appliedIndex = entry.index;
    this.onApply?.(entry, command);
    const check = this.sessions.check(command.client, command.seq);
    if (check.kind === 'duplicate') return check.result;
    if (check.kind === 'stale') return null;
    const output = this.execute(command.input);
    this.sessions.record(command.client, command.seq, output, entry.index);
    return output;
  }

  read(key: string): KvOutput {
    return { value: this.values.get(key) ?? null };
  }

  beginSnapshot(): () => Uint8Array {
    const data = encoder.encode(JSON.stringify({ values: [...this.values], sessions: this.sessions.toJSON(), digest: this.digest, appliedIndex: this.appliedIndex }));
    return () => data;
  }

  // Installed a slice of keys per step, as a large state would be, so the simulator runs
  // Raft's stepwise install (the old state standing until the last step) under faults.
  beginRestore(data: Uint8Array): () => boolean {
    const state = JSON.parse(decoder.decode(data)) as { values: [string, string][]; sessions: [string, number, KvOutput, number][]; digest: number; appliedIndex: number };
    const values = new Map<string, string>();
    let next = 0;
    return () => {
      for (const end = Math.min(next + restoreKeysPerStep, state.values.length); next < end; next++) values.set(...state.values[next]!);
      if (next < state.values.length) return false;
      this.values = values;
      this.sessions = SessionTable.fromJSON(state.sessions, sessionsMax);
      this.digest = state.digest;
      this.appliedIndex = state.appliedIndex;
      return true;
    };
  }

  private execute(input: KvCommand['input']): KvOutput {
    if (input.kind === 'write') {
      this.values.set(input.key, input.value);
      return { ok: true };
    }
    const current = this.values.get(input.key) ?? null;
    if (current !== input.expected) return { ok: false };
    this.values.set(input.key, input.value);
    return { ok: true };
  }
}

/** The client-facing side of a KV node: answers reads through ReadIndex and writes through the log. */
export function kvService(stateMachine: KvStateMachine) {
  return (message: unknown, raft: RaftActor): void => {
    const request = message as KvRequest;
    if (request.type !== 'kv.request') return;
    const reply = (response: KvResponse): void => raft.reply(request.client, response);
    const fail = (failure: RaftFailure): void => reply({ type: 'kv.response', attempt: request.attempt, ok: false, failure });
    if (request.input.kind === 'read') {
      const key = request.input.key;
      raft.read((outcome) => (outcome.ok ? reply({ type: 'kv.response', attempt: request.attempt, ok: true, output: stateMachine.read(key) }) : fail(outcome.failure)));
      return;
    }
    const command: KvCommand = { client: request.client, seq: request.seq, input: request.input };
    raft.propose(encoder.encode(JSON.stringify(command)), (outcome) => {
      if (!outcome.ok) return fail(outcome.failure);
      if (outcome.result === null) return reply({ type: 'kv.response', attempt: request.attempt, ok: false, failure: { code: 'stale', message: 'a newer command of this client was applied first', leader: null } });
      reply({ type: 'kv.response', attempt: request.attempt, ok: true, output: outcome.result as KvOutput });
    });
  };
}

function fold(digest: number, index: number, data: Uint8Array): number {
  let h = Math.imul(digest ^ index, 0x01000193);
  for (let i = 0; i < data.length; i++) h = Math.imul(h ^ data[i]!, 0x01000193);
  return h >>> 0;
}
