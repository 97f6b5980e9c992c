import { checkLinearizable, kvRegisterModel } from './check/linearizability.ts';
import { SimCluster } from './cluster.ts';
import { healEverything, scheduleRandomFaults } from './faults.ts';
import { findScenario, scenarios } from './scenarios.ts';
import type { CheckFailure, SimOptions, SimResult } from './types.ts';

/** Quiet time after the clients stop, for the last commits to reach every replica. */
const settleMs = 3_000;

/**
 * Run one seed: the workload under faults (random, or a named scenario's script), then
 * everything healed and a liveness window, then the clients stop and the replicas
 * settle. Safety checkers watch throughout; convergence, acknowledged writes and
 * linearizability are checked at the end. Synchronous and deterministic. `observe`, if
 * given, sees the cluster before it starts (sim/replay-recorder.ts records a replay).
 */
export function runSeed(options: SimOptions, observe?: (cluster: SimCluster) => void): SimResult {
  const scenario = options.scenario ? findScenario(options.scenario) : null;
  const cluster = new SimCluster({
    seed: options.seed,
    nodes: scenario?.nodes ?? options.nodes,
    clients: options.clients,
    diskTear: options.faults.diskTear,
    snapshotEntries: scenario?.snapshotEntries ?? options.snapshotEntries,
    trace: options.trace,
    ...(scenario?.raft ? { raft: scenario.raft } : {}),
    ...(options.bug ? { bug: options.bug } : {}),
  });
  const faultPrng = cluster.prng.fork('faults');
  // An observer (the browser replay) may only watch: it must not schedule events or draw randomness.
  observe?.(cluster);
  if (options.network) cluster.network.conditions = { ...cluster.network.conditions, ...options.network };
  cluster.start();
  if (scenario) scenario.run(cluster, faultPrng, options.durationMs);
  else scheduleRandomFaults(cluster, faultPrng, options.faults, options.durationMs);
  cluster.run(options.durationMs);
  // Scenarios check their own expectations before everything is healed.
  const scenarioFailures = scenario?.verify?.(cluster) ?? [];
  healEverything(cluster);
  const healedAt = cluster.queue.now;
  cluster.run(healedAt + options.livenessMs);
  const liveness = checkLiveness(cluster, healedAt, options.livenessMs);
  for (const client of cluster.clients) client.stop();
  cluster.run(cluster.queue.now + settleMs);

  cluster.monitor.checkLogMatching(cluster.liveRafts());
  const failures: CheckFailure[] = [...cluster.monitor.failures, ...scenarioFailures, ...liveness, ...checkConvergence(cluster), ...checkAcknowledged(cluster)];
  const linearizable = checkLinearizable(kvRegisterModel, cluster.history, { stepsMax: 2_000_000 });
  if (linearizable.ok === false) failures.push({ checker: 'linearizability', message: linearizable.message });
  // The trace ends with the final state, so two traces match only if the runs did.
  const digests = cluster.nodes.map((n) => `${n.id}=${cluster.stateMachine(n.id)?.digest ?? '-'}@${n.actor?.raft.log.applied ?? '-'}`);
  cluster.log('sim', 'info', 'end', { events: cluster.queue.processed, sent: cluster.network.sent, delivered: cluster.network.delivered, digests });
  const operations = cluster.clients.reduce((n, c) => n + c.completed, 0);
  const timedOut = cluster.clients.reduce((n, c) => n + c.timedOut, 0);
  return {
    seed: options.seed,
    ok: failures.length === 0,
    failures,
    simulatedMs: cluster.queue.now,
    events: cluster.queue.processed,
    operations,
    timedOut,
    trace: cluster.trace,
    replay: replayCommand(options),
  };
}

export function listScenarios(): { name: string; description: string }[] {
  return scenarios.map(({ name, description }) => ({ name, description }));
}

function checkLiveness(cluster: SimCluster, healedAt: number, windowMs: number): CheckFailure[] {
  const leader = cluster.leader();
  if (!leader) return [{ checker: 'liveness', message: `no leader ${windowMs} ms after every fault was healed` }];
  const progressed = cluster.clients.some((c) => c.lastSuccessMs > healedAt);
  if (cluster.clients.length > 0 && !progressed) return [{ checker: 'liveness', message: `no client operation completed in the ${windowMs} ms after every fault was healed (leader ${leader.id})` }];
  return [];
}

/** Every member applied the same commands, up to the same index. */
function checkConvergence(cluster: SimCluster): CheckFailure[] {
  const leader = cluster.leader();
  if (!leader) return [];
  const config = leader.actor!.raft.config;
  const members = [...config.voters, ...config.learners];
  const states = members.map((id) => ({ id, raft: cluster.node(id).actor?.raft, sm: cluster.stateMachine(id) }));
  const reference = states.find((s) => s.id === leader.id)!;
  for (const state of states) {
    if (!state.raft || !state.sm) return [{ checker: 'convergence', message: `${state.id} is a member but is not running after the cluster settled` }];
    if (state.raft.log.applied !== reference.raft!.log.applied || state.sm.digest !== reference.sm!.digest) {
      return [{ checker: 'convergence', message: `${state.id} applied up to ${state.raft.log.applied} (digest ${state.sm.digest}), but leader ${leader.id} up to ${reference.raft!.log.applied} (digest ${reference.sm!.digest})` }];
    }
  }
  return [];
}

/** Every write a client was told succeeded is in the final state of every member. */
function checkAcknowledged(cluster: SimCluster): CheckFailure[] {
  const leader = cluster.leader();
  if (!leader) return [];
  const sessions = cluster.stateMachine(leader.id)!.sessions;
  for (const client of cluster.clients) {
    const last = client.acknowledged[client.acknowledged.length - 1];
    if (!last) continue;
    // Sessions number commands in order and a client sends one at a time, so the
    // session's last applied number covers every acknowledged write before it.
    if (sessions.lastSeq(client.address) < last.seq) {
      return [{ checker: 'acknowledged-writes', message: `${client.address} was told write #${last.seq} (${JSON.stringify(last.input)}) succeeded, but the final state has only applied up to #${sessions.lastSeq(client.address)} of its commands` }];
    }
  }
  return [];
}

function replayCommand(options: SimOptions): string {
  const parts = [`npm run sim -- --seed ${options.seed}`, `--nodes ${options.nodes}`, `--clients ${options.clients}`, `--duration ${options.durationMs}ms`];
  if (options.scenario) parts.push(`--scenario ${options.scenario}`);
  return parts.join(' ');
}
