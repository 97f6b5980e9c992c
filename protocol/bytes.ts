// Byte-array helpers shared by the codec, the transports and the simulator.

/** One array holding `parts` end to end (always a new array). */
export function concatBytes(parts: readonly Uint8Array[]): Uint8Array {
  let total = 0;
  for (const part of parts) total += part.byteLength;
  const out = new Uint8Array(total);
  let offset = 0;
  for (const part of parts) {
    out.set(part, offset);
    offset += part.byteLength;
  }
  return out;
}

const hexDigits = Array.from({ length: 256 }, (_, byte) => byte.toString(16).padStart(2, '0'));

/** Lowercase hex of `bytes`. */
export function bytesToHex(bytes: Uint8Array): string {
  let out = '';
  for (let i = 0; i < bytes.byteLength; i++) out += hexDigits[bytes[i]!];
  return out;
}

/** Each hex digit's value by character code; -1 for any other character. */
const hexValues = new Int8Array(128).fill(-1);
for (let digit = 0; digit < 16; digit++) {
  hexValues[digit.toString(16).charCodeAt(0)] = digit;
  hexValues[digit.toString(16).toUpperCase().charCodeAt(0)] = digit;
}

/** The bytes of an even-length hex string; throws on any other character. */
export function hexToBytes(hex: string): Uint8Array {
  const out = new Uint8Array(hex.length >> 1);
  // Every digit's value is ORed in: a character outside the table (-1) leaves it negative.
  let seen = 0;
  for (let i = 0; i < out.length; i++) {
    const high = hexValues[hex.charCodeAt(2 * i)] ?? -1;
    const low = hexValues[hex.charCodeAt(2 * i + 1)] ?? -1;
    seen |= high | low;
    out[i] = (high << 4) | low;
  }
  if (hex.length % 2 !== 0 || seen < 0) throw new Error(`not a hex string: "${hex.slice(0, 80)}"`);
  return out;
}

const utf8 = new TextEncoder();

/**
 * Whether `text` takes more than `bytesMax` bytes in UTF-8. A UTF-16 code unit takes one
 * to three, so most strings need no encoding to tell.
 */
export function utf8LongerThan(text: string, bytesMax: number): boolean {
  if (text.length > bytesMax) return true;
  if (text.length * 3 <= bytesMax) return false;
  return utf8Length(text) > bytesMax;
}

/** The bytes `text` takes in UTF-8: for telling someone how long a refused string was. */
export function utf8Length(text: string): number {
  return utf8.encode(text).length;
}
