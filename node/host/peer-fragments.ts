// Transport-level fragmentation of peer messages larger than one frame. A Raft
// InstallSnapshot carries the whole metadata state (up to `snapshotBytesMax`), far more
// than `frameBytesMax`; rather than raise the frame limit for everything a peer sends,
// the sending link cuts the encoded envelope into fragment frames of at most
// `fragmentBytesMax`, and the receiving connection glues them back together and decodes
// the result with the ordinary peer envelope schema. Actors never see fragments.
//
// A fragment frame is the msgpack map `{fragment: {id, index, count, size, bytes}}`. It
// has one key and a peer envelope has two (`to`, `message`), so the first bytes tell
// them apart without decoding: a fixmap of one entry whose key is the fixstr "fragment".
//
// Fragments of one message go out in order on one WebSocket, which keeps order, so the
// receiver accepts exactly the next index and treats anything else as a loss: the whole
// message is discarded, never delivered in part (Raft resends a snapshot that goes
// unanswered). Each connection reassembles at most one message at a time.

import { Encoder } from '@msgpack/msgpack';
import * as v from 'valibot';
import { isRaftboxError } from '../../protocol/errors.ts';
import { decodeWith } from '../../protocol/frame.ts';
import { snapshotBytesMax } from '../../protocol/limits.ts';
import { decodePeerEnvelope, encodeWire } from '../../protocol/wire-schema.ts';
import type { PeerEnvelope } from '../../protocol/wire.ts';
import { concatBytes } from '../../protocol/bytes.ts';

const mebibyte = 1024 * 1024;

/** Largest peer message once reassembled: a snapshot of `snapshotBytesMax` plus room for its envelope. */
export const peerMessageBytesMax = snapshotBytesMax + 1 * mebibyte;

/** Largest payload of one fragment frame; small enough that heartbeats interleave between fragments. */
export const fragmentBytesMax = 1 * mebibyte;

/** Most fragments one message may be cut into. */
export const fragmentsPerMessageMax = Math.ceil(peerMessageBytesMax / fragmentBytesMax);

/** One piece of a fragmented peer message, as it travels. */
export interface PeerFragment {
  /** Chosen by the sending link, different for each message it fragments. */
  id: number;
  index: number;
  count: number;
  /** Bytes of the whole encoded envelope. */
  size: number;
  bytes: Uint8Array;
}

const wholeNumber = v.pipe(
  v.number('must be a number'),
  v.safeInteger('must be a non-negative safe integer'),
  v.minValue(0, 'must be a non-negative safe integer'),
);

const fragmentFrameSchema = v.object(
  {
    fragment: v.pipe(
      v.object(
        {
          id: wholeNumber,
          index: wholeNumber,
          // A message of one fragment would have fit in a frame of its own.
          count: v.pipe(wholeNumber, v.minValue(2, 'must be at least 2'), v.maxValue(fragmentsPerMessageMax, `must be at most ${fragmentsPerMessageMax}`)),
          size: v.pipe(wholeNumber, v.minValue(1, 'must be at least 1'), v.maxValue(peerMessageBytesMax, `must be at most ${peerMessageBytesMax}`)),
          bytes: v.pipe(
            v.instance(Uint8Array, 'must be binary (msgpack bin)'),
            v.minLength(1, 'must not be empty'),
            v.maxLength(fragmentBytesMax, `must be at most ${fragmentBytesMax} bytes`),
          ),
        },
        'must be a map',
      ),
      v.check((fragment) => fragment.index < fragment.count, 'must have an index below its count'),
    ),
  },
  'must be a map',
);

// {fragment: …} as msgpack writes it: fixmap of 1 entry, then fixstr of 8 bytes "fragment".
const fragmentPrefix = Uint8Array.of(0x81, 0xa8, ...new TextEncoder().encode('fragment'));
const fragmentEncoder = new Encoder();

/**
 * Encodes a peer envelope for sending, with a limit of `peerMessageBytesMax` instead of
 * `frameBytesMax`; the caller fragments the result when it exceeds one frame. Throws
 * `frame_too_large` only past `peerMessageBytesMax`. Snapshots, the one kind of message
 * that is routinely large, skip the shared encoder so its buffer never grows to their size.
 */
export function encodePeerMessage(envelope: PeerEnvelope): Uint8Array {
  if (envelope.message.type === 'snapshot') return encodeWire(envelope, peerMessageBytesMax);
  try {
    return encodeWire(envelope);
  } catch (error) {
    if (!isRaftboxError(error, 'frame_too_large')) throw error;
    return encodeWire(envelope, peerMessageBytesMax);
  }
}

/** Encodes one fragment as a frame of its own. */
export function encodeFragmentFrame(fragment: PeerFragment): Uint8Array {
  const { id, index, count, size, bytes } = fragment;
  return fragmentEncoder.encode({ fragment: { id, index, count, size, bytes } });
}

/** True when `bytes` is a fragment frame rather than a whole peer envelope; looks at the first ten bytes only. */
export function isFragmentFrame(bytes: Uint8Array): boolean {
  if (bytes.length < fragmentPrefix.length) return false;
  for (let i = 0; i < fragmentPrefix.length; i++) if (bytes[i] !== fragmentPrefix[i]) return false;
  return true;
}

/**
 * Decodes a fragment frame from untrusted bytes. Throws `frame_too_large`, `bad_frame`
 * or `bad_message` naming the offending field, as the other frame decoders do. The
 * fragment's bytes are copied, detached from the transport's buffer.
 */
export function decodeFragmentFrame(bytes: Uint8Array): PeerFragment {
  const { fragment } = decodeWith(fragmentFrameSchema, bytes, 'Peer fragment');
  return { ...fragment, bytes: fragment.bytes.slice() };
}

/**
 * The fragments of one encoded message, produced one frame at a time so a large message
 * is held once (its encoded bytes) rather than twice. `next()` returns the frame of the
 * next fragment; `done` tells when all were taken.
 */
export class OutgoingFragments {
  readonly count: number;
  private index = 0;

  constructor(readonly id: number, private readonly bytes: Uint8Array, private readonly pieceBytes = fragmentBytesMax) {
    if (!Number.isSafeInteger(pieceBytes) || pieceBytes < 1 || pieceBytes > fragmentBytesMax) throw new RangeError(`fragment size ${pieceBytes} must be 1..${fragmentBytesMax} bytes`);
    this.count = Math.ceil(bytes.length / pieceBytes);
    if (this.count < 2 || this.count > fragmentsPerMessageMax) throw new RangeError(`a message of ${bytes.length} bytes cannot be cut into 2..${fragmentsPerMessageMax} fragments of ${pieceBytes} bytes`);
  }

  /** True once the first fragment was taken: from then on the message must go out whole or not at all. */
  get started(): boolean {
    return this.index > 0;
  }

  get done(): boolean {
    return this.index >= this.count;
  }

  next(): Uint8Array {
    if (this.done) throw new RangeError(`all ${this.count} fragments of message ${this.id} were already taken`);
    const start = this.index * this.pieceBytes;
    const bytes = this.bytes.subarray(start, start + this.pieceBytes);
    const frame = encodeFragmentFrame({ id: this.id, index: this.index, count: this.count, size: this.bytes.length, bytes });
    this.index++;
    return frame;
  }
}

interface Assembly {
  id: number;
  count: number;
  size: number;
  next: number;
  receivedBytes: number;
  chunks: Uint8Array[];
}

/**
 * Rebuilds fragmented messages arriving on one connection, one message at a time. It
 * holds at most the bytes of one unfinished message (≤ `peerMessageBytesMax`). A fragment
 * that does not continue the message in progress exactly (another id, a skipped or
 * repeated index, a changed count or size, more bytes than announced) discards it, and
 * `onDiscard` hears why; the rest of a discarded message is then ignored silently.
 */
export class FragmentReassembler {
  private current: Assembly | null = null;
  private abandonedId: number | null = null;
  discarded = 0;

  constructor(private readonly onDiscard: (reason: string) => void) {}

  /** Bytes held for the unfinished message. */
  get heldBytes(): number {
    return this.current?.receivedBytes ?? 0;
  }

  /** Adds the next fragment; returns the whole encoded message when this one completes it, else null. */
  add(fragment: PeerFragment): Uint8Array | null {
    if (this.current !== null && this.current.id !== fragment.id) {
      this.discard(`message ${this.current.id} was cut off by message ${fragment.id} after ${this.current.next} of ${this.current.count} fragments`);
    }
    if (this.current === null) {
      if (fragment.index !== 0) {
        if (fragment.id !== this.abandonedId) this.discard(`fragment ${fragment.index} of message ${fragment.id} arrived without the fragments before it`, fragment.id);
        return null;
      }
      this.current = { id: fragment.id, count: fragment.count, size: fragment.size, next: 0, receivedBytes: 0, chunks: [] };
    }
    const assembly = this.current;
    const problem = continuationProblem(assembly, fragment);
    if (problem !== null) {
      this.discard(problem);
      return null;
    }
    assembly.chunks.push(fragment.bytes);
    assembly.receivedBytes += fragment.bytes.length;
    assembly.next++;
    if (assembly.next < assembly.count) return null;
    this.current = null;
    if (assembly.receivedBytes !== assembly.size) {
      this.discard(`message ${assembly.id} ended with ${assembly.receivedBytes} bytes, not the ${assembly.size} announced`, assembly.id);
      return null;
    }
    return concatBytes(assembly.chunks);
  }

  private discard(reason: string, id = this.current?.id ?? null): void {
    this.current = null;
    this.abandonedId = id;
    this.discarded++;
    this.onDiscard(reason);
  }
}

function continuationProblem(assembly: Assembly, fragment: PeerFragment): string | null {
  if (fragment.index !== assembly.next) return `message ${assembly.id} expected fragment ${assembly.next} and got ${fragment.index}: a fragment was lost or repeated`;
  if (fragment.count !== assembly.count || fragment.size !== assembly.size) return `message ${assembly.id} changed its count or size between fragments`;
  if (assembly.receivedBytes + fragment.bytes.length > assembly.size) return `message ${assembly.id} sent more than the ${assembly.size} bytes it announced`;
  return null;
}

/**
 * Reads the frames of one incoming peer connection: a whole envelope is decoded as it
 * comes; fragments are reassembled and the result decoded with the same schema under
 * `peerMessageBytesMax`. `read` returns null while a message is incomplete (or was
 * discarded), and throws `RaftboxError` on a malformed frame, after which the caller
 * should close the connection (the peer redials).
 */
export class PeerFrameReader {
  private readonly reassembler: FragmentReassembler;

  constructor(onDiscard: (reason: string) => void) {
    this.reassembler = new FragmentReassembler(onDiscard);
  }

  read(bytes: Uint8Array): PeerEnvelope | null {
    if (!isFragmentFrame(bytes)) return decodePeerEnvelope(bytes);
    const whole = this.reassembler.add(decodeFragmentFrame(bytes));
    return whole === null ? null : decodePeerEnvelope(whole, peerMessageBytesMax);
  }
}
