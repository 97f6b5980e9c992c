// What `raftbox COMMAND --help` prints: the command's synopsis, what it does, and every
// option it takes, with the defaults. `raftbox --help` lists the commands (main.ts).

const common = `common options:
  --server URL[,URL…]  the nodes to talk to (or RAFTBOX_SERVER); any one will do, the
                       others are tried if it is down. Default: the local cluster of
                       \`npm start\`, ws://127.0.0.1:7001,7002,7003
  --token T            the session token (or RAFTBOX_TOKEN); not needed on loopback`;

const exit = 'exit status: 0 done, 1 the operation failed, 2 bad usage; an error is one sentence on stderr.';

function page(synopsis: string, body: string, options: string, withCommon = true): string {
  return [`usage: ${synopsis}`, '', body, '', options, ...(withCommon ? ['', common] : []), '', exit].join('\n');
}

const help: Record<string, string> = {
  node: page(
    `raftbox node --id ID --listen HOST:PORT --peers ID=HOST:PORT,… --data DIR [options]
       raftbox node --id ID --listen HOST:PORT --join URL [--learner] --data DIR [options]`,
    `Runs one cluster node in this process until Ctrl-C or SIGTERM. Restarting it with the
same --data resumes where it stopped. A node listening anywhere but loopback refuses to
start without a secret.`,
    `options:
  --id ID                    this node's id (letters, digits, "-" or "_")
  --listen HOST:PORT         where peers and clients reach it (default 127.0.0.1:7001)
  --peers ID=HOST:PORT,…     the other members of a new cluster
  --join URL                 join a running cluster through any of its nodes instead
  --learner                  with --join: receive the log without voting
  --data DIR                 the folder for its log, snapshots and blocks (required)
  --replication R            copies of each block (default 3, or the cluster size if smaller)
  --secret S                 the shared secret (or RAFTBOX_SECRET); required off loopback
  --cluster-id ID            refuse peers of any other cluster (default: derived from the member ids)
  --log-level LEVEL          debug, info (default), warn or error; JSON lines on stdout
  --heartbeat-ms 250         how often nodes report that they are alive
  --down-after-ms 1500       silence after which a node counts as down
  --repair-mib-per-second 256   bandwidth for re-replicating lost copies
  --scrub-mib-per-second 4      bandwidth for re-hashing stored blocks (0: no scrub)
  --gc-grace-ms 3600000      age an unreferenced block must reach before it is deleted
  --gc-interval-ms 600000    how often garbage collection runs
  --history-versions 100     versions kept per file
  --orphan-sweep-ms 300000   how often block files no upload registered are looked for (0: never)
  --chaos                    accept the dashboard's fault injection (cut off, slow down)`,
    false,
  ),
  cluster: page(
    'raftbox cluster [--nodes 3] [--base-port 7001] [--http-port 8080] [--data .raftbox]',
    `Starts N node processes on loopback, plus the web client and the live dashboard on the
HTTP port, and prints their URLs. Ctrl-C stops them all. Restarting with the same --data
resumes the same cluster.`,
    `options:
  --nodes N          node processes (default 3, at most 16)
  --base-port P      the first node's port; the others follow (default 7001)
  --http-port P      the web client and dashboard (default 8080; 0 picks a free port)
  --data DIR         one folder per node inside it (default .raftbox)
  --replication R    copies of each block (default 3)
  --log-level LEVEL  the nodes' log level (default warn)`,
    false,
  ),
  status: page('raftbox status [--json]', 'Shows the leader, the term, each node\'s role and log indexes, and how many blocks lack copies.', '  --json   one JSON object (shape in CONTRACT.md)'),
  put: page(
    'raftbox put LOCAL REMOTE [--if-version N] [--json]',
    "Stores the file LOCAL at the path REMOTE as a new version. Only blocks the cluster lacks are sent. A REMOTE ending in '/' is a folder: the file goes in it under its own name.",
    `options:
  --if-version N   write only if REMOTE is at version N now (0: only if it does not exist)
  --json           one JSON object: the path, version and size`,
  ),
  get: page(
    'raftbox get REMOTE LOCAL [--version N] [--json]',
    "Writes the file at REMOTE to LOCAL (a temporary file first, then renamed). Every block is checked against its hash. A LOCAL that is a folder (or ends in '/') gets the file under its own name; LOCAL '-' writes it to stdout.",
    `options:
  --version N   an older version (see raftbox history)
  --json        one JSON object: the path, version and size`,
  ),
  ls: page(
    'raftbox ls [PREFIX] [--deleted] [--json]',
    'Lists the stored files, or those under PREFIX, with version, size and time.',
    `options:
  --deleted   include deleted files (their tombstones)
  --json      one JSON object (shape in CONTRACT.md)`,
  ),
  rm: page(
    'raftbox rm REMOTE [--if-version N] [--json]',
    'Deletes REMOTE: a new version that is a tombstone. Its history stays, so raftbox restore brings it back.',
    `options:
  --if-version N   delete only if REMOTE is at version N now
  --json           one JSON object`,
  ),
  history: page('raftbox history REMOTE [--json]', 'Lists the kept versions of REMOTE, with size, time and the device that wrote each.', '  --json   one JSON object (shape in CONTRACT.md)'),
  restore: page(
    'raftbox restore REMOTE VERSION [--json]',
    'Makes the content of an older VERSION of REMOTE current again, as a new version; the versions between stay in the history.',
    '  --json   one JSON object',
  ),
  sync: page(
    'raftbox sync DIR [--watch] [--json] [--limit-rate 2M] [--device NAME]',
    `Two-way sync of the folder DIR with the cluster: uploads local changes, downloads remote
ones, and keeps both sides of a concurrent edit (the loser as a "conflicted copy").
Its state is in DIR/.raftbox/; an interrupted sync finishes on the next run. Patterns in
DIR/.raftboxignore (gitignore syntax) are left out.`,
    `options:
  --watch            keep syncing after every local or remote change until Ctrl-C
  --json             the summary as one JSON object (one per sync with --watch)
  --limit-rate RATE  upload at most RATE bytes per second, e.g. 500K or 2M
  --device NAME      this folder's device name, fixed at its first sync (default: the
                     host name and a random suffix); conflict copies carry it`,
  ),
  admin: page(
    `raftbox admin scrub [--node ID] [--json]
       raftbox admin gc [--json]
       raftbox admin remove-node ID [--json]`,
    `scrub        re-hashes every stored block now (or only node ID's) and repairs bad copies
gc           deletes the blocks no kept version uses (past their grace period)
remove-node  moves node ID's blocks to the other nodes, then takes it out of the cluster`,
    '  --json   one JSON object',
  ),
};

/** The help page of `command`, or undefined when it has none of its own (sim and bench print theirs). */
export function commandHelp(command: string): string | undefined {
  return help[command];
}

/** Whether `argv` (a command's arguments) asks for help: `--help` or `-h` anywhere. */
export function wantsHelp(argv: readonly string[]): boolean {
  return argv.includes('--help') || argv.includes('-h');
}
