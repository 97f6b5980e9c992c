// Generic binary frames: one msgpack value per frame, with a size limit checked before
// any decoding, and untrusted values checked against a valibot schema before use. The
// Raft codec (codec.ts) is built on this; the client protocol will be too, with its own
// schemas.

import { Decoder, Encoder } from '@msgpack/msgpack';
import * as v from 'valibot';
import { raftboxError } from './errors.ts';
import { frameBytesMax } from './limits.ts';

const decoder = boundedDecoder(frameBytesMax);
const encoder = new Encoder({ ignoreUndefined: true });

/**
 * Encodes `value` as one msgpack frame. Fields set to undefined are left out, exactly as
 * if absent, so an optional field never travels as nil. Throws `frame_too_large` if the
 * result exceeds `bytesMax` (`frameBytesMax` unless the transport will fragment it), so
 * the sender learns at once that the receiver would refuse it.
 */
export function encodeFrame(value: unknown, bytesMax = frameBytesMax): Uint8Array {
  // A larger limit gets its own encoder, so the shared one's buffer never grows to a snapshot's size and stays that way.
  const bytes = (bytesMax === frameBytesMax ? encoder : new Encoder({ ignoreUndefined: true })).encode(value);
  if (bytes.length > bytesMax) {
    throw raftboxError(
      'frame_too_large',
      `An encoded frame of ${bytes.length} bytes exceeds the limit of ${bytesMax} bytes; send less per message.`,
    );
  }
  return bytes;
}

/**
 * Decodes one msgpack frame from untrusted bytes into an unchecked value. Throws
 * `frame_too_large` (checked before decoding) or `bad_frame` (not exactly one valid
 * msgpack value). The result must go through a schema, as `decodeWith` does, before use.
 * `bytesMax` is raised only for a message the transport reassembled from fragments.
 */
export function decodeFrame(bytes: Uint8Array, bytesMax = frameBytesMax): unknown {
  if (bytes.length > bytesMax) {
    throw raftboxError(
      'frame_too_large',
      `A frame of ${bytes.length} bytes exceeds the limit of ${bytesMax} bytes and was refused unread.`,
    );
  }
  try {
    // A fresh decoder for a larger limit: such messages are rare, and the shared one keeps its tight bounds.
    const value = (bytesMax === frameBytesMax ? decoder : boundedDecoder(bytesMax)).decode(bytes);
    refuseIllFormedText(value, 0);
    return value;
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    throw raftboxError('bad_frame', `A frame of ${bytes.length} bytes is not valid msgpack: ${reason}.`);
  }
}

/**
 * Decodes one frame and checks it against `schema`, returning the schema's typed output.
 * Throws `frame_too_large`, `bad_frame`, or `bad_message` with a sentence naming the first
 * offending field, e.g. "Raft message field 'entries.0.term' must be a non-negative safe
 * integer, got -1." `what` names the kind of message in that sentence.
 */
export function decodeWith<const TSchema extends v.GenericSchema>(
  schema: TSchema,
  bytes: Uint8Array,
  what = 'Message',
  bytesMax = frameBytesMax,
): v.InferOutput<TSchema> {
  const result = v.safeParse(schema, decodeFrame(bytes, bytesMax), { abortEarly: true });
  if (result.success) return result.output;
  const issue = result.issues[0];
  throw raftboxError('bad_message', describeIssue(what, issue), { field: v.getDotPath(issue) });
}

// Each element, key or byte of a value takes at least one byte of the frame, so nothing
// inside a legal frame can be longer than the frame; these bounds stop a 10-byte frame
// from claiming a 4-billion-element array.
// No message of the protocol uses msgpack extension types (timestamps included). Left to
// the library, an unknown one decodes as an opaque ExtData that slips through a schema's
// `unknown` fields and cannot be re-encoded as it came, so any extension is a bad frame.
function refuseExtension(_data: Uint8Array, type: number): never {
  throw new Error(`msgpack extension type ${type} is not part of the protocol`);
}

// msgpack strings must be UTF-8. The library decodes a broken sequence into a lone
// surrogate, which encodes back differently and so slips through `unknown` fields of a
// schema as a value no peer sent; the fuzz test found it. Such text is a bad frame.
function refuseIllFormedText(value: unknown, depth: number): void {
  if (typeof value === 'string') {
    if (!value.isWellFormed()) throw new Error('a string is not valid UTF-8');
    return;
  }
  if (typeof value !== 'object' || value === null || value instanceof Uint8Array || depth > 64) return;
  if (Array.isArray(value)) {
    for (const item of value) refuseIllFormedText(item, depth + 1);
    return;
  }
  // for...in, not Object.entries: every frame passes here, and the decoder's plain objects
  // inherit no enumerable keys.
  for (const key in value) {
    refuseIllFormedText(key, depth + 1);
    refuseIllFormedText((value as Record<string, unknown>)[key], depth + 1);
  }
}

function boundedDecoder(bytesMax: number): Decoder {
  return new Decoder({
    extensionCodec: { tryToEncode: () => null, decode: refuseExtension },
    maxStrLength: bytesMax,
    maxBinLength: bytesMax,
    maxArrayLength: bytesMax,
    maxMapLength: bytesMax,
    maxExtLength: bytesMax,
  });
}

function describeIssue(what: string, issue: v.BaseIssue<unknown>): string {
  const path = v.getDotPath(issue);
  const subject = path === null ? what : `${what} field '${path}'`;
  if (issue.type === 'object' && issue.input === undefined && path !== null) {
    return `${subject} is missing.`;
  }
  // Messages written in the schemas start with a verb ("must be …"); valibot's defaults
  // do not, so they follow a colon.
  const text = /^(must|is|are|has)\b/.test(issue.message) ? issue.message : `is invalid: ${issue.message}`;
  return `${subject} ${text}${received(issue)}.`;
}

function received(issue: v.BaseIssue<unknown>): string {
  switch (issue.type) {
    case 'check':
      return '';
    case 'max_bytes':
      return `, got ${issue.received} bytes`;
    case 'min_length':
    case 'max_length':
      return `, got length ${issue.received}`;
    default:
      return `, got ${issue.received}`;
  }
}
