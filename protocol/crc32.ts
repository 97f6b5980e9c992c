// CRC-32 checksums, table-driven, in pure TypeScript so they run the same in Node,
// browsers and the simulator.
//
// `crc32c` (Castagnoli) is the one Raftbox uses, for the records of on-disk logs: its
// polynomial detects more error patterns than the IEEE one at the same cost, which is why
// etcd's WAL, LevelDB and ext4 metadata use it. `crc32` (IEEE, as in zip and PNG) is here
// only for interoperating with formats that require it.

const ieeeTable = buildTable(0xedb88320);
const castagnoliTable = buildTable(0x82f63b78);

function buildTable(reversedPolynomial: number): Uint32Array {
  const result = new Uint32Array(256);
  for (let byte = 0; byte < 256; byte++) {
    let crc = byte;
    for (let bit = 0; bit < 8; bit++) {
      crc = crc & 1 ? (crc >>> 1) ^ reversedPolynomial : crc >>> 1;
    }
    result[byte] = crc >>> 0;
  }
  return result;
}

function update(table: Uint32Array, bytes: Uint8Array, start: number, end: number, previous: number): number {
  let crc = ~previous >>> 0;
  for (let i = start; i < end; i++) {
    crc = table[(crc ^ bytes[i]!) & 0xff]! ^ (crc >>> 8);
  }
  return ~crc >>> 0;
}

/**
 * Returns the CRC-32C (Castagnoli) of `bytes` as an unsigned 32-bit integer. To checksum
 * data that arrives in pieces, pass the previous result as `previous`:
 * `crc32c(b, crc32c(a)) === crc32c(concat(a, b))`.
 */
export function crc32c(bytes: Uint8Array, previous = 0): number {
  return update(castagnoliTable, bytes, 0, bytes.length, previous);
}

/** The CRC-32C of `bytes[start, end)`, without making a view of that range. */
export function crc32cRange(bytes: Uint8Array, start: number, end: number): number {
  return update(castagnoliTable, bytes, start, end, 0);
}

/**
 * Returns the CRC-32 (IEEE 802.3, as in zip and PNG) of `bytes` as an unsigned 32-bit
 * integer; `previous` continues an earlier checksum as with `crc32c`.
 */
export function crc32(bytes: Uint8Array, previous = 0): number {
  return update(ieeeTable, bytes, 0, bytes.length, previous);
}
