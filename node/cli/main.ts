// `raftbox COMMAND …`: the command-line face of Raftbox (CONTRACT.md, "The raftbox command").
// Exit status: 0 done, 1 the operation failed, 2 bad usage; an error is one sentence on
// stderr, and with --json stdout holds exactly one JSON object.

import { isRaftboxError, raftboxError } from '../../protocol/errors.ts';
import { adminCommand } from './admin-commands.ts';
import { UsageError } from './args.ts';
import { clientCommands } from './client-commands.ts';
import { commandHelp, wantsHelp } from './help.ts';
import { clusterCommand, nodeCommand } from './server-commands.ts';
import { syncCommand } from './sync-command.ts';

const usage = `usage: raftbox COMMAND [options]

  node --id ID --listen HOST:PORT --peers ID=HOST:PORT,… --data DIR [--replication R]
  node --id ID --listen HOST:PORT --join URL [--learner] --data DIR [--replication R]
       [--heartbeat-ms 250] [--down-after-ms 1500] [--gc-grace-ms 3600000] [--gc-interval-ms 600000]
       [--repair-mib-per-second 256] [--scrub-mib-per-second 4] [--history-versions 100] [--orphan-sweep-ms 300000]
  cluster [--nodes 3] [--base-port 7001] [--http-port 8080] [--data .raftbox]
  status [--json]
  put LOCAL REMOTE [--if-version N]      get REMOTE LOCAL [--version N]
  ls [PREFIX] [--deleted] [--json]        rm REMOTE [--if-version N]
  history REMOTE [--json]                 restore REMOTE VERSION
  admin scrub [--node ID] [--json]        admin gc [--json]
  admin remove-node ID [--json]
  sync DIR [--watch] [--json] [--limit-rate 2M] [--device NAME]
  sim …                                   bench …

common options: --server URL[,URL…] (or RAFTBOX_SERVER), --token T (or RAFTBOX_TOKEN), --json
raftbox COMMAND --help describes one command and all its options.`;

type Command = (argv: string[]) => Promise<number>;

const commands: Record<string, Command> = {
  node: nodeCommand,
  cluster: clusterCommand,
  ...clientCommands,
  admin: adminCommand,
  sync: syncCommand,
  sim: async (argv) => (await import('../../sim/cli/main.ts')).main(argv),
  bench: async (argv) => (await import('../../bench/main.ts')).main(argv),
};

/** Runs one command line and returns the exit status; never throws. */
export async function run(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (name === 'help' && rest.length > 0) return run([rest[0]!, '--help']);
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    console.log(usage);
    return name === undefined ? 2 : 0;
  }
  const command = commands[name];
  if (!command) {
    console.error(`raftbox: unknown command "${name}"; run raftbox --help for the commands.`);
    return 2;
  }
  const page = commandHelp(name);
  if (page !== undefined && wantsHelp(rest)) {
    console.log(page);
    return 0;
  }
  try {
    return await command(rest);
  } catch (error) {
    if (error instanceof UsageError) {
      console.error(`raftbox ${name}: ${error.message}`);
      return 2;
    }
    console.error(`raftbox ${name}: ${describe(error)}`);
    return 1;
  }
}

/** One sentence for a failure, with the error code when the cluster sent one. */
export function describe(error: unknown): string {
  if (isRaftboxError(error)) return `${error.message} (${error.code})`;
  if (isDiskFull(error)) return describe(raftboxError('disk_full', `this machine's disk is full (${error.message}); free some space and run the command again. Nothing the cluster stored is lost, and a sync resumes where it stopped`));
  if (error instanceof Error && 'code' in error && typeof error.code === 'string') return `${error.message} (${error.code})`;
  return error instanceof Error ? error.message : String(error);
}

// A local write that found no room: the file system (ENOSPC) or the user's quota (EDQUOT).
function isDiskFull(error: unknown): error is NodeJS.ErrnoException {
  return error instanceof Error && 'code' in error && (error.code === 'ENOSPC' || error.code === 'EDQUOT');
}
