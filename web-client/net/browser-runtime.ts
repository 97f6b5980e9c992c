// The isomorphic client's runtime in a browser: the page's WebSocket, its clock and
// timers, and SHA-256 from SubtleCrypto (native, and available on http://127.0.0.1 and
// https, the secure contexts the app runs in).

import type { ClientRuntime } from '../../protocol/client.ts';

/** Lowercase hex SHA-256 of `bytes` through SubtleCrypto. */
export async function subtleSha256(bytes: Uint8Array): Promise<string> {
  const digest = new Uint8Array(await crypto.subtle.digest('SHA-256', bytes as Uint8Array<ArrayBuffer>));
  let hex = '';
  for (const byte of digest) hex += byte.toString(16).padStart(2, '0');
  return hex;
}

/** A ClientRuntime backed by the browser's own APIs. */
export function browserRuntime(): ClientRuntime {
  return {
    connect: (url) => new WebSocket(url),
    now: () => Date.now(),
    random: () => Math.random(),
    setTimer: (ms, fn) => setTimeout(fn, ms),
    clearTimer: (handle) => clearTimeout(handle as ReturnType<typeof setTimeout>),
    sha256: subtleSha256,
  };
}
