// Command-line parsing for `raftbox`: flags with values, boolean flags and positionals,
// checked against what each command accepts so a typo is a usage error, not a surprise.

/** A bad command line. Its message is the one sentence printed on stderr; exit status 2. */
export class UsageError extends Error {}

export interface ParsedArgs {
  positionals: string[];
  values: Map<string, string>;
  flags: Set<string>;
}

/** Splits argv by the flags a command declares; `--flag=value` and `--flag value` both work. */
export function parseArgs(argv: string[], valueFlags: readonly string[], booleanFlags: readonly string[]): ParsedArgs {
  const parsed: ParsedArgs = { positionals: [], values: new Map(), flags: new Set() };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (!arg.startsWith('--') || arg === '--') {
      parsed.positionals.push(arg);
      continue;
    }
    const eq = arg.indexOf('=');
    const name = eq === -1 ? arg : arg.slice(0, eq);
    if (booleanFlags.includes(name)) {
      if (eq !== -1) throw new UsageError(`${name} takes no value.`);
      parsed.flags.add(name);
      continue;
    }
    if (!valueFlags.includes(name)) throw new UsageError(`unknown option ${name}; run raftbox --help for the options.`);
    const value = eq === -1 ? argv[++i] : arg.slice(eq + 1);
    if (value === undefined || value === '') throw new UsageError(`${name} needs a value.`);
    parsed.values.set(name, value);
  }
  return parsed;
}

/** A whole number within [min, max] from flag `name`, or `fallback` when absent. */
export function integerFlag(args: ParsedArgs, name: string, fallback: number, min = 0, max = Number.MAX_SAFE_INTEGER): number {
  const text = args.values.get(name);
  if (text === undefined) return fallback;
  if (!/^\d+$/.test(text)) throw new UsageError(`${name} needs a whole number, not "${text}".`);
  const value = Number(text);
  if (value < min || value > max) throw new UsageError(`${name} must be between ${min} and ${max}, not ${value}.`);
  return value;
}

/** An optional whole number flag. */
export function optionalInteger(args: ParsedArgs, name: string): number | undefined {
  return args.values.has(name) ? integerFlag(args, name, 0) : undefined;
}

/** Splits `HOST:PORT` (IPv6 in brackets) or throws a UsageError naming `flag`. */
export function parseHostPort(flag: string, text: string): { host: string; port: number } {
  const match = /^(\[[^\]]+\]|[^:]+):(\d+)$/.exec(text);
  if (!match) throw new UsageError(`${flag} needs HOST:PORT, such as 127.0.0.1:7001, not "${text}".`);
  const port = Number(match[2]);
  if (port < 1 || port > 65535) throw new UsageError(`${flag} port must be between 1 and 65535, not ${port}.`);
  return { host: match[1]!.replace(/^\[|\]$/g, ''), port };
}

/** Parses `--peers n2=127.0.0.1:7002,n3=127.0.0.1:7003` into id → ws:// URL. */
export function parsePeers(text: string | undefined): Map<string, string> {
  const peers = new Map<string, string>();
  if (text === undefined || text === '') return peers;
  for (const part of text.split(',')) {
    const eq = part.indexOf('=');
    if (eq <= 0) throw new UsageError(`--peers needs ID=HOST:PORT items separated by commas, not "${part}".`);
    const id = part.slice(0, eq);
    const target = part.slice(eq + 1);
    const url = /^wss?:\/\//.test(target) ? target : `ws://${target}`;
    if (!/^wss?:\/\//.test(url) || !/:\d+$/.test(url)) throw new UsageError(`--peers item "${part}" needs a HOST:PORT after the "=".`);
    if (peers.has(id)) throw new UsageError(`--peers names node ${id} twice.`);
    peers.set(id, url);
  }
  return peers;
}

/** Server URLs from --server, RAFTBOX_SERVER, or the local cluster `npm start` runs. */
export function serverUrls(args: ParsedArgs): string[] {
  const given = args.values.get('--server');
  const source = given !== undefined ? '--server' : process.env.RAFTBOX_SERVER !== undefined ? 'RAFTBOX_SERVER' : null;
  const text = given ?? process.env.RAFTBOX_SERVER ?? 'ws://127.0.0.1:7001,ws://127.0.0.1:7002,ws://127.0.0.1:7003';
  const urls = text
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s.length > 0)
    .map((s) => (/^wss?:\/\//.test(s) ? s : `ws://${s}`));
  // A malformed address is a typo to report now, not a node to retry for twenty seconds.
  for (const url of urls) {
    const parsed = URL.canParse(url) ? new URL(url) : null;
    if (parsed === null || parsed.hostname === '' || (parsed.pathname !== '/' && parsed.pathname !== '')) throw new UsageError(`${source} names "${url}", which is not a node address; give ws://HOST:PORT (or HOST:PORT), several separated by commas.`);
  }
  if (urls.length === 0) throw new UsageError(`${source} names no node; give ws://HOST:PORT (or HOST:PORT), several separated by commas.`);
  return urls;
}
