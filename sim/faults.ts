import type { SimCluster } from './cluster.ts';
import type { Prng } from './prng.ts';
import type { FaultOptions } from './types.ts';

type Fault = (cluster: SimCluster, prng: Prng) => void;

/**
 * Drive random faults until `untilMs`: every few hundred simulated milliseconds one is
 * drawn from those enabled. Crashes never take down more than a minority at once, so the
 * cluster can keep making progress and the checkers see both failure and recovery; a
 * majority is lost only for short whole-cluster blackouts.
 */
export function scheduleRandomFaults(cluster: SimCluster, prng: Prng, faults: FaultOptions, untilMs: number): void {
  const menu: Fault[] = [];
  if (faults.crash) menu.push(crashOne, crashOne, restartOne, restartOne, crashLeader, blackout, bounce, bounce);
  if (faults.partition) menu.push(partitionRandom, partitionOneWay, isolateLeader, heal, heal);
  if (faults.loss || faults.duplicate || faults.reorder) menu.push((c, p) => roughNetwork(c, p, faults));
  if (faults.flapping) menu.push(flapLink);
  if (menu.length === 0) return;
  const step = (): void => {
    if (cluster.queue.now >= untilMs) return;
    prng.pick(menu)(cluster, prng);
    cluster.queue.schedule(prng.int(100, 1500), step);
  };
  cluster.queue.schedule(prng.int(200, 800), step);
}

/** End of the faulty period: every link healed, every node restarted, the network calm. */
export function healEverything(cluster: SimCluster): void {
  cluster.log('sim', 'info', 'fault.healAll');
  cluster.network.healAll();
  for (const node of cluster.nodes) cluster.restart(node.id);
}

const crashOne: Fault = (cluster, prng) => {
  const up = cluster.nodes.filter((n) => n.up);
  const minority = Math.floor((cluster.nodes.length - 1) / 2);
  if (cluster.nodes.length - up.length >= minority) return restartOne(cluster, prng);
  const victim = prng.pick(up);
  cluster.log('sim', 'info', 'fault.crash', { node: victim.id });
  victim.crash();
};

const crashLeader: Fault = (cluster, prng) => {
  const leader = cluster.leader();
  if (!leader) return crashOne(cluster, prng);
  cluster.log('sim', 'info', 'fault.crashLeader', { node: leader.id });
  leader.crash();
  cluster.queue.schedule(prng.int(50, 1000), () => cluster.restart(leader.id));
};

const restartOne: Fault = (cluster, prng) => {
  const down = cluster.nodes.filter((n) => !n.up);
  if (down.length === 0) return;
  const node = prng.pick(down);
  cluster.log('sim', 'info', 'fault.restart', { node: node.id });
  cluster.restart(node.id);
};

/** Crash every node at once (power loss), then bring them back one by one. */
const blackout: Fault = (cluster, prng) => {
  if (!prng.chance(0.3)) return crashOne(cluster, prng);
  // Staggered returns let a majority elect before the last ones are back.
  powerLoss(cluster, () => prng.int(10, 1500));
};

/** Crash every node at once (losing unsynced writes) and restart each after `restartDelayMs(node)`. */
export function powerLoss(cluster: SimCluster, restartDelayMs: (node: string) => number): void {
  cluster.log('sim', 'info', 'fault.blackout');
  for (const node of cluster.nodes) node.crash();
  for (const node of cluster.nodes) cluster.queue.schedule(restartDelayMs(node.id), () => cluster.restart(node.id));
}

/** Crash a node and restart it almost at once: it loses what it had not synced, mid-conversation. */
const bounce: Fault = (cluster, prng) => {
  const node = prng.pick(cluster.nodes.filter((n) => n.up).length > 0 ? cluster.nodes.filter((n) => n.up) : cluster.nodes);
  cluster.log('sim', 'info', 'fault.bounce', { node: node.id });
  node.crash();
  cluster.queue.schedule(prng.float() * 30, () => cluster.restart(node.id));
};

const partitionRandom: Fault = (cluster, prng) => {
  const shuffled = prng.sample(cluster.ids, cluster.ids.length);
  const cut = prng.int(1, shuffled.length - 1);
  const groups = [shuffled.slice(0, cut), shuffled.slice(cut)];
  cluster.log('sim', 'info', 'fault.partition', { groups });
  cluster.network.partition(groups);
};

const partitionOneWay: Fault = (cluster, prng) => {
  const [from, to] = prng.sample(cluster.ids, 2);
  if (!from || !to) return;
  cluster.log('sim', 'info', 'fault.oneWay', { from, to });
  cluster.network.setLink(from, to, false);
};

const isolateLeader: Fault = (cluster, prng) => {
  const leader = cluster.leader();
  if (!leader) return partitionRandom(cluster, prng);
  cluster.log('sim', 'info', 'fault.isolateLeader', { node: leader.id });
  cluster.network.isolate(leader.id, cluster.ids);
};

const heal: Fault = (cluster) => {
  cluster.log('sim', 'info', 'fault.heal');
  cluster.network.partition([]);
};

const roughNetwork = (cluster: SimCluster, prng: Prng, faults: FaultOptions): void => {
  const conditions = {
    loss: faults.loss ? prng.float() * 0.1 : 0,
    duplicate: faults.duplicate ? prng.float() * 0.05 : 0,
    delayMs: 0.5 + prng.float() * 5,
    jitterMs: faults.reorder ? prng.float() * 27 : 1,
    longDelay: faults.reorder ? prng.float() * 0.02 : 0,
    longDelayMs: faults.reorder ? prng.int(100, 2000) : 0,
    reorder: faults.reorder,
  };
  cluster.log('sim', 'info', 'fault.network', conditions);
  cluster.network.conditions = conditions;
};

/** One link goes up and down every few tens of milliseconds for a while. */
const flapLink: Fault = (cluster, prng) => {
  const [a, b] = prng.sample(cluster.ids, 2);
  if (!a || !b) return;
  cluster.log('sim', 'info', 'fault.flap', { a, b });
  let flips = prng.int(10, 40);
  const flip = (): void => {
    const down = flips-- % 2 === 1 && flips > 0;
    cluster.network.setLink(a, b, !down);
    cluster.network.setLink(b, a, !down);
    if (flips > 0) cluster.queue.schedule(prng.int(20, 120), flip);
  };
  flip();
};
