// The `raftbox` commands that talk to a running cluster through the Node SDK: status,
// put, get, ls, rm, history, restore. Each prints a short human line or table, or with
// --json exactly one JSON object (shapes in CONTRACT.md).

import { open, stat } from 'node:fs/promises';
import type { Stats } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { formatTable } from '../../bench/table.ts';
import { raftboxError } from '../../protocol/errors.ts';
import { isFolderMode } from '../../protocol/sync-tree.ts';
import type { FileInfo } from '../../protocol/wire.ts';
import { downloadToFile, downloadToStream } from '../download.ts';
import { connect, type Client } from '../sdk.ts';
import { optionalInteger, parseArgs, serverUrls, UsageError, type ParsedArgs } from './args.ts';

const commonValues = ['--server', '--token'];
/** `raftbox put` reads its file in slices of this size. */
const putSliceBytes = 4 * 1024 * 1024;

async function withClient<T>(args: ParsedArgs, work: (client: Client) => Promise<T>): Promise<T> {
  const client = await connect({ servers: serverUrls(args), token: args.values.get('--token') ?? process.env.RAFTBOX_TOKEN });
  try {
    return await work(client);
  } finally {
    await client.close();
  }
}

function positionals(args: ParsedArgs, names: string[], optional = 0): string[] {
  const max = names.length;
  const min = max - optional;
  if (args.positionals.length < min || args.positionals.length > max) {
    throw new UsageError(`expected ${names.join(' ')}, got ${args.positionals.length} argument${args.positionals.length === 1 ? '' : 's'}.`);
  }
  return args.positionals;
}

function print(json: boolean, value: unknown, human: string): void {
  console.log(json ? JSON.stringify(value) : human);
}

/** The size column of ls and history: a deletion and a folder say so rather than show a size. */
function sizeColumn(f: FileInfo): string | number {
  return f.deleted ? 'deleted' : isFolderMode(f.mode) ? 'folder' : f.size;
}

function time(ms: number): string {
  return new Date(ms).toISOString().replace('T', ' ').replace(/\.\d+Z$/, 'Z');
}

async function status(argv: string[]): Promise<number> {
  const args = parseArgs(argv, commonValues, ['--json']);
  positionals(args, []);
  const result = await withClient(args, (client) => client.status());
  const rows = result.nodes.map((n) => [n.id, n.url, n.role, n.term, n.commitIndex, n.appliedIndex, n.blocks, n.bytes]);
  const human = `${formatTable(['node', 'url', 'role', 'term', 'commit', 'applied', 'blocks', 'bytes'], rows)}\nleader ${result.leader ?? '(none)'}, term ${result.term}; blocks ${result.replication.blocks} at R=${result.replication.factor}, ${result.replication.underReplicated} under-replicated`;
  print(args.flags.has('--json'), result, human);
  return 0;
}

async function put(argv: string[]): Promise<number> {
  const args = parseArgs(argv, [...commonValues, '--if-version'], ['--json']);
  const [local, named] = positionals(args, ['LOCAL', 'REMOTE']) as [string, string];
  const ifVersion = optionalInteger(args, '--if-version');
  await checkLocalFile(local);
  // A REMOTE ending in '/' is a folder to put the file in under its own name, as cp does.
  const remote = named.endsWith('/') && named.length > 1 ? `${named}${basename(local)}` : named;
  // Streamed: a file of any size goes up in the memory of a few dozen blocks.
  const { version, size } = await withClient(args, (client) => client.writeFileFrom(remote, () => readPieces(local), ifVersion === undefined ? {} : { ifVersion }));
  print(args.flags.has('--json'), { path: remote, version, size }, `${remote}: version ${version} (${size} bytes)`);
  return 0;
}

async function get(argv: string[]): Promise<number> {
  const args = parseArgs(argv, [...commonValues, '--version'], ['--json']);
  const [remote, named] = positionals(args, ['REMOTE', 'LOCAL']) as [string, string];
  const version = optionalInteger(args, '--version');
  const options = version === undefined ? {} : { version };
  const json = args.flags.has('--json');
  if (named === '-') {
    // The content is the whole of stdout, as with cat; nothing else is printed there.
    if (json) throw new UsageError('LOCAL "-" writes the file to stdout, where --json would print too; use one of them.');
    try {
      await withClient(args, async (client) => (await downloadToStream(client, remote, process.stdout, options)) ?? (await notFound(client, remote, version)));
    } catch (error) {
      // The reader went away (raftbox get x - | head): it has what it wanted, as with cat.
      if ((error as NodeJS.ErrnoException).code === 'EPIPE') return 0;
      throw error;
    }
    return 0;
  }
  const local = await localTarget(named, remote);
  // Ctrl-C stops the download at the next block, and its temporary file goes with it.
  const interrupted = new AbortController();
  const stop = (): void => interrupted.abort(new Error('Ctrl-C'));
  process.once('SIGINT', stop);
  let info: FileInfo;
  try {
    info = await withClient(args, async (client) => (await downloadToFile(client, remote, local, { ...options, signal: interrupted.signal })) ?? (await notFound(client, remote, version)));
  } catch (error) {
    if (!interrupted.signal.aborted) throw error;
    console.error(`raftbox get: stopped by Ctrl-C before ${remote} was whole; nothing was written to ${local}.`);
    return 1;
  } finally {
    process.off('SIGINT', stop);
  }
  print(json, { path: remote, version: info.version, size: info.size }, `${remote}: version ${info.version} → ${local} (${info.size} bytes)`);
  return 0;
}

/**
 * Why `raftbox get` found nothing at `remote`, thrown as `not_found`: a file deleted (or a
 * version that is its deletion) is named as such, with the command that brings it back.
 */
async function notFound(client: Client, remote: string, version: number | undefined): Promise<never> {
  const versions = await client.history(remote);
  const asked = version === undefined ? versions[0] : versions.find((v) => v.version === version);
  if (asked?.deleted) {
    const before = versions.find((v) => v.version < asked.version && !v.deleted);
    const what = version === undefined ? `"${remote}" was deleted (version ${asked.version})` : `version ${version} of "${remote}" is its deletion`;
    const fix = before ? `raftbox restore ${remote} ${before.version} brings back the version before` : `raftbox history ${remote} lists its versions`;
    throw raftboxError('not_found', `${what}; ${fix}`);
  }
  throw raftboxError('not_found', `there is no file at "${remote}"${version === undefined ? '' : ` version ${version}`}; raftbox ls shows what exists`);
}

/**
 * Where `raftbox get` writes `remote`: LOCAL itself, or, when LOCAL is a folder (or ends
 * in '/'), a file in it named as the remote file is, as cp does. A folder that is not
 * there, or a folder where the file would go, is a usage error said plainly, not a
 * failed rename.
 */
async function localTarget(named: string, remote: string): Promise<string> {
  const folderNamed = named.endsWith('/');
  const stats = await stat(named).catch(() => null);
  if (folderNamed || stats?.isDirectory()) {
    if (!stats?.isDirectory()) throw new UsageError(`there is no local folder "${named}" to put ${basename(remote)} in; create it first.`);
    const target = join(named, basename(remote));
    if ((await stat(target).catch(() => null))?.isDirectory()) throw new UsageError(`"${target}" is a folder; name the file to write instead.`);
    return target;
  }
  const parent = dirname(named);
  if (!(await stat(parent).catch(() => null))?.isDirectory()) throw new UsageError(`there is no local folder "${parent}" to write "${named}" in; create it first.`);
  return named;
}

async function ls(argv: string[]): Promise<number> {
  const args = parseArgs(argv, commonValues, ['--json', '--deleted']);
  const [prefix = ''] = positionals(args, ['PREFIX'], 1);
  const files = await withClient(args, (client) => client.list(prefix, { includeDeleted: args.flags.has('--deleted') }));
  const json = { files: files.map((f: FileInfo) => ({ path: f.path, version: f.version, size: f.size, mtime: f.mtime, deleted: f.deleted })) };
  const rows = files.map((f: FileInfo) => [f.path, f.version, sizeColumn(f), time(f.mtime)]);
  print(args.flags.has('--json'), json, files.length === 0 ? '(no files)' : formatTable(['path', 'version', 'size', 'modified'], rows));
  return 0;
}

async function rm(argv: string[]): Promise<number> {
  const args = parseArgs(argv, [...commonValues, '--if-version'], ['--json']);
  const [remote] = positionals(args, ['REMOTE']) as [string];
  const ifVersion = optionalInteger(args, '--if-version');
  const { version } = await withClient(args, async (client) => {
    // A folder's tombstone would leave what it holds, and the folder with it: refused, so
    // nobody believes a folder gone that every device still shows.
    const held = (await client.stat(remote))?.mode;
    if (held !== undefined && isFolderMode(held) && (await client.list(`${remote}/`)).length > 0) {
      throw raftboxError('conflict', `${JSON.stringify(remote)} is a folder that still holds files; remove those first (raftbox ls ${remote}/ lists them)`);
    }
    return client.remove(remote, ifVersion === undefined ? {} : { ifVersion });
  });
  print(args.flags.has('--json'), { path: remote, version, deleted: true }, `${remote}: deleted (version ${version})`);
  return 0;
}

async function history(argv: string[]): Promise<number> {
  const args = parseArgs(argv, commonValues, ['--json']);
  const [remote] = positionals(args, ['REMOTE']) as [string];
  const versions = await withClient(args, (client) => client.history(remote));
  if (versions.length === 0) throw raftboxError('not_found', `there is no file at "${remote}"; raftbox ls shows what exists`);
  const json = { versions: versions.map((f: FileInfo) => ({ version: f.version, size: f.size, mtime: f.mtime, device: f.device, deleted: f.deleted })) };
  const rows = versions.map((f: FileInfo) => [f.version, sizeColumn(f), time(f.mtime), f.device]);
  print(args.flags.has('--json'), json, formatTable(['version', 'size', 'modified', 'device'], rows));
  return 0;
}

/** Makes an old version current again by committing its blocks as a new version (nothing is re-uploaded). */
async function restore(argv: string[]): Promise<number> {
  const args = parseArgs(argv, commonValues, ['--json']);
  const [remote, versionText] = positionals(args, ['REMOTE', 'VERSION']) as [string, string];
  if (!/^\d+$/.test(versionText) || Number(versionText) < 1) throw new UsageError(`VERSION must be a version number such as 3, not "${versionText}".`);
  const wanted = Number(versionText);
  const restored = await withClient(args, async (client) => {
    const current = await client.stat(remote);
    return client.restore(remote, wanted, { ifVersion: current?.version ?? 0 });
  });
  print(args.flags.has('--json'), { path: remote, restored: wanted, version: restored.version }, `${remote}: version ${wanted} restored as version ${restored.version}`);
  return 0;
}

/** Refuses, before any connection, a local path that is missing or a folder. */
async function checkLocalFile(path: string): Promise<void> {
  let stats: Stats;
  try {
    stats = await stat(path);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') throw new UsageError(`there is no local file "${path}".`);
    throw error;
  }
  if (stats.isDirectory()) throw new UsageError(`"${path}" is a folder; put sends one file (raftbox sync is for folders).`);
}

/** The file at `path`, read in slices of one reused buffer (the client copies what it keeps). */
async function* readPieces(path: string): AsyncGenerator<Uint8Array> {
  const handle = await open(path, 'r');
  try {
    const slice = Buffer.allocUnsafe(putSliceBytes);
    for (;;) {
      const { bytesRead } = await handle.read(slice, 0, slice.length, null);
      if (bytesRead === 0) return;
      yield slice.subarray(0, bytesRead);
    }
  } finally {
    await handle.close();
  }
}

export const clientCommands: Record<string, (argv: string[]) => Promise<number>> = { status, put, get, ls, rm, history, restore };
