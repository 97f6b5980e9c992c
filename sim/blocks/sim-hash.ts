// A stand-in for SHA-256 in the simulator: deterministic, synchronous, 64 hex digits, and
// sensitive to every byte, which is all the block actors need of it (they name blocks by
// it and detect corruption with it). It is not cryptographic; the simulator has no adversary.

/** Four FNV-1a lanes with different seeds, each mixed to 64 bits of hex. */
export function simHash(bytes: Uint8Array): string {
  let out = '';
  for (let lane = 0; lane < 4; lane++) {
    let a = (0x811c9dc5 ^ Math.imul(lane + 1, 0x9e3779b9)) >>> 0;
    let b = (0x01000193 + lane * 0x85ebca6b) >>> 0;
    for (let i = 0; i < bytes.length; i++) {
      a = Math.imul(a ^ bytes[i]!, 0x01000193) >>> 0;
      b = Math.imul(b ^ a, 0xc2b2ae35) >>> 0;
    }
    a = Math.imul(a ^ (a >>> 16), 0x85ebca6b) >>> 0;
    b = Math.imul(b ^ (b >>> 13) ^ bytes.length, 0xc2b2ae35) >>> 0;
    out += a.toString(16).padStart(8, '0') + b.toString(16).padStart(8, '0');
  }
  return out;
}
