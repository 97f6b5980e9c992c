// Test data that Node and a page can both make: a small LCG, seeded per file. The
// function uses nothing from outside its body, so a test can send its source to a page
// (`seededBytes.toString()`) and get the same bytes there.

/** `length` pseudo-random bytes from `seed`; the same seed always gives the same bytes. */
export function seededBytes(length: number, seed: number): Uint8Array {
  const bytes = new Uint8Array(length);
  let x = seed;
  for (let i = 0; i < length; i++) {
    x = (Math.imul(x, 1103515245) + 12345) | 0;
    bytes[i] = x >>> 24;
  }
  return bytes;
}
