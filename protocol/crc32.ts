// CRC-32 checksums, table-driven, in pure TypeScript so they run the same in Node,
// browsers and the simulator.
//
// `crc32c` (Castagnoli) is the one Raftbox uses, for the records of on-disk logs: its
// polynomial detects more error patterns than the IEEE one at the same cost, which is why
// etcd's WAL, LevelDB and ext4 metadata use it. `crc32` (IEEE, as in zip and PNG) is here
// only for interoperating with formats that require it.

const ieeeTables = buildTables(0xedb88320);
const castagnoliTables = buildTables(0x82f63b78);

/**
 * Eight 256-entry tables for "slicing by 8": table k maps a byte to its CRC contribution
 * when k more zero bytes follow it, so the loop folds 8 input bytes per step instead of 1.
 */
function buildTables(reversedPolynomial: number): Uint32Array[] {
  const first = new Uint32Array(256);
  for (let byte = 0; byte < 256; byte++) {
    let crc = byte;
    for (let bit = 0; bit < 8; bit++) {
      crc = crc & 1 ? (crc >>> 1) ^ reversedPolynomial : crc >>> 1;
    }
    first[byte] = crc >>> 0;
  }
  const tables = [first];
  for (let k = 1; k < 8; k++) {
    const previous = tables[k - 1]!;
    const table = new Uint32Array(256);
    for (let byte = 0; byte < 256; byte++) table[byte] = (previous[byte]! >>> 8) ^ first[previous[byte]! & 0xff]!;
    tables.push(table);
  }
  return tables;
}

function update(tables: Uint32Array[], bytes: Uint8Array, start: number, end: number, previous: number): number {
  const [t0, t1, t2, t3, t4, t5, t6, t7] = tables as [Uint32Array, Uint32Array, Uint32Array, Uint32Array, Uint32Array, Uint32Array, Uint32Array, Uint32Array];
  let crc = ~previous >>> 0;
  let i = start;
  for (const stop = end - 7; i < stop; i += 8) {
    const low = crc ^ (bytes[i]! | (bytes[i + 1]! << 8) | (bytes[i + 2]! << 16) | (bytes[i + 3]! << 24));
    crc =
      t7[low & 0xff]! ^
      t6[(low >>> 8) & 0xff]! ^
      t5[(low >>> 16) & 0xff]! ^
      t4[low >>> 24]! ^
      t3[bytes[i + 4]!]! ^
      t2[bytes[i + 5]!]! ^
      t1[bytes[i + 6]!]! ^
      t0[bytes[i + 7]!]!;
  }
  for (; i < end; i++) crc = t0[(crc ^ bytes[i]!) & 0xff]! ^ (crc >>> 8);
  return ~crc >>> 0;
}

/**
 * Returns the CRC-32C (Castagnoli) of `bytes` as an unsigned 32-bit integer. To checksum
 * data that arrives in pieces, pass the previous result as `previous`:
 * `crc32c(b, crc32c(a)) === crc32c(concat(a, b))`.
 */
export function crc32c(bytes: Uint8Array, previous = 0): number {
  return update(castagnoliTables, bytes, 0, bytes.length, previous);
}

/** The CRC-32C of `bytes[start, end)`, without making a view of that range. */
export function crc32cRange(bytes: Uint8Array, start: number, end: number): number {
  return update(castagnoliTables, bytes, start, end, 0);
}

/**
 * Returns the CRC-32 (IEEE 802.3, as in zip and PNG) of `bytes` as an unsigned 32-bit
 * integer; `previous` continues an earlier checksum as with `crc32c`.
 */
export function crc32(bytes: Uint8Array, previous = 0): number {
  return update(ieeeTables, bytes, 0, bytes.length, previous);
}
