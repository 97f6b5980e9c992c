// Linearizability checker for client histories (Wing & Gong search with Lowe's cache, the
// method of Porcupine). Pure and deterministic: no node: modules, clocks or randomness, so it
// runs unchanged in the simulator, in tests and in a browser worker.
//
// How it works
// ------------
// 1. P-compositionality: when the model has `partitionKey`, the history is split by key and
//    each partition is checked on its own (a history is linearizable iff each per-key
//    sub-history is, for models whose keys are independent objects).
// 2. Each partition becomes a doubly linked list of call and return events sorted by time
//    (calls before returns at equal times, so operations that merely touch are concurrent:
//    A precedes B in real time iff A.return < B.call, strictly).
// 3. Depth-first search: the candidates to linearize next are the operations whose call
//    event comes before the first remaining return event. Linearizing one applies the model
//    step and unlinks its events; backtracking relinks them (dancing links). A cache of
//    visited configurations (set of linearized operations, model state) prunes repeats.
//
// Indeterminate operations
// ------------------------
// An operation with `return === Infinity` or `output === undefined` is *indeterminate*: the
// client never learned the outcome, so it may have taken effect at any point after its call,
// or never. It gets no return event, so it never bounds the candidate window and is never
// required: the search succeeds as soon as every determinate operation is linearized, and it
// linearizes an indeterminate one only when that helps. To keep many indeterminate operations
// from making the search exponential:
//   - determinate candidates are tried before indeterminate ones, so cheap explanations that
//     need no indeterminate op are explored first;
//   - the cache is keyed by (linearized determinate ops, model state) and stores, per key, the
//     sets of indeterminate ops used; a configuration is pruned when a visited one with the
//     same key used a subset of them (it had at least the same options left, and failed);
//   - after a run of indeterminate ops with no determinate op in between, linearizing another
//     indeterminate op c is pruned when applying c at an earlier point of the run reaches the
//     same state (e.g. a blind write overwrites earlier timed-out writes: the run is useless).
// These prunings are sound and complete (a pruned configuration is dominated by one that is,
// or will be, explored). The search is still exponential in the worst case (checking
// linearizability is NP-complete), so it is bounded: after `stepsMax` model steps in one
// partition the checker gives up on that partition and answers `ok: 'unknown'` (unless another
// partition is definitely not linearizable, which takes precedence).

/** One client operation as recorded by the client. */
export interface Operation<I, O> {
  /** Who issued it; only used in messages. */
  client: string | number;
  input: I;
  /** Time the client invoked the operation. */
  call: number;
  /**
   * Time the client learned the outcome; Infinity when it never did (timeout): the op may or
   * may not have taken effect, at any time after `call`.
   */
  return: number;
  /** The outcome, or undefined when unknown (the op is then treated as indeterminate). */
  output: O | undefined;
}

/** A sequential specification of the object under test. */
export interface Model<S, I, O> {
  /** The initial state (of one partition). */
  init(): S;
  /**
   * Apply `input` to `state`; return [ok, next]. ok=false when `output` is impossible from
   * `state`. `output` undefined means unknown (indeterminate op): accept whatever outcome the
   * state determines. Must be deterministic and must not mutate `state`.
   */
  step(state: S, input: I, output: O | undefined): [boolean, S];
  /** A string identifying the state, for the visited cache (equal keys = equal states). */
  key(state: S): string;
  /**
   * The partition an input belongs to (e.g. the key of a key/value store). Operations of
   * different partitions must act on independent objects; each partition is checked from
   * `init()` separately. Without it the whole history is one partition named "".
   */
  partitionKey?(input: I): string;
  /** Human-readable operation, for failure messages. */
  describe?(op: Operation<I, O>): string;
}

export interface CheckOptions {
  /** Model steps allowed per partition before giving up with `ok: 'unknown'`. Default 1e6. */
  stepsMax?: number;
}

export type CheckResult<I = unknown, O = unknown> =
  | { ok: true; steps: number }
  | {
      ok: false;
      /** The partition (key) that is not linearizable. */
      partition: string;
      /** Names the partition, the longest linearizable prefix found and the ops stuck after it. */
      message: string;
      /** The longest linearizable prefix the search found, in linearization order. */
      linearized: Operation<I, O>[];
      /** The determinate ops that could not be linearized next after that prefix. */
      stuck: Operation<I, O>[];
      /** Model key of the state after the prefix. */
      state: string;
      steps: number;
    }
  | { ok: 'unknown'; partition: string; message: string; steps: number };

const DEFAULT_STEPS_MAX = 1_000_000;

/** Check that `history` is linearizable with respect to `model`. */
export function checkLinearizable<S, I, O>(
  model: Model<S, I, O>,
  history: readonly Operation<I, O>[],
  opts: CheckOptions = {},
): CheckResult<I, O> {
  const stepsMax = opts.stepsMax ?? DEFAULT_STEPS_MAX;
  for (const op of history) {
    if (!Number.isFinite(op.call)) throw new Error(`linearizability: operation with non-finite call time: ${describeOp(model, op)}`);
    if (Number.isNaN(op.return) || op.return < op.call) {
      throw new Error(`linearizability: operation returns before its call: ${describeOp(model, op)}`);
    }
  }
  const parts = new Map<string, Operation<I, O>[]>();
  for (const op of history) {
    const k = model.partitionKey ? model.partitionKey(op.input) : '';
    let list = parts.get(k);
    if (!list) parts.set(k, (list = []));
    list.push(op);
  }
  const names = [...parts.keys()].sort();
  let steps = 0;
  let unknown: CheckResult<I, O> | null = null;
  for (const name of names) {
    const r = checkPartition(model, name, parts.get(name)!, stepsMax);
    steps += r.steps;
    if (r.ok === false) return r;
    if (r.ok === 'unknown' && !unknown) unknown = r;
  }
  if (unknown) return unknown;
  return { ok: true, steps };
}

function isIndeterminate<I, O>(op: Operation<I, O>): boolean {
  return op.return === Infinity || op.output === undefined;
}

function fmtTime(t: number): string {
  return t === Infinity ? '∞' : String(t);
}

function describeOp<S, I, O>(model: Model<S, I, O>, op: Operation<I, O>): string {
  if (model.describe) return model.describe(op);
  const out = op.output === undefined ? '?' : JSON.stringify(op.output);
  return `client ${op.client}: ${JSON.stringify(op.input)} -> ${out} [${fmtTime(op.call)}, ${fmtTime(op.return)}]`;
}

function partitionLabel(name: string): string {
  return name === '' ? 'the history' : `key ${JSON.stringify(name)}`;
}

function checkPartition<S, I, O>(
  model: Model<S, I, O>,
  name: string,
  ops: Operation<I, O>[],
  stepsMax: number,
): CheckResult<I, O> {
  const n = ops.length;
  if (n === 0) return { ok: true, steps: 0 };

  const pending: boolean[] = ops.map(isIndeterminate);
  if (pending.every(Boolean)) return { ok: true, steps: 0 };

  // Events, sorted by time, calls before returns at equal times, then by op index.
  // Node 0 is the head sentinel, node E+1 the tail sentinel.
  const evs: { time: number; ret: boolean; op: number }[] = [];
  for (let i = 0; i < n; i++) {
    evs.push({ time: ops[i]!.call, ret: false, op: i });
    if (!pending[i]) evs.push({ time: ops[i]!.return, ret: true, op: i });
  }
  evs.sort((a, b) => a.time - b.time || Number(a.ret) - Number(b.ret) || a.op - b.op);

  // Index determinate ops (F bitset) and indeterminate ops (T bitset) separately, in call
  // order: the linearized set is then mostly a run of full words, which fKey compresses.
  const bitIdx = new Int32Array(n);
  let nf = 0;
  let np = 0;
  for (const ev of evs) if (!ev.ret) bitIdx[ev.op] = pending[ev.op] ? np++ : nf++;
  const E = evs.length;
  const nodeOp = new Int32Array(E + 2).fill(-1);
  const nodeRet = new Uint8Array(E + 2);
  const next = new Int32Array(E + 2);
  const prev = new Int32Array(E + 2);
  const callNode = new Int32Array(n);
  const retNode = new Int32Array(n).fill(-1);
  for (let k = 0; k < E; k++) {
    const ev = evs[k]!;
    const node = k + 1;
    nodeOp[node] = ev.op;
    nodeRet[node] = ev.ret ? 1 : 0;
    if (ev.ret) retNode[ev.op] = node;
    else callNode[ev.op] = node;
  }
  const tail = E + 1;
  for (let node = 0; node <= tail; node++) {
    next[node] = node + 1;
    prev[node] = node - 1;
  }

  const fBits = new Uint32Array((nf + 31) >>> 5);
  const tBits = new Uint32Array((np + 31) >>> 5);
  let linF = 0;

  const unlink = (node: number): void => {
    next[prev[node]!] = next[node]!;
    prev[next[node]!] = prev[node]!;
  };
  const relink = (node: number): void => {
    next[prev[node]!] = node;
    prev[next[node]!] = node;
  };
  const lift = (op: number): void => {
    unlink(callNode[op]!);
    const b = bitIdx[op]!;
    if (pending[op]) {
      tBits[b >>> 5]! |= 1 << (b & 31);
    } else {
      unlink(retNode[op]!);
      fBits[b >>> 5]! |= 1 << (b & 31);
      linF++;
    }
  };
  const unlift = (op: number): void => {
    const b = bitIdx[op]!;
    if (pending[op]) {
      tBits[b >>> 5]! &= ~(1 << (b & 31));
    } else {
      relink(retNode[op]!);
      fBits[b >>> 5]! &= ~(1 << (b & 31));
      linF--;
    }
    relink(callNode[op]!);
  };

  /** Ops that may be linearized next: determinate first, then indeterminate, each by call time. */
  const candidates = (): number[] => {
    const fin: number[] = [];
    const pen: number[] = [];
    for (let node = next[0]!; node !== tail && !nodeRet[node]; node = next[node]!) {
      const op = nodeOp[node]!;
      (pending[op] ? pen : fin).push(op);
    }
    return fin.concat(pen);
  };

  // The F bitset as a string: the count of leading full words, then the words up to the
  // last non-zero one (the bitset's length is fixed, so this is one-to-one).
  const fKey = (): string => {
    let full = 0;
    while (full < fBits.length && fBits[full] === 0xffffffff) full++;
    let end = fBits.length;
    while (end > full && fBits[end - 1] === 0) end--;
    let s = String.fromCharCode(full & 0xffff, full >>> 16);
    for (let w = full; w < end; w++) {
      const v = fBits[w]!;
      s += String.fromCharCode(v & 0xffff, v >>> 16);
    }
    return s;
  };

  // Visited cache: (F bitset, state key) -> antichain of T bitsets used to get there.
  const cache = new Map<string, Uint32Array[]>();
  /** Record the current configuration; false when it is dominated by a visited one. */
  const visit = (stateKey: string): boolean => {
    const k = fKey() + '\u0001' + stateKey;
    const list = cache.get(k);
    if (!list) {
      cache.set(k, [tBits.slice()]);
      return true;
    }
    if (np === 0) return false;
    let w = 0;
    for (let r = 0; r < list.length; r++) {
      const t = list[r]!;
      let sub = true; // t ⊆ tBits ?
      let sup = true; // tBits ⊆ t ?
      for (let i = 0; i < t.length; i++) {
        const a = t[i]!;
        const b = tBits[i]!;
        if ((a & ~b) !== 0) sub = false;
        if ((b & ~a) !== 0) sup = false;
      }
      if (sub) return false;
      if (!sup) list[w++] = t; // drop entries the new one dominates
    }
    list.length = w;
    list.push(tBits.slice());
    return true;
  };

  // Explicit DFS stack. Frame j holds the state after linearizing stOp[j] (-1 at the root).
  const stState: S[] = [];
  const stCands: number[][] = [];
  const stI: number[] = [];
  const stOp: number[] = [];

  let steps = 0;
  let bestF = -1;
  // The deepest prefix's path is copied off the stack only when the search first backs out
  // of it (or fails), not on every push: a search that succeeds never needs it.
  let bestDepth = 0;
  let bestPath: number[] | null = [];
  let bestState = '';
  let bestStuck: number[] = [];

  const push = (state: S, key: string, op: number): void => {
    const cands = candidates();
    stState.push(state);
    stCands.push(cands);
    stI.push(0);
    stOp.push(op);
    if (linF > bestF) {
      bestF = linF;
      bestDepth = stOp.length;
      bestPath = null;
      bestState = key;
      bestStuck = cands.filter((c) => !pending[c]);
    }
  };

  /**
   * True when indeterminate op `c`, linearized on top of a run of indeterminate ops ending at
   * frame `top`, could instead have been linearized earlier in that run with the same result.
   */
  const absorbed = (top: number, c: number, nextKey: string): boolean => {
    for (let j = top; j > 0 && pending[stOp[j]!]; j--) {
      steps++;
      const [ok, s] = model.step(stState[j - 1]!, ops[c]!.input, ops[c]!.output);
      if (ok && model.key(s) === nextKey) return true;
    }
    return false;
  };

  const s0 = model.init();
  const k0 = model.key(s0);
  visit(k0);
  push(s0, k0, -1);

  while (stState.length > 0) {
    const top = stState.length - 1;
    const cands = stCands[top]!;
    const i = stI[top]!;
    if (i < cands.length) {
      stI[top] = i + 1;
      const c = cands[i]!;
      if (steps >= stepsMax) {
        return {
          ok: 'unknown',
          partition: name,
          steps,
          message:
            `linearizability of ${partitionLabel(name)} (${n} ops) undecided: search exceeded ${stepsMax} steps ` +
            `(best prefix so far linearized ${bestF} of ${nf} completed ops)`,
        };
      }
      steps++;
      const [ok, nextState] = model.step(stState[top]!, ops[c]!.input, ops[c]!.output);
      if (!ok) continue;
      lift(c);
      const nextKey = model.key(nextState);
      if ((pending[c] && absorbed(top, c, nextKey)) || !visit(nextKey)) {
        unlift(c);
        continue;
      }
      if (linF === nf) return { ok: true, steps };
      push(nextState, nextKey, c);
    } else {
      if (bestPath === null) bestPath = stOp.slice(1, bestDepth);
      stState.pop();
      stCands.pop();
      stI.pop();
      const op = stOp.pop()!;
      if (op >= 0) unlift(op);
    }
  }

  const linearized = (bestPath ?? stOp.slice(1, bestDepth)).map((i) => ops[i]!);
  const stuck = bestStuck.map((i) => ops[i]!);
  const SHOW_PREFIX = 6;
  const SHOW_STUCK = 6;
  const lines: string[] = [];
  lines.push(
    `${partitionLabel(name)} is not linearizable (${n} ops, ${nf} completed). ` +
      `Longest linearizable prefix: ${bestF} completed op(s)` +
      (linearized.length > bestF ? ` plus ${linearized.length - bestF} timed-out op(s)` : '') +
      `, leaving state ${bestState}.`,
  );
  if (linearized.length > 0) {
    const shown = linearized.slice(-SHOW_PREFIX);
    lines.push(`  last linearized${linearized.length > shown.length ? ` (${shown.length} of ${linearized.length})` : ''}:`);
    for (const op of shown) lines.push(`    ${describeOp(model, op)}`);
  }
  lines.push(`  none of these could be linearized next:`);
  for (const op of stuck.slice(0, SHOW_STUCK)) lines.push(`    ${describeOp(model, op)}`);
  if (stuck.length > SHOW_STUCK) lines.push(`    ... and ${stuck.length - SHOW_STUCK} more`);
  return {
    ok: false,
    partition: name,
    message: lines.join('\n'),
    linearized,
    stuck,
    state: bestState,
    steps,
  };
}

// ---------------------------------------------------------------------------------------------
// Key/value register model

export type KvInput =
  | { kind: 'read'; key: string }
  | { kind: 'write'; key: string; value: string }
  | { kind: 'cas'; key: string; expected: string | null; value: string };

/** read -> { value }; write -> { ok: true }; cas -> { ok } (false when current ≠ expected). */
export type KvOutput = { value: string | null } | { ok: boolean };

/** State of one key (the checker partitions by key): its value, null when absent. */
export type KvState = string | null;

function fmtVal(v: string | null): string {
  return v === null ? 'null' : JSON.stringify(v);
}

/**
 * The Raft key/value register: per-key registers of strings (absent = null), partitioned by
 * key. A write with output `{ ok: false }` is taken as definitely not applied (a no-op); a
 * failed cas does not change the state.
 */
export const kvRegisterModel: Model<KvState, KvInput, KvOutput> = {
  init: () => null,
  step(state, input, output) {
    switch (input.kind) {
      case 'read':
        if (output === undefined) return [true, state];
        return ['value' in output && output.value === state, state];
      case 'write':
        if (output !== undefined && 'ok' in output && output.ok === false) return [true, state];
        return [true, input.value];
      case 'cas': {
        const matches = state === input.expected;
        if (output === undefined) return [true, matches ? input.value : state];
        if (!('ok' in output)) return [false, state];
        if (output.ok) return matches ? [true, input.value] : [false, state];
        return [!matches, state];
      }
    }
  },
  key: (state) => (state === null ? 'null' : JSON.stringify(state)),
  partitionKey: (input) => input.key,
  describe(op) {
    const i = op.input;
    const o = op.output;
    let s: string;
    switch (i.kind) {
      case 'read':
        s = `read(${JSON.stringify(i.key)}) -> ${o === undefined ? '?' : 'value' in o ? fmtVal(o.value) : JSON.stringify(o)}`;
        break;
      case 'write':
        s = `write(${JSON.stringify(i.key)}, ${fmtVal(i.value)}) -> ${o === undefined ? '?' : 'ok' in o ? (o.ok ? 'ok' : 'failed') : JSON.stringify(o)}`;
        break;
      case 'cas':
        s =
          `cas(${JSON.stringify(i.key)}, ${fmtVal(i.expected)} -> ${fmtVal(i.value)}) -> ` +
          `${o === undefined ? '?' : 'ok' in o ? (o.ok ? 'ok' : 'failed') : JSON.stringify(o)}`;
        break;
    }
    const timedOut = op.return === Infinity ? ' (timed out)' : '';
    return `client ${op.client}: ${s} [call ${fmtTime(op.call)}, return ${fmtTime(op.return)}]${timedOut}`;
  },
};
