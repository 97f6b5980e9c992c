// The `raftbox node` flags that tune failure detection, re-replication, scrub and
// garbage collection. Each has a default fit for a cluster on one network.

import type { NodeOptions } from '../host/node.ts';
import { integerFlag, type ParsedArgs } from './args.ts';

export const healFlags = ['--history-versions', '--heartbeat-ms', '--down-after-ms', '--gc-grace-ms', '--gc-interval-ms', '--repair-mib-per-second', '--scrub-mib-per-second', '--orphan-sweep-ms'];

const mebibyte = 1024 * 1024;
const dayMs = 24 * 60 * 60 * 1000;

/** The metadata and block options the heal flags set; flags not given keep the actors' defaults. */
export function healOptions(args: ParsedArgs): Pick<NodeOptions, 'metadata' | 'blocks' | 'historyVersionsMax'> {
  const metadata: NonNullable<NodeOptions['metadata']> = {};
  const blocks: NonNullable<NodeOptions['blocks']> = {};
  if (args.values.has('--heartbeat-ms')) metadata.heartbeatIntervalMs = integerFlag(args, '--heartbeat-ms', 250, 10, 60_000);
  if (args.values.has('--down-after-ms')) metadata.downAfterMs = integerFlag(args, '--down-after-ms', 1500, 50, 3_600_000);
  if (args.values.has('--gc-grace-ms')) metadata.gcGraceMs = integerFlag(args, '--gc-grace-ms', 3_600_000, 0, 365 * dayMs);
  if (args.values.has('--gc-interval-ms')) metadata.gcIntervalMs = integerFlag(args, '--gc-interval-ms', 600_000, 1000, 365 * dayMs);
  if (args.values.has('--repair-mib-per-second')) blocks.repairBytesPerSecond = integerFlag(args, '--repair-mib-per-second', 256, 1, 100_000) * mebibyte;
  if (args.values.has('--scrub-mib-per-second')) blocks.scrubBytesPerSecond = integerFlag(args, '--scrub-mib-per-second', 4, 0, 100_000) * mebibyte;
  if (args.values.has('--orphan-sweep-ms')) blocks.orphanSweepIntervalMs = integerFlag(args, '--orphan-sweep-ms', 300_000, 0, 365 * dayMs);
  // Retention decides what GC may collect; every node must apply the same, as with --replication.
  const history = args.values.has('--history-versions') ? { historyVersionsMax: integerFlag(args, '--history-versions', 100, 1, 100_000) } : {};
  return { metadata, blocks, ...history };
}
