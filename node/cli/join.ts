// `raftbox node --join URL`: before a new node starts, it asks the cluster at URL for its
// map (who the members are and where they listen) and then to add it: to the placement
// ring and, as a learner, to the Raft configuration. The leader promotes it to voter once
// it has caught up, unless it joins with --learner. Asking again is harmless, so a node
// restarted with the same --join simply goes through it again.

import { RaftboxError, raftboxError } from '../../protocol/errors.ts';
import type { NodeId } from '../../protocol/raft-messages.ts';
import { requestAt } from './admin-commands.ts';

export interface JoinPlan {
  clusterId: string;
  /** Every current member but this node: its first peers. */
  peers: Map<NodeId, string>;
  /** The members the cluster started with; the joining node's log replays from them. */
  initialMembers: NodeId[];
}

/** How long to keep asking while the cluster elects a leader or finishes another membership change. */
const joinTimeoutMs = 60_000;
const retryableCodes = ['unavailable', 'not_leader', 'timeout', 'overloaded'];

/** Asks the cluster reachable at `joinUrl` to add node `id`, which will listen at `url`; resolves with what the node needs to start. */
export async function joinCluster(joinUrl: string, id: NodeId, url: string, voter: boolean, token: string | undefined): Promise<JoinPlan> {
  const deadline = Date.now() + joinTimeoutMs;
  let urls = [joinUrl];
  for (;;) {
    try {
      const { result: map } = await requestAt(urls, token, { op: 'cluster' });
      urls = [...new Set([...map.nodes.filter((node) => node.id !== id).map((node) => node.url), joinUrl])];
      const { result } = await requestAt(urls, token, { op: 'node.join', node: id, url, voter });
      const peers = new Map(map.nodes.filter((node) => node.id !== id && node.url !== '').map((node) => [node.id, node.url] as const));
      return { clusterId: result.clusterId, peers, initialMembers: result.initialMembers };
    } catch (error) {
      const retryable = error instanceof RaftboxError && retryableCodes.includes(error.code);
      if (!retryable || Date.now() > deadline) {
        const reason = error instanceof Error ? error.message : String(error);
        throw raftboxError('unavailable', `node ${id} could not join the cluster at ${joinUrl}: ${reason}`);
      }
      await new Promise((done) => setTimeout(done, 250));
    }
  }
}
