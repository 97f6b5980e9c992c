// Messages a block actor sends to itself (storage completions and timers) and the reply
// helper its parts share. Internal messages never cross the wire: the host's schema only
// admits PeerMessage types from peers, so a peer cannot forge one of these.

import type { Env } from '../actor/env.ts';
import type { RaftboxError } from '../../../protocol/errors.ts';
import type { Address, ResponseMessage, WireError } from '../../../protocol/wire.ts';

/** The completion of a sync of pack `pack`, handed to `storage.sync` as its done message. */
export interface PackSyncedMessage {
  type: 'blocks.pack-synced';
  pack: number;
}

/** A block read off the actor's thread (`storage.readRangeLater`) has its bytes. */
export interface BlockReadMessage {
  type: 'blocks.read-done';
  id: number;
  data: Uint8Array | null;
  error?: string;
}

export type BlockInternalMessage =
  | PackSyncedMessage
  | BlockReadMessage
  | { type: 'blocks.compact-tick' }
  | { type: 'blocks.replicate-timeout'; id: number }
  | { type: 'blocks.fetch-timeout'; id: number }
  | { type: 'blocks.register-timeout'; id: number; attempt: number }
  | { type: 'blocks.register-retry'; id: number; attempt: number }
  | { type: 'blocks.stats-due' }
  | { type: 'blocks.repair-fetch-timeout'; id: number }
  | { type: 'blocks.repair-pump' }
  | { type: 'blocks.repair-tick' }
  | { type: 'blocks.scrub-tick' }
  | { type: 'blocks.scrub-step'; pass: number }
  | { type: 'blocks.surplus-timeout'; hash: string; id: number }
  | { type: 'blocks.orphan-sweep' }
  | { type: 'blocks.orphan-step' };

export type Outcome<T> = { ok: true; result: T } | { ok: false; error: RaftboxError };

/** A RaftboxError as it travels on the wire. */
export function wireError(error: RaftboxError): WireError {
  return error.details === undefined ? { code: error.code, message: error.message } : { code: error.code, message: error.message, details: { ...error.details } };
}

/** Answer request `id` of `to` with a result or an error. */
export function respond<T>(env: Env, to: Address, id: number, outcome: Outcome<T>): void {
  const message: ResponseMessage = outcome.ok
    ? { type: 'response', id, ok: true, result: outcome.result }
    : { type: 'response', id, ok: false, error: wireError(outcome.error) };
  env.send(to, message);
}

/** The address of a node's block actor. */
export function blocksAddress(node: string): Address {
  return `${node}/blocks`;
}
