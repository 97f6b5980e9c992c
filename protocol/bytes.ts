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

/** The bytes of an even-length hex string; throws on any other character. */
export function hexToBytes(hex: string): Uint8Array {
  if (hex.length % 2 !== 0 || !/^[0-9a-fA-F]*$/.test(hex)) throw new Error(`not a hex string: "${hex.slice(0, 80)}"`);
  const out = new Uint8Array(hex.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = Number.parseInt(hex.slice(2 * i, 2 * i + 2), 16);
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
