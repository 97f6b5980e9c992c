// Adding what the user dropped or picked: each file is cut and hashed in the worker pool
// (a few files at a time, so a drop of thousands does not flood the workers), stored in
// the replica with its blocks, and then one sync carries the lot to the cluster.

import { normalizePath } from '../../protocol/paths.ts';
import type { Picked } from '../drop/read-drop.ts';
import { HashCancelledError } from '../hashing/hash-pool.ts';
import { makeFolder, putFile } from '../store/local-edits.ts';
import type { Services } from './services.ts';
import type { Transfers } from './transfers.ts';

/** Files hashed at once per worker of the pool. */
export const filesPerWorkerInFlight = 2;

function join(folder: string, path: string): string {
  return normalizePath(folder === '' ? path : `${folder}/${path}`);
}

/**
 * Adds the picked files and folders under `folder`, reporting each file in `transfers`;
 * stops starting new files once `signal` is aborted. Returns the sentences of failures.
 */
export async function addPicked(services: Services, picked: Picked, folder: string, transfers: Transfers, signal: AbortSignal): Promise<string[]> {
  const context = { db: services.db, device: services.device, now: () => Date.now() };
  const failures: string[] = [];
  for (const path of picked.folders) await makeFolder(context, join(folder, path));
  const queue = picked.files.map((item) => ({ ...item, path: join(folder, item.path), row: transfers.start(join(folder, item.path), item.file.size) }));
  const worker = async (): Promise<void> => {
    for (let item = queue.shift(); item !== undefined; item = queue.shift()) {
      if (signal.aborted) {
        transfers.update(item.row, { state: 'cancelled' });
        continue;
      }
      try {
        transfers.update(item.row, { state: 'hashing' });
        const blocks = await services.pool.hashFile(item.file, { signal, onProgress: (bytesDone) => transfers.update(item!.row, { bytesDone }) });
        await putFile(context, item.path, item.file, blocks, item.file.lastModified || undefined);
        transfers.update(item.row, { state: 'stored', bytesDone: item.file.size });
      } catch (error) {
        const cancelled = error instanceof HashCancelledError;
        const sentence = cancelled ? 'Cancelled.' : `Could not add "${item.path}": ${error instanceof Error ? error.message : String(error)}`;
        transfers.update(item.row, { state: cancelled ? 'cancelled' : 'failed', error: sentence });
        if (!cancelled) failures.push(sentence);
      }
    }
  };
  const lanes = Math.max(1, services.pool.size * filesPerWorkerInFlight);
  await Promise.all(Array.from({ length: Math.min(lanes, queue.length) }, worker));
  services.sync.requestSync();
  return failures;
}
