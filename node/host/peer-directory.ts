// The peers a node talks to, kept in step with the replicated membership: when the log
// says a node joined, every node dials it (and lets it dial in); when a node is
// forgotten, its link is closed. The initial peers come from --peers (or, for a joining
// node, from the cluster map it was given).

import type { NodeId } from '../../protocol/raft-messages.ts';
import type { NodeAddress } from '../../protocol/wire.ts';
import { PeerLink } from './peer-link.ts';
import type { LogFn } from './node.ts';

export interface PeerDirectoryOptions {
  self: NodeId;
  clusterId: string;
  token: string | undefined;
  log: LogFn;
  /** The links the router sends on, shared with it. */
  links: Map<NodeId, PeerLink>;
  /** The ids the server accepts peer connections from, shared with it. */
  allowed: NodeId[];
}

/** See the file comment. */
export class PeerDirectory {
  private readonly urls = new Map<NodeId, string>();
  private closed = false;

  constructor(private readonly options: PeerDirectoryOptions) {}

  /** Dials the listed nodes not dialled yet (or whose URL changed) and hangs up on linked nodes no longer listed. */
  sync(nodes: readonly NodeAddress[]): void {
    if (this.closed) return;
    const { self, links, allowed } = this.options;
    const listed = new Set<NodeId>();
    for (const node of nodes) {
      if (node.id === self || node.url === '') continue;
      listed.add(node.id);
      if (!allowed.includes(node.id)) allowed.push(node.id);
      // A link dialled from --peers before the directory existed is kept as it is.
      if (links.has(node.id) && (this.urls.get(node.id) ?? node.url) === node.url) continue;
      links.get(node.id)?.close();
      links.set(node.id, this.dial(node));
    }
    for (const [id, link] of links) {
      if (listed.has(id) || nodes.length === 0) continue;
      this.options.log('info', 'peer.forgotten', { peer: id });
      link.close();
      links.delete(id);
      this.urls.delete(id);
    }
  }

  close(): void {
    this.closed = true;
  }

  private dial(node: NodeAddress): PeerLink {
    this.urls.set(node.id, node.url);
    const { self, clusterId, token, log } = this.options;
    return new PeerLink({ self, peer: node.id, url: node.url, clusterId, token, log });
  }
}
