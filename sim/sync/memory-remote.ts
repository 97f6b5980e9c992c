// A cluster in memory for sync tests: the real metadata state machine (compare-and-set,
// clocks, tombstones, history) applied in order, and a block map standing in for the
// block stores. It can be taken offline, as a network outage looks to a device, and it
// counts what crosses the "network" so tests can say what a sync sent.

import { errorFromWire } from '../../protocol/client-errors.ts';
import { raftboxError } from '../../protocol/errors.ts';
import type { SyncRemote } from '../../protocol/sync-engine.ts';
import type { BlockHash, BlockRef, BlockUpload, FileChange, FileInfo } from '../../protocol/wire.ts';
import { defaultNamespace } from '../../protocol/wire.ts';
import { encodeCommand } from '../../node/core/metadata/commands.ts';
import { MetadataStateMachine } from '../../node/core/metadata/state-machine.ts';

/** The shared cluster; each device talks to it through its own `MemoryRemote`. */
export class MemoryCluster {
  readonly machine = new MetadataStateMachine();
  readonly blocks = new Map<BlockHash, Uint8Array>();
  private index = 0;
  private seq = 0;

  constructor(private readonly sha256: (bytes: Uint8Array) => string) {}

  /** Applies one command as the next log entry and returns its result, throwing refusals as the client would. */
  apply(command: Parameters<typeof encodeCommand>[0]): unknown {
    const result = this.machine.apply({ term: 1, index: ++this.index, type: 'normal', data: encodeCommand(command) });
    if (!result.ok) throw errorFromWire(result.error);
    return result.result;
  }

  putBlock(hash: BlockHash, data: Uint8Array): void {
    if (this.sha256(data) !== hash) throw raftboxError('hash_mismatch', `block bytes do not hash to ${hash}`);
    this.blocks.set(hash, data);
    this.apply({ kind: 'register', client: 'blocks', seq: ++this.seq, blocks: [{ hash, size: data.length, owners: ['m1'] }] });
  }

  /** Every version the cluster retains, of every path. */
  history(): FileInfo[] {
    return this.machine.list(defaultNamespace, '', true).flatMap((file) => this.machine.history(defaultNamespace, file.path));
  }
}

/** One device's connection to a `MemoryCluster`. */
export class MemoryRemote implements SyncRemote {
  online = true;
  blocksSent = 0;
  bytesSent = 0;
  private seq = 0;
  private readonly client: string;

  constructor(
    private readonly cluster: MemoryCluster,
    readonly device: string,
  ) {
    this.client = `session-${device}`;
  }

  async list(prefix: string, options: { includeDeleted: boolean }): Promise<FileInfo[]> {
    this.reach();
    return this.cluster.machine.list(defaultNamespace, prefix, options.includeDeleted);
  }

  async missingBlocks(hashes: BlockHash[]): Promise<Set<BlockHash>> {
    this.reach();
    return new Set(this.cluster.machine.missingBlocks(hashes));
  }

  async putBlocks(blocks: BlockUpload[]): Promise<void> {
    this.reach();
    for (const { hash, data } of blocks) {
      this.cluster.putBlock(hash, data);
      this.blocksSent++;
      this.bytesSent += data.length;
    }
  }

  async getBlock(ref: BlockRef): Promise<Uint8Array> {
    this.reach();
    const data = this.cluster.blocks.get(ref.hash);
    if (data === undefined) throw raftboxError('not_found', `block ${ref.hash} is not stored`);
    return data;
  }

  async commit(changes: FileChange[]): Promise<FileInfo[]> {
    this.reach();
    const result = this.cluster.apply({ kind: 'commit', namespace: defaultNamespace, client: this.client, seq: ++this.seq, device: this.device, changes, pathRules: 1 });
    return (result as { files: FileInfo[] }).files;
  }

  private reach(): void {
    if (!this.online) throw raftboxError('unavailable', `device ${this.device} is offline`);
  }
}
