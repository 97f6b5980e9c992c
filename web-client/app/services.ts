// Everything the page runs on, started once: the IndexedDB store, the hashing pool, the
// cluster client over the browser's WebSocket, and the sync controller.

import { createClient, type RaftboxClient } from '../../protocol/client.ts';
import type { FileProgress } from '../../protocol/sync-engine.ts';
import { BlockCache } from '../store/block-cache.ts';
import { deviceId, saveCursor } from '../store/meta.ts';
import { openStore, requestPersistentStorage, type RaftboxDb } from '../store/schema.ts';
import { HashPool } from '../hashing/hash-pool.ts';
import { browserRuntime, subtleSha256 } from '../net/browser-runtime.ts';
import { discoverServers } from '../net/servers.ts';
import { CachingRemote } from '../sync/caching-remote.ts';
import { IdbReplica } from '../sync/idb-replica.ts';
import { SyncController, type SyncState } from '../sync/sync-controller.ts';

/** The database of this origin's replica. */
export const databaseName = 'raftbox';

export interface Services {
  db: RaftboxDb;
  device: string;
  servers: string[];
  client: RaftboxClient;
  remote: CachingRemote;
  cache: BlockCache;
  pool: HashPool;
  replica: IdbReplica;
  sync: SyncController;
  persisted: boolean;
}

/** Opens the store, connects (lazily: the app works offline) and starts syncing. */
export async function startServices(onSyncState: (state: SyncState) => void, onFileProgress?: (progress: FileProgress) => void): Promise<Services> {
  const db = await openStore(databaseName);
  const [device, servers, persisted] = await Promise.all([deviceId(db), discoverServers(), requestPersistentStorage().catch(() => false)]);
  const client = createClient({ servers, device, runtime: browserRuntime() });
  const cache = new BlockCache(db);
  const remote = new CachingRemote(client, cache, subtleSha256);
  const replica = new IdbReplica(db);
  const sync = new SyncController({
    db,
    replica,
    remote,
    watch: (onChange) =>
      client.watch((info) => {
        void saveCursor(db, info.index);
        onChange(info);
      }),
    device,
    sha256: subtleSha256,
    onState: onSyncState,
    onFileProgress,
    isOnline: () => navigator.onLine,
  });
  return { db, device, servers, client, remote, cache, pool: new HashPool(), replica, sync, persisted };
}
