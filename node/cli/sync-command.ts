// `raftbox sync DIR [--watch] [--json] [--limit-rate RATE] [--device NAME]`: two-way sync
// of a folder with the cluster. Once by default; with --watch, again after every change
// on either side until Ctrl-C. A terminal gets a progress bar; --json prints the summary
// object of CONTRACT.md (one per sync that did something, in watch mode).

import { SingleBar } from 'cli-progress';
import type { SyncProgress, SyncSummary } from '../../protocol/sync-engine.ts';
import { isUnreachable, SyncedFolder } from '../sync/folder-sync.ts';
import { isRaftboxError } from '../../protocol/errors.ts';
import { describe } from './main.ts';
import { parseArgs, serverUrls, UsageError } from './args.ts';

/** `--limit-rate 2M`: bytes per second, with an optional K, M or G (powers of 1024). */
export function parseRate(text: string): number {
  const match = /^(\d+(?:\.\d+)?)([kmg]?)(?:i?b?)?(?:\/s)?$/i.exec(text.trim());
  if (match === null) throw new UsageError(`--limit-rate takes bytes per second such as 500K or 2M, not "${text}"`);
  const scale = { '': 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3 }[match[2]!.toLowerCase() as '' | 'k' | 'm' | 'g'];
  const rate = Math.floor(Number(match[1]) * scale);
  if (rate < 1) throw new UsageError('--limit-rate must be at least 1 byte per second');
  return rate;
}

export async function syncCommand(argv: string[]): Promise<number> {
  const args = parseArgs(argv, ['--server', '--token', '--limit-rate', '--device'], ['--watch', '--json']);
  if (args.positionals.length !== 1) throw new UsageError('expected one folder: raftbox sync DIR [--watch] [--json]');
  const json = args.flags.has('--json');
  const rate = args.values.get('--limit-rate');
  const bar = !json && process.stderr.isTTY ? new ProgressBar() : null;
  const token = args.values.get('--token') ?? process.env.RAFTBOX_TOKEN;
  const device = args.values.get('--device');
  const folder = await SyncedFolder.open({
    dir: args.positionals[0]!,
    servers: serverUrls(args),
    ...(token === undefined ? {} : { token }),
    ...(device === undefined ? {} : { device }),
    ...(rate === undefined ? {} : { limitBytesPerSecond: parseRate(rate) }),
    ...(bar === null ? {} : { onProgress: (progress: SyncProgress) => bar.update(progress) }),
    warn: (message) => console.error(`raftbox sync: ${message}`),
  });
  const report = (summary: SyncSummary): void => {
    bar?.stop();
    console.log(json ? JSON.stringify(contractSummary(summary)) : humanSummary(summary));
  };
  if (!args.flags.has('--watch')) {
    let interrupted = false;
    const stopOnSignal = (): void => {
      interrupted = true;
      folder.cancel();
    };
    process.once('SIGINT', stopOnSignal);
    try {
      report(await folder.sync());
      return 0;
    } catch (error) {
      if (interrupted) {
        bar?.stop();
        console.error(`raftbox sync: stopped by Ctrl-C before it finished. Nothing is lost: blocks already sent stay in the cluster, and the next run of raftbox sync ${args.positionals[0]!} finishes the rest.`);
        return 1;
      }
      if (!isUnreachable(error)) throw error;
      console.error(`raftbox sync: the cluster cannot be reached (${describe(error)}). Nothing is lost: local edits stay in ${folder.root} and sync on the next run.`);
      return 1;
    } finally {
      process.off('SIGINT', stopOnSignal);
      bar?.stop();
      await folder.close();
    }
  }
  if (!json) console.error(`raftbox sync: watching ${folder.root} as device ${folder.state.device}; Ctrl-C stops`);
  let status = 0;
  let stop = (): void => undefined;
  const stopped = new Promise<void>((done) => (stop = done));
  const watching = folder.watch(report, (error) => {
    bar?.stop();
    // A folder moved away or deleted cannot be watched back into place: stop, and say so.
    if (isRaftboxError(error) && error.details?.folderGone === true) {
      console.error(`raftbox sync: ${describe(error)}`);
      status = 1;
      stop();
      return;
    }
    console.error(`raftbox sync: ${describe(error)}; retrying`);
  });
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  await stopped;
  process.off('SIGINT', stop);
  process.off('SIGTERM', stop);
  await watching.stop();
  bar?.stop();
  await folder.close();
  return status;
}

/** Exactly the keys of CONTRACT.md, plus `moves`. */
function contractSummary(summary: SyncSummary): Record<string, unknown> {
  const { uploadedBytes, downloadedBytes, uploadedBlocks, filesUp, filesDown, deleted, conflicts, durationMs, moves } = summary;
  return { uploadedBytes, downloadedBytes, uploadedBlocks, filesUp, filesDown, deleted, conflicts, durationMs, moves };
}

function humanSummary(summary: SyncSummary): string {
  const parts = [
    `${summary.filesUp} up (${formatBytes(summary.uploadedBytes)} in ${summary.uploadedBlocks} blocks)`,
    `${summary.filesDown} down (${formatBytes(summary.downloadedBytes)})`,
    `${summary.deleted} deleted`,
    `${summary.moves} moved`,
  ];
  const conflicts = summary.conflicts.length === 0 ? '' : `\nconflicts (both versions kept):\n${summary.conflicts.map((path) => `  ${path}`).join('\n')}`;
  return `synced in ${summary.durationMs} ms: ${parts.join(', ')}${conflicts}`;
}

function formatBytes(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`;
  const units = ['KiB', 'MiB', 'GiB', 'TiB'];
  let value = bytes / 1024;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return `${value.toFixed(1)} ${units[unit]}`;
}

/** A bytes-transferred bar on stderr, shown once there is something to transfer. */
class ProgressBar {
  private readonly bar = new SingleBar({
    format: 'sync [{bar}] {percentage}% | {done}/{total} | {files} files',
    stream: process.stderr,
    hideCursor: true,
  });
  private active = false;

  update(progress: SyncProgress): void {
    if (progress.bytesTotal === 0 || progress.phase === 'done') return;
    const payload = { done: formatBytes(progress.bytesDone), total: formatBytes(progress.bytesTotal), files: `${progress.filesDone}/${progress.filesTotal}` };
    if (!this.active) {
      this.bar.start(progress.bytesTotal, progress.bytesDone, payload);
      this.active = true;
    }
    this.bar.setTotal(progress.bytesTotal);
    this.bar.update(Math.min(progress.bytesDone, progress.bytesTotal), payload);
  }

  stop(): void {
    if (!this.active) return;
    this.bar.stop();
    this.active = false;
  }
}
