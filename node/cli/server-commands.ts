// `raftbox node` (one node in this process) and `raftbox cluster` (N node processes on
// loopback plus the web client's HTTP port, stopped together by Ctrl-C).

import { resolve } from 'node:path';
import { startNode } from '../host/node.ts';
import { createNodeLogger, logFnOf, type LogLevelName } from '../host/logger.ts';
import { integerFlag, parseArgs, parseHostPort, parsePeers, UsageError } from './args.ts';
import { runLocalCluster } from './cluster-dashboard.ts';
import { healFlags, healOptions } from './heal-flags.ts';
import { joinCluster } from './join.ts';

const nodeValueFlags = ['--id', '--listen', '--peers', '--join', '--data', '--replication', '--secret', '--cluster-id', '--log-level', ...healFlags];
const levels = ['debug', 'info', 'warn', 'error'] as const;

/** `raftbox node …`: runs one node until SIGINT/SIGTERM; a fatal storage error exits 1 with its sentence. */
export async function nodeCommand(argv: string[]): Promise<number> {
  const args = parseArgs(argv, nodeValueFlags, ['--chaos', '--learner']);
  if (args.positionals.length > 0) throw new UsageError(`node takes no positional arguments, got "${args.positionals[0]}".`);
  const id = args.values.get('--id');
  if (!id || !/^[A-Za-z0-9_-]{1,64}$/.test(id)) throw new UsageError('--id needs a node id of letters, digits, "-" or "_" (at most 64).');
  const listen = parseHostPort('--listen', args.values.get('--listen') ?? '127.0.0.1:7001');
  const peers = parsePeers(args.values.get('--peers'));
  if (peers.has(id)) peers.delete(id);
  const dataDir = args.values.get('--data');
  if (!dataDir) throw new UsageError('--data needs the folder that holds this node\'s log and blocks.');
  const replication = integerFlag(args, '--replication', 3, 1, 64);
  const levelText = args.values.get('--log-level') ?? 'info';
  const minLevel = levels.indexOf(levelText as (typeof levels)[number]);
  if (minLevel === -1) throw new UsageError(`--log-level must be one of ${levels.join(', ')}.`);
  const secret = args.values.get('--secret') ?? process.env.RAFTBOX_SECRET;
  const snapshotEntries = snapshotEntriesFromEnv(process.env.RAFTBOX_SNAPSHOT_ENTRIES);
  const joinUrl = args.values.get('--join');
  if (joinUrl !== undefined && args.values.has('--peers')) throw new UsageError('--join learns the peers from the cluster; leave out --peers.');
  if (joinUrl === undefined && args.flags.has('--learner')) throw new UsageError('--learner applies to a node that joins: add --join URL.');
  const ownUrl = `ws://${listen.host.includes(':') ? `[${listen.host}]` : listen.host}:${listen.port}`;
  const plan = joinUrl === undefined ? null : await joinCluster(/^wss?:\/\//.test(joinUrl) ? joinUrl : `ws://${joinUrl}`, id, ownUrl, !args.flags.has('--learner'), secret);

  const nodeLog = logFnOf(createNodeLogger(id, levels[minLevel]!), id);
  let exiting = false;
  const node = await startNode({
    id,
    host: listen.host,
    port: listen.port,
    peers: plan?.peers ?? peers,
    ...(plan ? { initialMembers: plan.initialMembers } : {}),
    dataDir,
    replication,
    secret,
    clusterId: plan?.clusterId ?? args.values.get('--cluster-id'),
    ...(snapshotEntries === undefined ? {} : { raft: { snapshotEntries } }),
    ...healOptions(args),
    chaos: args.flags.has('--chaos'),
    log: (level, event, fields) => nodeLog(level as LogLevelName, event, fields),
    onFatal: (error) => {
      if (exiting) return;
      exiting = true;
      console.error(`raftbox node ${id}: ${error instanceof Error ? error.message : String(error)}`);
      process.exit(1);
    },
  });
  console.log(`node ${id} of cluster ${node.clusterId} listening on ${node.url} (data ${resolve(dataDir)})`);
  await new Promise<void>((done) => {
    const stop = (): void => {
      if (exiting) return;
      exiting = true;
      void node.stop().then(done);
    };
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
    // A supervisor (raftbox cluster) holds our stdin open; when it dies, even by kill -9,
    // the pipe closes and we stop too, instead of running on unowned.
    if (process.env.RAFTBOX_EXIT_WITH_PARENT === '1') {
      process.stdin.once('close', stop);
      process.stdin.resume();
    }
  });
  return 0;
}

// Tests set it to force snapshots (and InstallSnapshot to a node that fell behind) after a few writes.
function snapshotEntriesFromEnv(text: string | undefined): number | undefined {
  if (text === undefined || text === '') return undefined;
  const entries = Number(text);
  if (!Number.isSafeInteger(entries) || entries < 1) throw new UsageError(`RAFTBOX_SNAPSHOT_ENTRIES must be a whole number of log entries of at least 1, got "${text}".`);
  return entries;
}

/** `raftbox cluster …`: N child node processes on loopback, the web client and the live dashboard (cluster-dashboard.ts); Ctrl-C (or SIGTERM) stops them all. */
export async function clusterCommand(argv: string[]): Promise<number> {
  const args = parseArgs(argv, ['--nodes', '--base-port', '--http-port', '--data', '--replication', '--log-level'], []);
  if (args.positionals.length > 0) throw new UsageError(`cluster takes no positional arguments, got "${args.positionals[0]}".`);
  const count = integerFlag(args, '--nodes', 3, 1, 16);
  const basePort = integerFlag(args, '--base-port', 7001, 1, 65535 - count);
  const httpPort = integerFlag(args, '--http-port', 8080, 0, 65535);
  const data = args.values.get('--data') ?? '.raftbox';
  const replication = integerFlag(args, '--replication', 3, 1, 64);
  return runLocalCluster({ count, basePort, httpPort, data, replication, logLevel: args.values.get('--log-level') ?? 'warn' });
}
