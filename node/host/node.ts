import { createHash } from 'node:crypto';
import { isIP } from 'node:net';
import type { NodeId } from '../../protocol/raft-messages.ts';
import type { Address, ClusterMap, NodeAddress, RequestMessage } from '../../protocol/wire.ts';
import { BlockActor, type BlockActorOptions } from '../core/blocks/block-actor.ts';
import { isPackFile } from '../core/blocks/pack-format.ts';
import { MetadataService, type MetadataServiceOptions } from '../core/metadata/service.ts';
import { MetadataStateMachine } from '../core/metadata/state-machine.ts';
import { defaultRaftActorOptions, RaftActor, type RaftActorOptions } from '../core/raft/raft-actor.ts';
import { ActorHost } from './actor-host.ts';
import { openDataDir, type DataDir } from './data-dir.ts';
import { FsStorage } from './fs-storage.ts';
import { sha256Hex } from './sha256.ts';
import { NodeServer } from './node-server.ts';
import { PeerLink } from './peer-link.ts';
import { PeerDirectory } from './peer-directory.ts';
import { NodeTelemetry } from './metrics.ts';
import { nodeHttpHandler } from './node-http.ts';
import { PeerTraffic } from './peer-traffic.ts';

export interface NodeOptions {
  id: NodeId;
  host: string;
  port: number;
  /** Every other node: id → ws:// URL. */
  peers: Map<NodeId, string>;
  dataDir: string;
  /** Copies of each block; the cluster size when smaller. */
  replication: number;
  /** Required to listen anywhere but loopback; clients and peers present it as their token. */
  secret?: string;
  /** Defaults to an id derived from the membership, so nodes started with the same --peers agree. */
  clusterId?: string;
  raft?: Partial<RaftActorOptions>;
  virtualNodes?: number;
  /** Failure detection and garbage collection: heartbeatIntervalMs, downAfterMs, gcGraceMs, gcIntervalMs. */
  metadata?: Partial<Pick<MetadataServiceOptions, 'heartbeatIntervalMs' | 'downAfterMs' | 'gcGraceMs' | 'gcIntervalMs'>>;
  /** Versions kept per path (the retention policy); it must be the same on every node. */
  historyVersionsMax?: number;
  /** Re-replication and scrub: repairBytesPerSecond, scrubBytesPerSecond and the like. */
  blocks?: Partial<Omit<BlockActorOptions, 'node' | 'nodes' | 'sha256' | 'directory'>>;
  log?: (level: string, event: string, fields: Record<string, unknown>) => void;
  /** Called when an actor failed (an assertion, a failed disk): the process should exit. */
  onFatal?: (error: unknown) => void;
  /** Accept `POST /chaos` on the HTTP port to cut or slow peer links; only `raftbox cluster` turns it on. */
  chaos?: boolean;
  /** For a node joining a running cluster: the members the cluster started with (its log replays from them); this node is not among them. */
  initialMembers?: NodeId[];
}

export type LogFn = (level: 'debug' | 'info' | 'warn' | 'error', event: string, fields?: Record<string, unknown>) => void;

/**
 * Raft timing for networks of a few milliseconds: heartbeats every 30 ms and an election
 * after 100–200 ms of silence, so a dead leader is replaced in about 150 ms (PreVote and
 * CheckQuorum keep a node that merely stalled from disrupting a healthy leader). A
 * snapshot every 50,000 entries keeps the log short without snapshotting all the time.
 */
export const hostRaftOptions: Partial<RaftActorOptions> = { tickMs: 10, electionTicks: 10, heartbeatTicks: 3, snapshotEntries: 50_000 };

/** A running node: its actors, its server and its links to the peers. */
export interface RunningNode {
  id: NodeId;
  url: string;
  clusterId: string;
  raft: RaftActor;
  server: NodeServer;
  stop(): Promise<void>;
}

const mailboxLengthMax = 100_000;

/** Refuses options that would expose an unprotected node, with the sentence to show the user. */
export function checkListenPolicy(host: string, secret: string | undefined): void {
  if (secret !== undefined && secret.length > 0) return;
  if (isLoopback(host)) return;
  throw new Error(`refusing to listen on ${host} without a secret: anyone who can reach it could read and write every file; set RAFTBOX_SECRET (or --secret), or listen on 127.0.0.1`);
}

/** The cluster id nodes derive from their shared membership when none is given. */
export function deriveClusterId(ids: NodeId[]): string {
  const digest = createHash('sha256').update([...ids].sort().join(',')).digest('hex');
  return `rbx-${digest.slice(0, 16)}`;
}

/**
 * Starts one node: locks its data folder, recovers the Raft log and the block store from
 * it, starts the metadata and block actors on real hosts, listens, and dials its peers.
 * Every message between actors goes by address, whether the actor is here or on a peer.
 */
export async function startNode(options: NodeOptions): Promise<RunningNode> {
  checkListenPolicy(options.host, options.secret);
  const ids = [options.id, ...options.peers.keys()].sort();
  // A joining node starts from the cluster's own initial ring and configuration, which do not name it.
  const initialMembers = options.initialMembers ?? ids;
  const log: LogFn = (level, event, fields = {}) => options.log?.(level, event, { node: options.id, ...fields });
  const dataDir: DataDir = openDataDir(options.dataDir, { nodeId: options.id, clusterId: options.clusterId ?? deriveClusterId(ids) });
  let url = `ws://${formatHost(options.host)}:${options.port}`;
  const nodes: NodeAddress[] = ids.map((id) => ({ id, url: id === options.id ? url : options.peers.get(id)! }));
  const replication = Math.min(options.replication, ids.length);
  const virtualNodes = options.virtualNodes ?? 64;
  const links = new Map<NodeId, PeerLink>();
  let server: NodeServer | null = null;
  let fatal = false;
  const onCrash = (error: unknown): void => {
    if (fatal) return;
    fatal = true;
    log('error', 'node.fatal', { error: error instanceof Error ? error.message : String(error) });
    options.onFatal?.(error);
  };

  // Sending is fire and forget for the actors: a message that cannot be encoded or
  // delivered is logged and dropped here, never thrown back into an actor.
  const traffic = new PeerTraffic(options.chaos === true);
  const route = (to: Address, message: unknown): void => {
    try {
      routeUnsafe(to, message);
    } catch (error) {
      log('error', 'route.failed', { to, type: (message as { type?: unknown }).type, error: error instanceof Error ? error.message : String(error) });
    }
  };
  const routeUnsafe = (to: Address, message: unknown): void => {
    const slash = to.indexOf('/');
    const node = slash === -1 ? to : to.slice(0, slash);
    if (node === options.id) return server?.deliver(to, message as never);
    if (traffic.outgoing(node, message, () => routeUnsafe(to, message))) return;
    const link = links.get(node);
    if (link?.up) return link.send({ to, message: message as never });
    // A request for an unreachable node (a forward to a leader that just died) is answered
    // at once, so the client retries elsewhere instead of waiting out its timeout.
    const request = message as Partial<RequestMessage>;
    if (request.type === 'request' && typeof request.from === 'string' && typeof request.id === 'number') {
      const error = { code: 'unavailable', message: `node ${node} is unreachable from ${options.id}; retry shortly`, details: { node } };
      return route(request.from, { type: 'response', id: request.id, ok: false, error });
    }
    if (link) link.send({ to, message: message as never });
    else log('debug', 'route.unknown', { to });
  };
  const raftHost = new ActorHost({ address: options.id, mailboxLengthMax, storage: (deliver) => new FsStorage(dataDir.dir, deliver), route, log, onCrash });
  // Pack batches end on the pack format's alignment, so they can skip the page cache.
  const blocksHost = new ActorHost({ address: `${options.id}/blocks`, mailboxLengthMax, storage: (deliver) => new FsStorage(dataDir.dir, deliver, { direct: isPackFile }), route, log, onCrash });
  const deliverLocal = (to: Address, message: unknown): boolean => {
    if (to === options.id) return raftHost.deliver(message);
    if (to === `${options.id}/blocks`) return blocksHost.deliver(message);
    route(to, message);
    return true;
  };

  let raft: RaftActor | null = null;
  let metadataService: MetadataService | null = null;
  let blockActor: BlockActor | null = null;
  const stateMachine = new MetadataStateMachine({ ringMembers: initialMembers, ...(options.historyVersionsMax === undefined ? {} : { historyVersionsMax: options.historyVersionsMax }) });
  raftHost.start((env) => {
    const service = (metadataService = new MetadataService(env, { ...options.metadata, node: options.id, clusterId: dataDir.clusterId, nodes, replication, virtualNodes }, stateMachine));
    raft = new RaftActor(env, { ...defaultRaftActorOptions, ...hostRaftOptions, ...options.raft, id: options.id, initialVoters: initialMembers }, stateMachine, (message, actor) => service.handle(message, actor));
    return raft;
  });
  // GC may not drop a copy written more recently than its grace period (tests use short ones).
  const dropProtectMs = Math.min(10_000, options.metadata?.gcGraceMs ?? 10_000);
  const orphanGraceMs = options.metadata?.gcGraceMs ?? 60 * 60 * 1000;
  const blockOptions = { dropProtectMs, orphanGraceMs, ...options.blocks, node: options.id, nodes: ids, replication, virtualNodes, directory: stateMachine };
  blocksHost.start((env) => (blockActor = new BlockActor(env, { ...blockOptions, sha256: sha256Hex })));

  const clusterMap = (): ClusterMap => ({ clusterId: dataDir.clusterId, nodes: metadataService?.clusterNodes() ?? nodes, leader: raft?.leader ?? null, replication, virtualNodes });
  const telemetry = new NodeTelemetry({ id: options.id, replication, virtualNodes, raft: () => raft, service: () => metadataService, stateMachine, blocks: () => blockActor, sessions: () => server?.sessionCount ?? 0, traffic });
  const allowedPeers = ids.filter((id) => id !== options.id);
  server = new NodeServer({ self: options.id, host: options.host, port: options.port, clusterId: dataDir.clusterId, peers: allowedPeers, secret: options.secret, clusterMap, deliverLocal, log, onPeerMessage: (message) => traffic.incoming(message), http: nodeHttpHandler(telemetry, traffic) });
  try {
    await server.listen();
  } catch (error) {
    raftHost.stop();
    blocksHost.stop();
    dataDir.release();
    throw error;
  }
  for (const [peer, peerUrl] of options.peers) {
    links.set(peer, new PeerLink({ self: options.id, peer, url: peerUrl, clusterId: dataDir.clusterId, token: options.secret, log }));
  }
  // Nodes that join (or are forgotten) through the log are dialled (or hung up on) as it applies.
  const peerDirectory = new PeerDirectory({ self: options.id, clusterId: dataDir.clusterId, token: options.secret, log, links, allowed: allowedPeers });
  stateMachine.onMembersChanged = () => peerDirectory.sync(metadataService?.clusterNodes() ?? []);
  stateMachine.onMembersChanged();
  if (options.port === 0) {
    // Asked for any free port: the map must carry the one the OS chose.
    url = `ws://${formatHost(options.host)}:${server.port}`;
    nodes.find((node) => node.id === options.id)!.url = url;
  }
  log('info', 'node.started', { url, clusterId: dataDir.clusterId, data: dataDir.dir });

  let stopped = false;
  return {
    id: options.id,
    url,
    clusterId: dataDir.clusterId,
    raft: raft!,
    server,
    async stop() {
      if (stopped) return;
      stopped = true;
      peerDirectory.close();
      for (const link of links.values()) link.close();
      traffic.close();
      raftHost.stop();
      blocksHost.stop();
      await server!.close();
      await Promise.all([(raftHost.storage as FsStorage).close(), (blocksHost.storage as FsStorage).close()]);
      dataDir.release();
    },
  };
}

function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '::1' || (isIP(host) === 4 && host.startsWith('127.'));
}

function formatHost(host: string): string {
  return isIP(host) === 6 ? `[${host}]` : host;
}
