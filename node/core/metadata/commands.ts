// The commands the metadata state machine applies from the Raft log, and the one check
// every command passes: the service runs it before proposing (so a bad request fails
// fast), and every replica runs it again on apply (so a bad entry, whoever wrote it, is
// refused the same way everywhere instead of crashing or diverging the replicas).

import { Decoder, Encoder } from '@msgpack/msgpack';
import { utf8LongerThan } from '../../../protocol/bytes.ts';
import { raftboxError, type RaftboxError } from '../../../protocol/errors.ts';
import { clusterNodesMax, nodeIdBytesMax } from '../../../protocol/limits.ts';
import { normalizePath } from '../../../protocol/paths.ts';
import type { BlockHash, BlockRef, FileChange, FileInfo, VectorClock, WireError } from '../../../protocol/wire.ts';
import type { NodeId } from '../../../protocol/raft-messages.ts';

/** Write the changes of one client commit to one namespace, all or none. */
export interface CommitCommand {
  kind: 'commit';
  namespace: string;
  client: string;
  seq: number;
  device: string;
  changes: FileChange[];
  /**
   * The path rules the commit is judged by. 1: a path is a file or a folder, never both
   * (every commit proposed by this build). Absent: a commit logged before that rule, which
   * replays as it was first applied, so a log written by an older build rebuilds the same
   * state on every replica.
   */
  pathRules?: 1;
}

export interface RegisteredBlock {
  hash: BlockHash;
  size: number;
  owners: NodeId[];
}

/** Record that blocks are stored, and on which nodes; a commit may only name registered blocks. */
export interface RegisterCommand {
  kind: 'register';
  client: string;
  seq: number;
  blocks: RegisteredBlock[];
  /** The proposing leader's clock: garbage collection spares a block for its grace period from here. */
  atMs?: number;
}

/**
 * A change of the placement ring, proposed by the leader's failure detector: a node that
 * stopped heartbeating is `down`, one heard from again is `up`. Every replica applies it
 * at the same index, so every node agrees on the live nodes and the ring epoch.
 */
export interface NodeCommand {
  kind: 'node';
  client: string;
  seq: number;
  node: NodeId;
  change: 'down' | 'up';
}

/**
 * One garbage-collection pass: every registered block that no retained version refers
 * to and that was last registered at least `graceMs` before `nowMs` (the proposing
 * leader's clock, carried in the entry so every replica decides alike) is forgotten.
 */
export interface GcCommand {
  kind: 'gc';
  client: string;
  seq: number;
  nowMs: number;
  graceMs: number;
}

/**
 * Owners giving up copies: each listed owner leaves the block's owners, once the block's
 * current owners confirmed they hold it. The last owner of a block is never removed.
 */
export interface ReleaseCommand {
  kind: 'release';
  client: string;
  seq: number;
  blocks: RegisteredBlock[];
}

/**
 * A change of ring membership, proposed by the leader for an operator: `join` adds a node
 * (with the URL peers and clients reach it at, and whether it wants a vote), `leave`
 * stops placing blocks on it so repair drains it, `forget` removes it once drained.
 */
export interface MemberCommand {
  kind: 'member';
  client: string;
  seq: number;
  node: NodeId;
  change: 'join' | 'leave' | 'forget';
  url?: string;
  voter?: boolean;
}

export type MetadataCommand = CommitCommand | RegisterCommand | NodeCommand | GcCommand | ReleaseCommand | MemberCommand;

/** What applying a command returns: the result for the client, or the error it is refused with. */
export type ApplyResult =
  | { ok: true; result: { files: FileInfo[] } | { registered: number } | { epoch: number } | { deletedBlocks: number; freedBytes: number } | { released: number } }
  | { ok: false; error: WireError };

/** Named maxima of one command. Each bounds the work and memory one log entry can cause. */
export const commandLimits = {
  /** Files changed by one commit. */
  changesPerCommitMax: 1000,
  /** Blocks named by one register command. */
  blocksPerRegisterMax: 10_000,
  /** Longest namespace, client id or device id, in UTF-8 bytes. */
  idBytesMax: 256,
  /** Devices in one vector clock. */
  clockDevicesMax: 1024,
  /** Largest block (FastCDC's maximum chunk). */
  blockBytesMax: 4 * 1024 * 1024,
} as const;

const hashPattern = /^[0-9a-f]{64}$/;

// One of each for every command: msgpack's encode() and decode() build a new Encoder or
// Decoder (and the Encoder a fresh buffer) per call, which cost the leader about 5 µs a
// write. Neither is re-entered: nothing here runs while a command is being coded.
const encoder = new Encoder();
const decoder = new Decoder();

/** Encodes a command as a log entry's data (msgpack). */
export function encodeCommand(command: MetadataCommand): Uint8Array {
  return encoder.encode(command);
}

/** Decodes and checks a log entry's data; throws `bad_message` (or `bad_path`) when it is not a valid command. */
export function decodeCommand(data: Uint8Array): MetadataCommand {
  let value: unknown;
  try {
    value = decoder.decode(data);
  } catch (error) {
    throw raftboxError('bad_message', `the command is not valid msgpack: ${(error as Error).message}`);
  }
  return checkCommand(value);
}

/**
 * Checks everything about a command that does not depend on the state: types, id and
 * count limits, paths already normalized, no path twice in one commit, a file's size
 * equal to the sum of its blocks. Returns a clean copy holding only the known fields;
 * throws a `RaftboxError` naming the first problem.
 */
export function checkCommand(value: unknown): MetadataCommand {
  const command = record(value, 'command');
  const client = id(command.client, 'client');
  const seq = integer(command.seq, 'seq', 1);
  if (command.kind === 'commit') {
    const namespace = id(command.namespace, 'namespace');
    const device = id(command.device, 'device');
    const changes = list(command.changes, 'changes', 1, commandLimits.changesPerCommitMax).map((change, i) => checkChange(change, `changes[${i}]`));
    const paths = new Set<string>();
    for (const change of changes) {
      if (paths.has(change.path)) throw raftboxError('bad_message', `a commit may change each path once, but ${JSON.stringify(change.path)} appears twice`);
      paths.add(change.path);
    }
    if (command.pathRules === undefined || command.pathRules === null) return { kind: 'commit', namespace, client, seq, device, changes };
    if (command.pathRules !== 1) throw raftboxError('bad_message', `a commit's pathRules must be 1, got ${JSON.stringify(command.pathRules)}`);
    return { kind: 'commit', namespace, client, seq, device, changes, pathRules: 1 };
  }
  if (command.kind === 'register') {
    const blocks = list(command.blocks, 'blocks', 1, commandLimits.blocksPerRegisterMax).map((block, i) => checkRegisteredBlock(block, `blocks[${i}]`));
    if (command.atMs === undefined || command.atMs === null) return { kind: 'register', client, seq, blocks };
    return { kind: 'register', client, seq, blocks, atMs: integer(command.atMs, 'atMs', 0) };
  }
  if (command.kind === 'node') {
    const node = nodeId(command.node, 'node');
    if (command.change !== 'down' && command.change !== 'up') throw raftboxError('bad_message', `a node change must be 'down' or 'up', got ${JSON.stringify(command.change)}`);
    return { kind: 'node', client, seq, node, change: command.change };
  }
  if (command.kind === 'gc') {
    return { kind: 'gc', client, seq, nowMs: integer(command.nowMs, 'nowMs', 0), graceMs: integer(command.graceMs, 'graceMs', 0) };
  }
  if (command.kind === 'release') {
    const blocks = list(command.blocks, 'blocks', 1, commandLimits.blocksPerRegisterMax).map((block, i) => checkRegisteredBlock(block, `blocks[${i}]`));
    return { kind: 'release', client, seq, blocks };
  }
  if (command.kind === 'member') return checkMemberCommand(command, client, seq);
  throw raftboxError('bad_message', `command kind must be 'commit', 'register', 'node', 'gc', 'release' or 'member', got ${JSON.stringify(command.kind)}`);
}

function checkMemberCommand(command: Record<string, unknown>, client: string, seq: number): MemberCommand {
  const node = nodeId(command.node, 'node');
  const change = command.change;
  if (change === 'leave' || change === 'forget') return { kind: 'member', client, seq, node, change };
  if (change !== 'join') throw raftboxError('bad_message', `a member change must be 'join', 'leave' or 'forget', got ${JSON.stringify(change)}`);
  if (typeof command.url !== 'string' || !/^wss?:\/\/[^\s]{1,250}$/.test(command.url)) throw raftboxError('bad_message', `a joining node needs the ws:// URL it listens at, got ${JSON.stringify(command.url)}`);
  return { kind: 'member', client, seq, node, change, url: command.url, voter: command.voter !== false };
}

/** Checks a namespace name (the same rule as client and device ids) and returns it; throws `bad_message`. */
export function checkNamespace(value: unknown): string {
  return id(value, 'namespace');
}

/** The wire form of a `RaftboxError`, without undefined fields (they would not survive msgpack). */
export function toWireError(error: RaftboxError): WireError {
  return error.details === undefined ? { code: error.code, message: error.message } : { code: error.code, message: error.message, details: { ...error.details } };
}

function checkChange(value: unknown, where: string): FileChange {
  const change = record(value, where);
  const path = normalizePath(change.path as string);
  if (path !== change.path) throw raftboxError('bad_path', `${where}.path must be in Unicode NFC form (${JSON.stringify(path)}), got ${JSON.stringify(change.path)}`);
  if (typeof change.deleted !== 'boolean') throw raftboxError('bad_message', `${where}.deleted must be true or false`);
  const blocks = list(change.blocks ?? [], `${where}.blocks`, 0, Number.MAX_SAFE_INTEGER).map((block, i) => checkBlockRef(block, `${where}.blocks[${i}]`));
  const size = integer(change.size ?? 0, `${where}.size`, 0);
  const sum = blocks.reduce((total, block) => total + block.size, 0);
  if (!change.deleted && size !== sum) throw raftboxError('bad_message', `${where}.size is ${size} but its blocks add up to ${sum} bytes; they must be equal`);
  const mtime = change.mtime;
  if (typeof mtime !== 'number' || !Number.isFinite(mtime)) throw raftboxError('bad_message', `${where}.mtime must be a number of milliseconds`);
  const mode = integer(change.mode, `${where}.mode`, 0);
  const out: FileChange = change.deleted ? { path, deleted: true, blocks: [], size: 0, mtime, mode } : { path, deleted: false, blocks, size, mtime, mode };
  if (change.ifVersion !== undefined && change.ifVersion !== null) out.ifVersion = integer(change.ifVersion, `${where}.ifVersion`, 0);
  if (change.clock !== undefined && change.clock !== null) out.clock = checkClock(change.clock, `${where}.clock`);
  return out;
}

function checkBlockRef(value: unknown, where: string): BlockRef {
  const block = record(value, where);
  if (typeof block.hash !== 'string' || !hashPattern.test(block.hash)) throw raftboxError('bad_message', `${where}.hash must be 64 lowercase hex digits (SHA-256), got ${JSON.stringify(block.hash)}`);
  const size = integer(block.size, `${where}.size`, 0);
  if (size > commandLimits.blockBytesMax) throw raftboxError('bad_message', `${where}.size must be at most ${commandLimits.blockBytesMax} bytes, got ${size}`);
  return { hash: block.hash, size };
}

function checkRegisteredBlock(value: unknown, where: string): RegisteredBlock {
  const ref = checkBlockRef(value, where);
  const owners = list((value as Record<string, unknown>).owners, `${where}.owners`, 1, clusterNodesMax).map((owner, i) => nodeId(owner, `${where}.owners[${i}]`));
  return { ...ref, owners: [...new Set(owners)] };
}

function nodeId(value: unknown, where: string): NodeId {
  if (typeof value !== 'string' || value === '' || utf8LongerThan(value, nodeIdBytesMax)) throw raftboxError('bad_message', `${where} must be a node id`);
  return value;
}

function checkClock(value: unknown, where: string): VectorClock {
  const clock = record(value, where);
  const entries = Object.entries(clock);
  if (entries.length > commandLimits.clockDevicesMax) throw raftboxError('bad_message', `${where} may name at most ${commandLimits.clockDevicesMax} devices, got ${entries.length}`);
  for (const [device, count] of entries) {
    id(device, `${where} device`);
    integer(count, `${where}[${JSON.stringify(device)}]`, 0);
  }
  return Object.fromEntries(entries) as VectorClock;
}

function record(value: unknown, where: string): Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw raftboxError('bad_message', `${where} must be an object`);
  return value as Record<string, unknown>;
}

function list(value: unknown, where: string, min: number, max: number): unknown[] {
  if (!Array.isArray(value)) throw raftboxError('bad_message', `${where} must be a list`);
  if (value.length < min || value.length > max) throw raftboxError('bad_message', `${where} must hold ${min} to ${max} items, got ${value.length}`);
  return value;
}

function integer(value: unknown, where: string, min: number): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < min) throw raftboxError('bad_message', `${where} must be an integer of at least ${min}, got ${JSON.stringify(value)}`);
  return value;
}

// Ids become map keys and msgpack keys: `__proto__` is refused because msgpack refuses it.
function id(value: unknown, where: string): string {
  if (typeof value !== 'string' || value === '' || value === '__proto__') throw raftboxError('bad_message', `${where} must be a non-empty string, got ${JSON.stringify(value)}`);
  if (utf8LongerThan(value, commandLimits.idBytesMax)) throw raftboxError('bad_message', `${where} must be at most ${commandLimits.idBytesMax} UTF-8 bytes`);
  if (/[\u0000-\u001f\u007f]/.test(value)) throw raftboxError('bad_message', `${where} must not contain control characters, got ${JSON.stringify(value)}`);
  return value;
}
