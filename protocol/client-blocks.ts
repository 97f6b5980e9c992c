// File contents as blocks: cutting bytes into blocks, naming them by SHA-256, asking the
// cluster which it lacks (so unchanged content is never sent twice), uploading those to
// their ring owners and reading blocks back with their hashes checked.

import { errorFromWire, isRetryable } from './client-errors.ts';
import type { ClusterRouter } from './client-router.ts';
import { raftboxError } from './errors.ts';
import { eachCutPoint } from './fastcdc.ts';
import { blocksPerPutMax, hashesPerHasMax } from './wire-schema.ts';
import type { BlockHash, BlockRef, BlockUpload } from './wire.ts';

/** Most upload requests one call of `uploadBlocks` has in flight at once. */
export const putsInFlightMax = 16;
/** Blocks up to this size share requests (`blocks.put-many`); larger ones travel alone. */
export const batchedBlockBytesMax = 512 * 1024;
/** Most block bytes in one `blocks.put-many` request, well inside a frame. */
export const putBatchBytesMax = 2 * 1024 * 1024;
/** Most block downloads one file read has in flight at once. */
export const getsInFlightMax = 16;

/** A block of a file being written: its bytes and their name. */
export interface PreparedBlock extends BlockRef {
  data: Uint8Array;
}

/**
 * Cuts `data` into content-defined blocks (FastCDC: 256 KiB to 4 MiB, about 1 MiB on
 * average), so an edit moves only the blocks around it and the same bytes in any file
 * make the same blocks. The blocks are views of `data`, not copies, each found only when
 * asked for, so a caller can hash and send the first before the rest is scanned.
 */
export function* eachBlock(data: Uint8Array): Generator<Uint8Array> {
  let start = 0;
  for (const end of eachCutPoint(data)) {
    yield data.subarray(start, end);
    start = end;
  }
}

/** Asks the cluster (any node) which of `hashes` it does not hold, in batches of `hashesPerHasMax`. */
export async function missingBlocks(router: ClusterRouter, hashes: BlockHash[]): Promise<Set<BlockHash>> {
  const missing = new Set<BlockHash>();
  const wanted = [...new Set(hashes)];
  for (let start = 0; start < wanted.length; start += hashesPerHasMax) {
    const { result } = await router.metadata({ op: 'blocks.has', hashes: wanted.slice(start, start + hashesPerHasMax) });
    for (const hash of result.missing) missing.add(hash);
  }
  return missing;
}

/**
 * Uploads `blocks` (each hash once), `putsInFlightMax` requests at a time, each with the
 * router's retries. Small blocks bound for the same node go together in `blocks.put-many`
 * requests, so ten thousand small files cost a few hundred requests, not ten thousand.
 * Returns the number of blocks and bytes sent.
 */
export async function uploadBlocks(router: ClusterRouter, blocks: BlockUpload[]): Promise<{ blocks: number; bytes: number }> {
  const unique = [...new Map(blocks.map((block) => [block.hash, block])).values()];
  if (unique.some((block) => block.data.byteLength <= batchedBlockBytesMax) && router.map === null) await router.refreshMap();
  await forEachLimited(putRequests(router, unique), putsInFlightMax, (batch) => putBatch(router, batch));
  return { blocks: unique.length, bytes: unique.reduce((total, block) => total + block.data.byteLength, 0) };
}

// Each small block joins a batch for the node its ring preference starts with (any node
// would store it, but that one holds a copy itself); a large block is a request of its own.
function putRequests(router: ClusterRouter, blocks: BlockUpload[]): BlockUpload[][] {
  const requests: BlockUpload[][] = [];
  const open = new Map<string, { blocks: BlockUpload[]; bytes: number }>();
  for (const block of blocks) {
    const size = block.data.byteLength;
    if (size > batchedBlockBytesMax) {
      requests.push([block]);
      continue;
    }
    const url = router.blockUrls(block.hash)[0] ?? '';
    let batch = open.get(url);
    if (batch && (batch.bytes + size > putBatchBytesMax || batch.blocks.length >= blocksPerPutMax)) {
      requests.push(batch.blocks);
      batch = undefined;
    }
    if (!batch) {
      batch = { blocks: [], bytes: 0 };
      open.set(url, batch);
    }
    batch.blocks.push(block);
    batch.bytes += size;
  }
  for (const batch of open.values()) requests.push(batch.blocks);
  return requests;
}

// A block the batch could not store (its node was overloaded, say) is sent again alone,
// with the router's retries and backoff; an error retrying cannot fix is thrown.
async function putBatch(router: ClusterRouter, batch: BlockUpload[]): Promise<void> {
  if (batch.length === 1) {
    const [{ hash, data }] = batch as [BlockUpload];
    await router.block({ op: 'blocks.put', hash, data }, hash);
    return;
  }
  const blocks = batch.map(({ hash, data }) => ({ hash, data }));
  const { result, url } = await router.block({ op: 'blocks.put-many', blocks }, batch[0]!.hash);
  if (result.outcomes.length !== batch.length) {
    throw raftboxError('internal', `${url} answered ${result.outcomes.length} outcomes for a batch of ${batch.length} blocks`);
  }
  const failed: BlockUpload[] = [];
  result.outcomes.forEach((outcome, index) => {
    if (!('error' in outcome)) return;
    const error = errorFromWire(outcome.error);
    if (!isRetryable(error)) throw error;
    failed.push(batch[index]!);
  });
  await forEachLimited(failed, putsInFlightMax, async ({ hash, data }) => {
    await router.block({ op: 'blocks.put', hash, data }, hash);
  });
}

/**
 * Fetches the blocks of a file in order, `getsInFlightMax` at a time, from their nodes in
 * ring preference order (any node proxies a get it cannot serve), and returns the whole
 * file. Throws `hash_mismatch` when a block's bytes do not hash to its name.
 */
export async function downloadBlocks(router: ClusterRouter, refs: BlockRef[]): Promise<Uint8Array> {
  const offsets: number[] = [];
  let total = 0;
  for (const ref of refs) {
    offsets.push(total);
    total += ref.size;
  }
  const file = new Uint8Array(total);
  await forEachLimited(refs, getsInFlightMax, async (ref, index) => {
    file.set(await fetchBlock(router, ref), offsets[index]);
  });
  return file;
}

/**
 * Yields `fetch(ref)` for every ref in order while keeping up to `ahead` fetches running,
 * so a file can be written out block by block at full speed without holding it whole.
 * The first failure is thrown where its block would have been yielded; fetches started
 * after it (or left running when the consumer stops early) settle unobserved, never as
 * unhandled rejections.
 */
export async function* blocksInOrder(refs: BlockRef[], ahead: number, fetch: (ref: BlockRef) => Promise<Uint8Array>): AsyncGenerator<Uint8Array> {
  const queue: Promise<Uint8Array>[] = [];
  let next = 0;
  const fill = (): void => {
    while (next < refs.length && queue.length < ahead) {
      const fetching = fetch(refs[next++]!);
      fetching.catch(() => undefined);
      queue.push(fetching);
    }
  };
  fill();
  while (queue.length > 0) {
    const data = await queue.shift()!;
    fill();
    yield data;
  }
}

/** Fetches one block from its owners (any node proxies), with its hash and size checked. */
export async function fetchBlock(router: ClusterRouter, ref: BlockRef): Promise<Uint8Array> {
  const { result, url } = await router.block({ op: 'blocks.get', hash: ref.hash }, ref.hash);
  const data = result.data;
  const actual = await router.runtime.sha256(data);
  if (actual !== ref.hash || data.length !== ref.size) {
    throw raftboxError('hash_mismatch', `block ${ref.hash} from ${url} has ${data.length} bytes hashing to ${actual}, not ${ref.size} bytes hashing to its name`, { hash: ref.hash, actual, url });
  }
  return data;
}

/** Runs `work` over `items` with at most `limit` at once; the first failure stops new work and is thrown. */
export async function forEachLimited<T>(items: T[], limit: number, work: (item: T, index: number) => Promise<void>): Promise<void> {
  let next = 0;
  let failed = false;
  const worker = async (): Promise<void> => {
    while (!failed && next < items.length) {
      const index = next++;
      try {
        await work(items[index]!, index);
      } catch (error) {
        failed = true;
        throw error;
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
}
