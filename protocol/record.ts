// Framing of append-only log files (the Raft WAL, on real files and on the simulator's
// disk). Each record is
//
//   [u32 LE payload length][u32 LE CRC-32C of payload][payload]
//
// A reader walks records in order and stops at the first one it cannot trust, reporting
// how many leading bytes are good so recovery can truncate the file there. Payloads are
// never empty: a region of zeros (a preallocated or half-written tail) would otherwise
// read as an endless run of valid empty records, since the CRC of nothing is 0.

import { crc32c, crc32cRange } from './crc32.ts';
import { recordBytesMax } from './limits.ts';

/** Bytes before each payload: the length and the checksum. */
export const recordHeaderBytes = 8;

/**
 * Why `decodeRecords` stopped: `end` — every byte belongs to a good record; `torn` — the
 * last record is incomplete (a crash during the write, or a zero-filled tail); `corrupt` —
 * a checksum mismatch or an impossible length.
 */
export type RecordStop = 'end' | 'torn' | 'corrupt';

export interface DecodedRecords {
  /** Payloads of the good records, in order; each is a copy, not a view into the input. */
  records: Uint8Array[];
  /** Length of the good prefix of the input; recovery truncates the file to it. */
  validBytes: number;
  stop: RecordStop;
}

/**
 * Frames `payload` as one record: length, CRC-32C, payload. Throws if the payload is
 * empty or longer than `recordBytesMax`, since the reader would refuse such a record.
 */
export function encodeRecord(payload: Uint8Array): Uint8Array {
  return encodeRecords([payload]);
}

/** Frames each payload as `encodeRecord` does, back to back in one buffer (one write for a batch). */
export function encodeRecords(payloads: readonly Uint8Array[]): Uint8Array {
  let total = 0;
  for (const payload of payloads) {
    if (payload.length === 0) throw new RangeError('record payload must not be empty');
    if (payload.length > recordBytesMax) {
      throw new RangeError(`record payload of ${payload.length} bytes exceeds recordBytesMax (${recordBytesMax})`);
    }
    total += recordHeaderBytes + payload.length;
  }
  const out = new Uint8Array(total);
  const view = new DataView(out.buffer);
  let offset = 0;
  for (const payload of payloads) {
    view.setUint32(offset, payload.length, true);
    view.setUint32(offset + 4, crc32c(payload), true);
    out.set(payload, offset + recordHeaderBytes);
    offset += recordHeaderBytes + payload.length;
  }
  return out;
}

/**
 * Reads records from the start of `bytes` until the end or the first record that is
 * incomplete (`torn`) or fails its checksum or length check (`corrupt`). Everything before
 * `validBytes` is good. A corrupted length field that points past the end of the input
 * cannot be told apart from a torn write, so it also reads as `torn`; a log writer that
 * knows a segment was complete (it is not the last one) should treat `torn` there as
 * corruption.
 */
export function decodeRecords(bytes: Uint8Array): DecodedRecords {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const records: Uint8Array[] = [];
  let offset = 0;
  while (offset < bytes.length) {
    const stop = checkRecordAt(bytes, view, offset);
    if (stop !== null) return { records, validBytes: offset, stop };
    const length = view.getUint32(offset, true);
    const start = offset + recordHeaderBytes;
    records.push(bytes.slice(start, start + length));
    offset = start + length;
  }
  return { records, validBytes: offset, stop: 'end' };
}

function checkRecordAt(bytes: Uint8Array, view: DataView, offset: number): RecordStop | null {
  const remaining = bytes.length - offset;
  if (remaining < recordHeaderBytes) return 'torn';
  const length = view.getUint32(offset, true);
  if (length === 0) return allZero(bytes, offset) ? 'torn' : 'corrupt';
  if (length > recordBytesMax) return 'corrupt';
  if (remaining - recordHeaderBytes < length) return 'torn';
  const start = offset + recordHeaderBytes;
  const expected = view.getUint32(offset + 4, true);
  return crc32cRange(bytes, start, start + length) === expected ? null : 'corrupt';
}

function allZero(bytes: Uint8Array, offset: number): boolean {
  for (let i = offset; i < bytes.length; i++) if (bytes[i] !== 0) return false;
  return true;
}
