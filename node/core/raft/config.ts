import type { ClusterConfig, ConfigChange, NodeId } from '../../../protocol/raft-messages.ts';

// Configuration entries carry the whole resulting configuration rather than a delta, so
// applying one never depends on what came before, and a node that joins replays the
// log's first entry (the bootstrap configuration) like any other.

const encoder = new TextEncoder();
const decoder = new TextDecoder();

export function encodeConfig(config: ClusterConfig): Uint8Array {
  return encoder.encode(JSON.stringify({ voters: config.voters, learners: config.learners }));
}

/** Decode a configuration entry written by this node or its peers; malformed data is a corrupted log. */
export function decodeConfig(data: Uint8Array): ClusterConfig {
  const value: unknown = JSON.parse(decoder.decode(data));
  if (!isConfig(value)) throw new Error('configuration entry is malformed: the log is corrupted');
  return { voters: [...value.voters], learners: [...value.learners] };
}

function isConfig(value: unknown): value is ClusterConfig {
  if (typeof value !== 'object' || value === null) return false;
  const { voters, learners } = value as Record<string, unknown>;
  return Array.isArray(voters) && Array.isArray(learners) && [...voters, ...learners].every((id) => typeof id === 'string');
}

/**
 * The configuration that results from one single-server change, or an error sentence
 * when the change makes no sense (adding a voter twice, removing the last voter...).
 */
export function applyChange(config: ClusterConfig, change: ConfigChange): ClusterConfig | string {
  const isVoter = config.voters.includes(change.node);
  const isLearner = config.learners.includes(change.node);
  const voters = config.voters.filter((id) => id !== change.node);
  const learners = config.learners.filter((id) => id !== change.node);
  switch (change.type) {
    case 'addVoter':
      if (isVoter) return `${change.node} is already a voter`;
      if (isLearner) return `${change.node} is a learner: promote it instead`;
      return { voters: sorted([...voters, change.node]), learners };
    case 'addLearner':
      if (isVoter || isLearner) return `${change.node} is already a member`;
      return { voters, learners: sorted([...learners, change.node]) };
    case 'promote':
      if (!isLearner) return `${change.node} is not a learner, so it cannot be promoted`;
      return { voters: sorted([...voters, change.node]), learners };
    case 'remove':
      if (!isVoter && !isLearner) return `${change.node} is not a member`;
      if (isVoter && voters.length === 0) return `${change.node} is the last voter and cannot be removed`;
      return { voters, learners };
  }
}

function sorted(ids: NodeId[]): NodeId[] {
  return [...ids].sort();
}

export function quorumSize(voters: number): number {
  return Math.floor(voters / 2) + 1;
}
