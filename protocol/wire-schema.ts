// Valibot schemas of every frame in wire.ts, and the decoders built on them. A node
// decodes what a client or peer sends through these, and a client decodes what a node
// sends through them too (a buggy or hostile server must not crash or mislead it), so no
// code past this file acts on an unchecked value.
//
// As in codec.ts: unknown fields are dropped rather than refused (a newer build may add
// optional fields during a rolling upgrade), counts are non-negative safe integers,
// strings are bounded in UTF-8 bytes, and binary fields are copied out of the frame. An
// optional field may also arrive as msgpack nil (other encoders write an absent value
// that way); it decodes as undefined, the same as a missing field.

import * as v from 'valibot';
import { raftMessageSchema } from './codec.ts';
import { isErrorCode, raftboxError, type ErrorCode } from './errors.ts';
import { decodeWith, encodeFrame } from './frame.ts';
import { binary, binaryView, count, flag, text, variant } from './schema-helpers.ts';
import { clusterNodesMax, frameBytesMax, nodeIdBytesMax } from './limits.ts';
import { pathBytesMax } from './paths.ts';
import { virtualNodesMax } from './ring.ts';
import type {
  BlockPeerMessage, BlockRef, ClientToNode, ClusterMap, ClusterStatus, ErrorFrame, FileChange, FileInfo, HelloFrame,
  NodeHeartbeatMessage, NodeStatus, NodeToClient, PeerEnvelope, PeerMessage, PushFrame, PushMessage, Request, RequestFrame, RequestMessage,
  RequestOp, ResponseFrame, ResponseMessage, Results, VectorClock, WelcomeFrame, WireError,
} from './wire.ts';

// ------------------------------------------------------------------ limits

const mebibyte = 1024 * 1024;

/**
 * Longest path or prefix a frame may carry, in UTF-8 bytes. Twice the path rule's
 * `pathBytesMax`, so a path of 4097..8192 bytes still reaches the path rules (paths.ts)
 * and is refused there with the precise `bad_path` error rather than a generic one here.
 */
export const pathFieldBytesMax = 2 * pathBytesMax;

/** Most hashes one `blocks.has` request may ask about (and one answer may list as missing). */
export const hashesPerHasMax = 4096;

/** Most blocks in one `blocks.put-many` request or `block.replicate` message; the frame size bounds their bytes. */
export const blocksPerPutMax = 256;

/** Most file changes in one `commit` request. */
export const changesPerCommitMax = 10_000;

/** Most block references in one file change, file version or `blocks.register`; the frame size bounds it too. */
export const blocksPerChangeMax = 100_000;

/** Largest block, in bytes: the maximum chunk FastCDC cuts. */
export const blockBytesMax = 4 * mebibyte;

/** Most devices in one vector clock. */
export const clockEntriesMax = 1024;

/** Longest device id, client id or cluster id, in UTF-8 bytes. */
export const identifierBytesMax = 256;

/** Longest bearer token, in UTF-8 bytes. */
export const tokenBytesMax = 256;

/** Longest namespace name, in UTF-8 bytes. */
export const namespaceBytesMax = 256;

/** Longest actor address (`n1/client/7`) or node URL, in UTF-8 bytes. */
export const addressBytesMax = 256;

/** Longest error message, in UTF-8 bytes; room for a sentence quoting a path of `pathFieldBytesMax`. */
export const errorMessageBytesMax = 16 * 1024;

// ------------------------------------------------------------------ building blocks

// Milliseconds since the epoch may be negative (a file dated before 1970) but are whole.
const epochMs = v.pipe(v.number('must be a number'), v.safeInteger('must be a safe integer (milliseconds since the epoch)'));

function list<const TItem extends v.GenericSchema>(item: TItem, itemsMax: number, what: string) {
  return v.pipe(v.array(item, `must be an array of ${what}`), v.maxLength(itemsMax, `must hold at most ${itemsMax} ${what}`));
}

// Absent, or nil from an encoder that writes absent values that way: both decode as undefined.
function optional<const TSchema extends v.GenericSchema>(schema: TSchema) {
  return v.optional(v.pipe(v.nullable(schema), v.transform((value) => value ?? undefined)));
}

function struct<const TEntries extends v.ObjectEntries>(entries: TEntries) {
  return v.object(entries, 'must be a map');
}

const path = text(pathFieldBytesMax, 0);
const nodeId = text(nodeIdBytesMax);
const nodeIds = list(nodeId, clusterNodesMax, 'node ids');
const identifier = text(identifierBytesMax);
const namespace = text(namespaceBytesMax);
const address = text(addressBytesMax);
const hash = v.pipe(v.string('must be a string'), v.regex(/^[0-9a-f]{64}$/, 'must be 64 lowercase hex characters (a SHA-256)'));

// ------------------------------------------------------------------ shared records
// Each exported `xSchema` checks the wire.ts type of the same name (proved at the end).

export const blockRefSchema = struct({
  hash,
  size: v.pipe(count, v.maxValue(blockBytesMax, `must be at most ${blockBytesMax} bytes`)),
});
const blockRefs = list(blockRefSchema, blocksPerChangeMax, 'blocks');

export const vectorClockSchema = v.pipe(
  v.record(identifier, count, 'must be a map of device id to counter'),
  v.maxEntries(clockEntriesMax, `must name at most ${clockEntriesMax} devices`),
);

export const fileChangeSchema = struct({
  path,
  ifVersion: optional(count),
  deleted: flag,
  blocks: blockRefs,
  size: count,
  mtime: epochMs,
  mode: count,
  clock: optional(vectorClockSchema),
});

export const fileInfoSchema = struct({
  path,
  version: count,
  size: count,
  mtime: epochMs,
  mode: count,
  deleted: flag,
  device: identifier,
  clock: vectorClockSchema,
  blocks: blockRefs,
  index: count,
});
const fileInfos = v.array(fileInfoSchema, 'must be an array of file versions');

export const clusterMapSchema = struct({
  clusterId: identifier,
  nodes: list(struct({ id: nodeId, url: address }), clusterNodesMax, 'nodes'),
  leader: v.nullable(nodeId),
  replication: v.pipe(count, v.maxValue(clusterNodesMax, `must be at most ${clusterNodesMax}`)),
  virtualNodes: v.pipe(count, v.maxValue(virtualNodesMax, `must be at most ${virtualNodesMax}`)),
});

export const nodeStatusSchema = struct({
  id: nodeId,
  url: address,
  role: v.picklist(['leader', 'follower', 'candidate', 'learner', 'down'], 'must be one of leader, follower, candidate, learner, down'),
  term: count,
  commitIndex: count,
  appliedIndex: count,
  blocks: count,
  bytes: count,
});

export const clusterStatusSchema = struct({
  leader: v.nullable(nodeId),
  term: count,
  nodes: list(nodeStatusSchema, clusterNodesMax, 'nodes'),
  replication: struct({ factor: count, blocks: count, underReplicated: count, epoch: optional(count) }),
});

export const wireErrorSchema = struct({
  code: v.custom<ErrorCode>(isErrorCode, 'must be a known error code'),
  message: text(errorMessageBytesMax, 0),
  details: optional(v.record(v.string(), v.unknown(), 'must be a map')),
});

// ------------------------------------------------------------------ requests

const blockUploads = list(struct({ hash, data: binaryView(blockBytesMax) }), blocksPerPutMax, 'blocks');

const requestOps = [
  struct({ op: v.literal('stat'), namespace: optional(namespace), path, version: optional(count) }),
  struct({ op: v.literal('list'), namespace: optional(namespace), prefix: path, includeDeleted: optional(flag), after: optional(path), limit: optional(count) }),
  struct({ op: v.literal('history'), namespace: optional(namespace), path }),
  struct({ op: v.literal('changes'), namespace: optional(namespace), cursor: count, limit: optional(count) }),
  struct({
    op: v.literal('commit'),
    namespace: optional(namespace),
    client: identifier,
    seq: count,
    device: identifier,
    changes: list(fileChangeSchema, changesPerCommitMax, 'changes'),
  }),
  struct({ op: v.literal('watch'), namespace: optional(namespace), cursor: optional(count) }),
  struct({ op: v.literal('unwatch') }),
  struct({ op: v.literal('status') }),
  struct({ op: v.literal('cluster') }),
  struct({ op: v.literal('node.info') }),
  struct({ op: v.literal('blocks.has'), hashes: list(hash, hashesPerHasMax, 'hashes') }),
  struct({ op: v.literal('blocks.put'), hash, data: binary(blockBytesMax) }),
  struct({ op: v.literal('blocks.put-many'), blocks: blockUploads }),
  struct({ op: v.literal('blocks.get'), hash }),
  struct({
    op: v.literal('blocks.register'),
    client: identifier,
    seq: count,
    blocks: list(struct({ ...blockRefSchema.entries, owners: nodeIds }), blocksPerChangeMax, 'blocks'),
  }),
  struct({ op: v.literal('admin.scrub'), node: nodeId }),
  struct({ op: v.literal('admin.gc') }),
  struct({
    op: v.literal('blocks.release'),
    client: identifier,
    seq: count,
    blocks: list(struct({ ...blockRefSchema.entries, owners: nodeIds }), blocksPerChangeMax, 'blocks'),
  }),
  struct({ op: v.literal('node.join'), node: nodeId, url: address, voter: flag }),
  struct({ op: v.literal('admin.remove-node'), node: nodeId }),
] as const;

const opNames = requestOps.map((option) => option.entries.op.literal).join(', ');

// A variant's message names the discriminator that did not match: `type`, or `op` of a
// request, or `ok` of a response, so the sentence lists what that field accepts.
function discriminatorMessage(accepted: Record<string, string>) {
  return (issue: v.BaseIssue<unknown>): string => {
    const key = issue.path?.[issue.path.length - 1]?.key;
    return `must be one of ${accepted[String(key)] ?? Object.values(accepted)[0]}`;
  };
}

export const requestSchema = variant('op', requestOps, discriminatorMessage({ op: opNames }));

type WithEntries<THead extends v.ObjectEntries, TOptions extends readonly v.ObjectSchema<v.ObjectEntries, string>[]> = {
  [K in keyof TOptions]: v.ObjectSchema<THead & TOptions[K]['entries'], string>;
};

// The request frame is a request with `type` and `id` beside its fields, so each option
// gets those two entries added. The cast restates what the spread does; the `Same` checks
// at the end of this file prove the resulting output type is RequestFrame.
function withEntries<const THead extends v.ObjectEntries, const TOptions extends readonly v.ObjectSchema<v.ObjectEntries, string>[]>(
  head: THead,
  options: TOptions,
): WithEntries<THead, TOptions> {
  return options.map((option) => struct({ ...head, ...option.entries })) as unknown as WithEntries<THead, TOptions>;
}

export const requestFrameSchema = variant(
  'op',
  withEntries({ type: v.literal('request'), id: count }, requestOps),
  discriminatorMessage({ op: opNames }),
);

// ------------------------------------------------------------------ frames

export const helloFrameSchema = struct({
  type: v.literal('hello'),
  // Any number passes here, so a node can answer another version with `unsupported_version`.
  protocol: count,
  role: v.picklist(['client', 'peer'], 'must be one of client, peer'),
  clusterId: optional(identifier),
  from: optional(nodeId),
  to: optional(nodeId),
  token: optional(text(tokenBytesMax, 0)),
  device: optional(identifier),
});

export const welcomeFrameSchema = struct({
  type: v.literal('welcome'),
  protocol: count,
  clusterId: identifier,
  node: nodeId,
  map: clusterMapSchema,
});

export const responseFrameSchema = variant(
  'ok',
  [
    struct({ type: v.literal('response'), id: count, ok: v.literal(true), result: v.unknown() }),
    struct({ type: v.literal('response'), id: count, ok: v.literal(false), error: wireErrorSchema }),
  ],
  discriminatorMessage({ ok: 'true, false' }),
);

export const pushFrameSchema = struct({ type: v.literal('push'), cursor: count, changes: fileInfos });

export const errorFrameSchema = struct({ type: v.literal('error'), error: wireErrorSchema });

export const clientToNodeSchema = variant(
  'type',
  [helloFrameSchema, requestFrameSchema],
  discriminatorMessage({ type: 'hello, request', op: opNames }),
);

export const nodeToClientSchema = variant(
  'type',
  [welcomeFrameSchema, responseFrameSchema, pushFrameSchema, errorFrameSchema],
  discriminatorMessage({ type: 'welcome, response, push, error', ok: 'true, false' }),
);

// ------------------------------------------------------------------ inside the cluster

export const requestMessageSchema = struct({
  type: v.literal('request'),
  from: address,
  id: count,
  request: requestSchema,
  hops: count,
});

export const responseMessageSchema = responseFrameSchema;

export const pushMessageSchema = pushFrameSchema;

const blockPeerOptions = [
  struct({ type: v.literal('block.replicate'), from: address, id: count, blocks: blockUploads }),
  struct({ type: v.literal('block.replicated'), from: address, id: count, outcomes: list(struct({ ok: flag, error: optional(wireErrorSchema) }), blocksPerPutMax, 'outcomes') }),
  struct({ type: v.literal('block.fetch'), from: address, id: count, hash }),
  struct({ type: v.literal('block.fetched'), from: address, id: count, data: v.nullable(binary(blockBytesMax)) }),
  struct({ type: v.literal('block.confirm'), from: address, id: count, hash, epoch: count }),
  struct({ type: v.literal('block.confirmed'), from: address, id: count, ok: flag }),
] as const;

export const blockPeerMessageSchema = variant(
  'type',
  blockPeerOptions,
  discriminatorMessage({ type: 'block.replicate, block.replicated, block.fetch, block.fetched, block.confirm, block.confirmed' }),
);

const peerTypes = [
  ...raftMessageSchema.options.map((option) => option.entries.type.literal),
  'request', 'response', 'push',
  ...blockPeerOptions.map((option) => option.entries.type.literal),
  'node.heartbeat',
].join(', ');

export const nodeHeartbeatMessageSchema = struct({ type: v.literal('node.heartbeat'), node: nodeId });

export const peerMessageSchema = variant(
  'type',
  [raftMessageSchema, requestMessageSchema, responseMessageSchema, pushMessageSchema, blockPeerMessageSchema, nodeHeartbeatMessageSchema],
  discriminatorMessage({ type: peerTypes, ok: 'true, false' }),
);

export const peerEnvelopeSchema = struct({ to: address, message: peerMessageSchema });

// ------------------------------------------------------------------ results

/** The schema of each operation's result, for checking the `result` of a successful response. */
export const resultSchemas = {
  stat: v.nullable(fileInfoSchema),
  list: struct({ files: fileInfos, more: optional(flag) }),
  history: struct({ versions: fileInfos }),
  changes: struct({ changes: fileInfos, cursor: count, reset: flag }),
  commit: struct({ files: fileInfos }),
  watch: struct({ cursor: count }),
  unwatch: struct({}),
  status: clusterStatusSchema,
  cluster: clusterMapSchema,
  'node.info': nodeStatusSchema,
  'blocks.has': struct({ missing: list(hash, hashesPerHasMax, 'hashes') }),
  'blocks.put': struct({ replicas: count }),
  'blocks.put-many': struct({ outcomes: list(v.union([struct({ replicas: count }), struct({ error: wireErrorSchema })], 'must be a count of replicas or an error'), blocksPerPutMax, 'outcomes') }),
  'blocks.get': struct({ data: binary(blockBytesMax) }),
  'blocks.register': struct({ registered: count }),
  'admin.scrub': struct({ checked: count, corrupt: count, repaired: count, missing: count }),
  'admin.gc': struct({ deletedBlocks: count, freedBytes: count }),
  'blocks.release': struct({ released: count }),
  'node.join': struct({ clusterId: identifier, initialMembers: nodeIds }),
  'admin.remove-node': struct({ node: nodeId, drainedBlocks: count }),
} as const;

// ------------------------------------------------------------------ functions

/**
 * Encodes any wire frame (a client frame, a node frame or a peer envelope) as one msgpack
 * frame: `encodeFrame`, typed to the frames this file checks.
 */
export function encodeWire(value: ClientToNode | NodeToClient | PeerEnvelope, bytesMax = frameBytesMax): Uint8Array {
  return encodeFrame(value, bytesMax);
}

/**
 * Decodes what a node accepts on a client connection: a `hello` or a `request` frame.
 * Throws `RaftboxError` only: `frame_too_large`, `bad_frame`, or `bad_message` naming the
 * first offending field (its dot path is also in `details.field`).
 */
export function decodeClientFrame(bytes: Uint8Array): ClientToNode {
  return decodeWith(clientToNodeSchema, bytes, 'Client frame');
}

/**
 * Decodes what a client accepts from a node: `welcome`, `response`, `push` or `error`.
 * A response's `result` is still unchecked; pass it to `checkResult` with the operation
 * the request asked for. Throws like `decodeClientFrame`.
 */
export function decodeNodeFrame(bytes: Uint8Array): NodeToClient {
  return decodeWith(nodeToClientSchema, bytes, 'Node frame');
}

/**
 * Decodes one frame between nodes: a message for the actor at address `to`. Raft
 * messages are checked as strictly as `decodeRaftMessage` does. Throws like
 * `decodeClientFrame`. `bytesMax` is raised only for an envelope the transport
 * reassembled from fragments (node/host/peer-fragments.ts).
 */
export function decodePeerEnvelope(bytes: Uint8Array, bytesMax = frameBytesMax): PeerEnvelope {
  return decodeWith(peerEnvelopeSchema, bytes, 'Peer frame', bytesMax);
}

/**
 * Checks the `result` of a successful response against the result type of `op` and
 * returns it typed (byte arrays copied). Throws `bad_message` naming the first offending
 * field, for example "Result of 'list' field 'files.0.version' must be a number, got null."
 */
export function checkResult<const TOp extends RequestOp>(op: TOp, result: unknown): Results[TOp] {
  const parsed = v.safeParse(resultSchemas[op], result, { abortEarly: true });
  if (parsed.success) return parsed.output as Results[TOp];
  const issue = parsed.issues[0];
  const field = v.getDotPath(issue);
  const subject = field === null ? `Result of '${op}'` : `Result of '${op}' field '${field}'`;
  const missing = issue.type === 'object' && issue.input === undefined && field !== null;
  throw raftboxError('bad_message', missing ? `${subject} is missing.` : `${subject} ${issue.message}.`, { field });
}

// ------------------------------------------------------------------ type proofs

// Compile-time proof that the schemas and wire.ts describe the same values: adding a field
// to one and not the other stops this file compiling. Optional fields come out of valibot
// as `x?: T | undefined`, which equals wire.ts's `x?: T` while exactOptionalPropertyTypes
// is off (tsconfig.json); turning it on would make these checks fail for that reason only.
type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;
type Out<TSchema extends v.GenericSchema> = v.InferOutput<TSchema>;
// One `false` among the per-operation checks makes the union `boolean`, which `true` would satisfy.
type ResultsMatch = false extends { [K in RequestOp]: Same<Out<(typeof resultSchemas)[K]>, Results[K]> }[RequestOp] ? false : true;

const typeProofs: [
  Same<Out<typeof blockRefSchema>, BlockRef>,
  Same<Out<typeof vectorClockSchema>, VectorClock>,
  Same<Out<typeof fileChangeSchema>, FileChange>,
  Same<Out<typeof fileInfoSchema>, FileInfo>,
  Same<Out<typeof clusterMapSchema>, ClusterMap>,
  Same<Out<typeof nodeStatusSchema>, NodeStatus>,
  Same<Out<typeof clusterStatusSchema>, ClusterStatus>,
  Same<Out<typeof wireErrorSchema>, WireError>,
  Same<Out<typeof requestSchema>, Request>,
  Same<Out<typeof helloFrameSchema>, HelloFrame>,
  Same<Out<typeof welcomeFrameSchema>, WelcomeFrame>,
  Same<Out<typeof requestFrameSchema>, RequestFrame>,
  Same<Out<typeof responseFrameSchema>, ResponseFrame>,
  Same<Out<typeof pushFrameSchema>, PushFrame>,
  Same<Out<typeof errorFrameSchema>, ErrorFrame>,
  Same<Out<typeof clientToNodeSchema>, ClientToNode>,
  Same<Out<typeof nodeToClientSchema>, NodeToClient>,
  Same<Out<typeof requestMessageSchema>, RequestMessage>,
  Same<Out<typeof responseMessageSchema>, ResponseMessage>,
  Same<Out<typeof pushMessageSchema>, PushMessage>,
  Same<Out<typeof blockPeerMessageSchema>, BlockPeerMessage>,
  Same<Out<typeof nodeHeartbeatMessageSchema>, NodeHeartbeatMessage>,
  Same<Out<typeof peerMessageSchema>, PeerMessage>,
  Same<Out<typeof peerEnvelopeSchema>, PeerEnvelope>,
  ResultsMatch,
] = [true, true, true, true, true, true, true, true, true, true, true, true, true, true, true, true, true, true, true, true, true, true, true, true, true];
void typeProofs;
