// `raftbox admin scrub|gc|remove-node`: operator commands that run a pass (or a drain) now and print what it did.
// They speak the wire protocol directly, one request on one connection, because a
// scrub may take minutes and needs none of the SDK's routing or retries.

import { WebSocket } from 'ws';
import { RaftboxError, raftboxError } from '../../protocol/errors.ts';
import { checkResult, decodeNodeFrame, encodeWire } from '../../protocol/wire-schema.ts';
import { protocolVersion, type ClusterMap, type GcReport, type Request, type RequestOp, type Results, type ScrubReport } from '../../protocol/wire.ts';
import { parseArgs, serverUrls, UsageError, type ParsedArgs } from './args.ts';

/** How long one admin request may take: a scrub re-hashes every block of a node. */
const adminTimeoutMs = 30 * 60 * 1000;
/** How long one remove-node request may wait before it is asked again. */
const removeAttemptMs = 15_000;

/** `raftbox admin SUBCOMMAND …`. */
export async function adminCommand(argv: string[]): Promise<number> {
  const [sub, ...rest] = argv;
  if (sub === 'scrub') return scrub(rest);
  if (sub === 'gc') return gc(rest);
  if (sub === 'remove-node') return removeNode(rest);
  throw new UsageError(`admin needs a subcommand: scrub [--node ID], gc or remove-node ID, not "${sub ?? ''}".`);
}

async function scrub(argv: string[]): Promise<number> {
  const args = parseArgs(argv, ['--server', '--token', '--node'], ['--json']);
  if (args.positionals.length > 0) throw new UsageError(`admin scrub takes no positional arguments, got "${args.positionals[0]}".`);
  const only = args.values.get('--node');
  const map = (await request(args, { op: 'cluster' })).result;
  const nodes = only === undefined ? map.nodes.map((node) => node.id) : [only];
  const total: ScrubReport = { checked: 0, corrupt: 0, repaired: 0, missing: 0 };
  for (const node of nodes) {
    const { result } = await request(args, { op: 'admin.scrub', node }, adminTimeoutMs);
    for (const field of Object.keys(total) as (keyof ScrubReport)[]) total[field] += result[field];
    if (!args.flags.has('--json')) console.log(`${node}: checked ${result.checked}, corrupt ${result.corrupt}, missing ${result.missing}, repaired ${result.repaired}`);
  }
  if (args.flags.has('--json')) console.log(JSON.stringify(total));
  else if (nodes.length > 1) console.log(`all: checked ${total.checked}, corrupt ${total.corrupt}, missing ${total.missing}, repaired ${total.repaired}`);
  return 0;
}

async function gc(argv: string[]): Promise<number> {
  const args = parseArgs(argv, ['--server', '--token'], ['--json']);
  if (args.positionals.length > 0) throw new UsageError(`admin gc takes no positional arguments, got "${args.positionals[0]}".`);
  const report: GcReport = (await request(args, { op: 'admin.gc' }, adminTimeoutMs)).result;
  console.log(args.flags.has('--json') ? JSON.stringify(report) : `deleted ${report.deletedBlocks} blocks, freed ${report.freedBytes} bytes`);
  return 0;
}

// Draining moves a node's blocks to their new owners; the leader answers once the node is
// out of the ring and the configuration. Leadership may move meanwhile (the node may be
// the leader), so the request is repeated, at any node, until one answers it.
async function removeNode(argv: string[]): Promise<number> {
  const args = parseArgs(argv, ['--server', '--token'], ['--json']);
  const [node, ...extra] = args.positionals;
  if (node === undefined || extra.length > 0) throw new UsageError('admin remove-node takes one node id, such as "admin remove-node n3".');
  const token = args.values.get('--token') ?? process.env.RAFTBOX_TOKEN;
  const deadline = Date.now() + adminTimeoutMs;
  let urls = serverUrls(args);
  for (;;) {
    try {
      // Each attempt waits a bounded time: an answer can be lost on its way back (the node
      // that forwarded the request left, leadership moved), and asking again is safe, as
      // the leader joins a repeated request to the removal under way or resumes it.
      const { result } = await requestAt(urls, token, { op: 'admin.remove-node', node }, Math.max(1000, Math.min(removeAttemptMs, deadline - Date.now())));
      console.log(args.flags.has('--json') ? JSON.stringify(result) : `removed ${result.node} after draining ${result.drainedBlocks} blocks`);
      return 0;
    } catch (error) {
      if (!(error instanceof RaftboxError) || !['unavailable', 'not_leader', 'timeout'].includes(error.code) || Date.now() > deadline) throw error;
      urls = await currentUrls(urls, token, node);
      await new Promise((done) => setTimeout(done, 250));
    }
  }
}

// The cluster map names nodes that joined after the --server list was written; the node being removed is asked last.
async function currentUrls(urls: string[], token: string | undefined, removing: string): Promise<string[]> {
  try {
    const { result } = await requestAt(urls, token, { op: 'cluster' }, 5000);
    const nodes = [...result.nodes].sort((a, b) => Number(a.id === removing) - Number(b.id === removing));
    return [...new Set([...nodes.map((entry) => entry.url), ...urls])];
  } catch {
    return urls;
  }
}

/** Sends one request to the first server that answers it; a node that is down or not leading passes it on to the next. */
async function request<Op extends RequestOp>(args: ParsedArgs, body: Extract<Request, { op: Op }>, timeoutMs = 10_000): Promise<{ result: Results[Op]; map: ClusterMap }> {
  return requestAt(serverUrls(args), args.values.get('--token') ?? process.env.RAFTBOX_TOKEN, body, timeoutMs);
}

/** `request` for an explicit list of node URLs and token; node/cli/join.ts uses it too. */
export async function requestAt<Op extends RequestOp>(urls: string[], token: string | undefined, body: Extract<Request, { op: Op }>, timeoutMs = 10_000): Promise<{ result: Results[Op]; map: ClusterMap }> {
  let last: unknown = null;
  // While every node says it knows no leader (an election), the whole list is tried again
  // after a pause, for as long as an election may take; an answer ends it.
  const electionDeadline = Date.now() + electionWaitMs;
  for (let round = 0; round === 0 || (isNoLeader(last) && Date.now() < electionDeadline); round++) {
    if (round > 0) await new Promise((done) => setTimeout(done, electionRetryMs));
    for (const url of urls) {
      try {
        return await requestOnce(url, token, body, timeoutMs);
      } catch (error) {
        last = error;
        // A refusal the cluster meant (not found, already running) is the answer; only connection trouble moves on.
        if (error instanceof RaftboxError && !['unavailable', 'not_leader', 'timeout'].includes(error.code)) throw error;
      }
    }
  }
  throw last instanceof Error ? last : raftboxError('unavailable', 'no server answered; check --server or RAFTBOX_SERVER');
}

/** How long the admin commands wait out an election, and how often they ask again meanwhile. */
const electionWaitMs = 10_000;
const electionRetryMs = 250;

// Only a cluster that answered but has no leader is waited for: a node that does not
// answer at all, or a request that timed out (and may have taken effect), is not retried.
function isNoLeader(error: unknown): boolean {
  return error instanceof RaftboxError && (error.code === 'not_leader' || (error.code === 'unavailable' && error.details?.leader === null));
}

function requestOnce<Op extends RequestOp>(url: string, token: string | undefined, body: Extract<Request, { op: Op }>, timeoutMs: number): Promise<{ result: Results[Op]; map: ClusterMap }> {
  return new Promise((resolve, reject) => {
    const socket = new WebSocket(url, { perMessageDeflate: false });
    let map: ClusterMap | null = null;
    const timer = setTimeout(() => finish(raftboxError('timeout', `${url} did not answer ${body.op} within ${timeoutMs} ms`)), timeoutMs);
    const finish = (outcome: Error | { result: Results[Op]; map: ClusterMap }): void => {
      clearTimeout(timer);
      socket.removeAllListeners();
      socket.on('error', () => {});
      socket.terminate();
      if (outcome instanceof Error) reject(outcome);
      else resolve(outcome);
    };
    socket.on('open', () => socket.send(encodeWire({ type: 'hello', protocol: protocolVersion, role: 'client', ...(token ? { token } : {}), device: 'raftbox-admin' })));
    socket.on('error', (error) => finish(raftboxError('unavailable', `cannot reach ${url}: ${error.message}`)));
    socket.on('close', () => finish(raftboxError('unavailable', `${url} closed the connection before answering`)));
    socket.on('message', (data: Buffer) => {
      try {
        const frame = decodeNodeFrame(new Uint8Array(data.buffer, data.byteOffset, data.byteLength));
        if (frame.type === 'welcome') {
          map = frame.map;
          socket.send(encodeWire({ type: 'request', id: 1, ...body } as never));
        } else if (frame.type === 'error') finish(raftboxError(frame.error.code, frame.error.message));
        else if (frame.type === 'response' && frame.id === 1) {
          if (frame.ok) finish({ result: checkResult(body.op, frame.result) as Results[Op], map: map! });
          else finish(raftboxError(frame.error.code, frame.error.message, frame.error.details));
        }
      } catch (error) {
        finish(error instanceof Error ? error : new Error(String(error)));
      }
    });
  });
}
