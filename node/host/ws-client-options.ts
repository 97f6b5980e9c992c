// Options for the WebSocket connections our own Node processes open: peer links and the
// Node SDK. Both carry whole blocks, so every byte of work per frame counts.
//
// RFC 6455 makes clients mask their frames so that a script in a browser cannot choose
// the bytes an intermediary (a caching proxy) sees. These connections come from Raftbox
// processes, never from a page, so the 32-bit masking key is all zeros: still a valid
// masked frame that any server accepts, but `ws` then skips XOR-ing every byte into a
// fresh copy on send and unmasking on receive. Browsers keep masking as they must.

import type { ClientOptions } from 'ws';
import { frameBytesMax } from '../../protocol/limits.ts';

/** `ws` client options for a connection opened by a Raftbox process; `maxPayload` defaults to one frame. */
export function processSocketOptions(maxPayload = frameBytesMax): ClientOptions {
  return { perMessageDeflate: false, maxPayload, generateMask: (mask: Buffer) => void mask.fill(0) };
}
