// The sync planner: a pure function of three trees (local now, remote now, and the base
// both last agreed on) that says what to do to make them agree again. It is the one
// brain shared by every sync host: `raftbox sync` on a folder, the browser replica on
// IndexedDB, and the convergence test's in-memory devices.
//
// Per path, a side "changed" when it differs from the base. One side changed: carry the
// change to the other. Both changed to the same content: only record it. Both changed
// differently: vector clocks decide. A remote version whose clock dominates the clock of
// the local edit has seen that edit, so it wins; concurrent edits keep both, the local
// one renamed to a conflict copy. Only a host that advances a clock on every local edit
// (the browser) can claim dominance; a host that infers local clocks from the base (a
// folder, edited by any program) cannot tell a seen edit from a new one, so for it every
// such pair is concurrent: a needless conflict copy costs a file, a wrong guess the data. An edit against a delete keeps the edit and reports the
// conflict. Nothing is dropped silently: every action that replaces or removes local data
// names the local entry it expects, so a host refuses it if the file changed meanwhile.
//
// Moves are found by content: a path deleted on one side and a new path with the same
// blocks on that side is a move, applied on the other side as a rename (locally) or as
// one delete + create commit that uploads nothing (remotely). Several candidates with the
// same content are paired by the closest names (Levenshtein distance).

import { distance } from 'fastest-levenshtein';
import { parentFolders } from './paths.ts';
import { compareClocks, incrementClock, mergeClocks } from './vector-clock.ts';
import {
  contentKey,
  sameContent,
  type BaseEntry,
  type BaseTree,
  type LocalEntry,
  type LocalTree,
  type RemoteEntry,
  type RemoteTree,
  type SyncEntry,
} from './sync-tree.ts';
import type { VectorClock } from './wire.ts';

export type SyncAction =
  /** Rename the local entry at `path` to `copyPath` (it lost a conflict and is kept under a new name). */
  | { type: 'conflict-copy'; path: string; copyPath: string; expect: LocalEntry }
  /** Rename a local entry, as the remote side moved it; no content travels. */
  | { type: 'move-local'; from: string; to: string; remote: RemoteEntry; expect: LocalEntry }
  /** Write the remote content at `path` locally, if the local entry is still `expect` (null: nothing there). */
  | {
      type: 'download';
      path: string;
      remote: RemoteEntry;
      expect: LocalEntry | null;
      /**
       * Set when `path` is where this device moved the file the remote holds at
       * `movedFrom`, which the remote has edited since: the download brings the edit to
       * the moved file, and the base records it at `movedFrom`, so the next pass finds the
       * move and commits it.
       */
      movedFrom?: string;
    }
  /** Commit the local entry (uploading the blocks the cluster lacks), if the remote is still at `ifVersion`. */
  | { type: 'upload'; path: string; local: LocalEntry; ifVersion: number; clock: VectorClock }
  /** Commit a local move: a tombstone at `from` and the same blocks at `to`, in one commit. */
  | { type: 'move-remote'; from: string; to: string; local: LocalEntry; fromVersion: number; toVersion: number; clock: VectorClock }
  /** Commit a tombstone for a path deleted locally. */
  | { type: 'delete-remote'; path: string; base: BaseEntry; ifVersion: number; clock: VectorClock }
  /** Remove the local entry, as the remote deleted it, if it is still `expect`. */
  | { type: 'delete-local'; path: string; remote: RemoteEntry; expect: LocalEntry }
  /** Both sides already agree (or both deleted): only the base changes. */
  | { type: 'record'; path: string; base: BaseEntry | null };

export type ConflictReason =
  /** Both sides changed the content concurrently; the local one is kept as a conflict copy. */
  | 'both-edited'
  /** The local side edited a path the remote deleted; the edit is kept and uploaded. */
  | 'edited-deleted-remotely'
  /** The remote side edited a path deleted locally; the edit is kept and downloaded. */
  | 'deleted-edited-remotely';

export interface SyncConflict {
  path: string;
  reason: ConflictReason;
  /** Where the local side's content went, for `both-edited`. */
  copyPath?: string;
}

export interface SyncPlan {
  /** In the order a host should run them: local renames, downloads, commits, local deletes, records. */
  actions: SyncAction[];
  conflicts: SyncConflict[];
}

export interface PlanOptions {
  /** This replica's device id: it advances clocks and names conflict copies. */
  device: string;
  /** When the conflicts happened, as `YYYY-MM-DD HHMMSS` in the user's time zone (hosts format it; the planner has no clock). */
  conflictStamp: string;
}

/** Work in progress while planning: the actions so far and the paths already claimed. */
interface Planning {
  local: LocalTree;
  remote: RemoteTree;
  base: BaseTree;
  options: PlanOptions;
  actions: SyncAction[];
  conflicts: SyncConflict[];
  /** Every path that exists or will exist, so conflict copies get fresh names. */
  taken: Set<string>;
  /** Folders under which the remote holds something this plan does not delete. */
  remoteFolders: Set<string>;
  /** The same for the local side. */
  localFolders: Set<string>;
}

/**
 * Plans one sync of `local` against `remote` from their last agreement `base`. Pure and
 * deterministic: the same trees and options always give the same plan. Running the plan
 * and planning again (with nothing changed meanwhile) yields only `record` actions or
 * none, so an interrupted run is finished by the next.
 */
export function planSync(local: LocalTree, remote: RemoteTree, base: BaseTree, options: PlanOptions): SyncPlan {
  const planning: Planning = {
    local,
    remote,
    base,
    options,
    actions: [],
    conflicts: [],
    taken: new Set([...local.keys(), ...remote.keys()].filter((path) => local.has(path) || !remote.get(path)!.deleted)),
    remoteFolders: keptRemoteFolders(local, remote, base),
    localFolders: keptLocalFolders(local, remote, base),
  };
  const paths = [...new Set([...local.keys(), ...remote.keys(), ...base.keys()])].sort();
  const moved = planMoves(planning);
  for (const path of paths) {
    if (!moved.has(path)) planPath(planning, path);
  }
  keepFoldersWithSurvivors(planning);
  return { actions: orderActions(planning.actions), conflicts: planning.conflicts };
}

function planPath(planning: Planning, path: string): void {
  const local = planning.local.get(path) ?? null;
  const base = planning.base.get(path) ?? null;
  const recorded = planning.remote.get(path) ?? null;
  // A folder recorded while the cluster only implied it (version 0), and implied no more:
  // gone there, as if deleted, though no tombstone says so.
  const live = recorded ?? (base?.version === 0 ? { ...base, deleted: true, device: '' } : null);
  const remote = live !== null && !live.deleted ? live : null;
  const localChanged = !sameOrBothAbsent(local, base);
  const remoteChanged = base === null ? remote !== null : recorded === null || recorded.version !== base.version;
  if (!localChanged && !remoteChanged) return;
  // A file made here where the remote keeps a folder with contents: the folder stays (it
  // cannot become a file while it holds anything), and the file moves aside.
  if (localChanged && local?.kind === 'file' && remote?.kind === 'dir' && planning.remoteFolders.has(path)) return keepBoth(planning, path, local, remote);
  // And the reverse: a file made there where a folder here still holds what this plan
  // does not delete. The folder moves aside with what it holds; the file comes here. (A
  // folder made here over a file the remote left alone simply replaces it.)
  if (remoteChanged && local?.kind === 'dir' && remote?.kind === 'file' && planning.localFolders.has(path)) return keepBoth(planning, path, local, remote);
  if (localChanged && !remoteChanged) return pushLocal(planning, path, local, base, live);
  if (!localChanged) return pullRemote(planning, path, local, live, remote);
  if (local === null && remote === null) return record(planning, path, null);
  if (local !== null && remote !== null && sameContent(local, remote)) return record(planning, path, baseOf(remote));
  resolveBothChanged(planning, path, local, live!, remote, base);
}

/** Only the local side changed: commit it. */
function pushLocal(planning: Planning, path: string, local: LocalEntry | null, base: BaseEntry | null, live: RemoteEntry | null): void {
  const ifVersion = live?.version ?? 0;
  if (local !== null) {
    planning.actions.push({ type: 'upload', path, local, ifVersion, clock: local.clock ?? base?.clock ?? {} });
  } else if (base !== null && live !== null && !live.deleted) {
    planning.actions.push({ type: 'delete-remote', path, base, ifVersion, clock: base.clock });
  } else {
    record(planning, path, null);
  }
}

/** Only the remote side changed: bring it here. */
function pullRemote(planning: Planning, path: string, local: LocalEntry | null, live: RemoteEntry | null, remote: RemoteEntry | null): void {
  if (remote !== null) {
    if (local !== null && sameContent(local, remote)) return record(planning, path, baseOf(remote));
    planning.actions.push({ type: 'download', path, remote, expect: local });
  } else if (local !== null && live !== null) {
    planning.actions.push({ type: 'delete-local', path, remote: live, expect: local });
  } else {
    record(planning, path, null);
  }
}

/** Both sides changed, to different things. */
function resolveBothChanged(
  planning: Planning,
  path: string,
  local: LocalEntry | null,
  live: RemoteEntry,
  remote: RemoteEntry | null,
  base: BaseEntry | null,
): void {
  const mine = localClock(planning, local, base);
  // The remote version saw this edit (committed by an earlier run): it supersedes the
  // local state, which the cluster's history holds.
  const order = local?.clock === undefined && local !== null ? 'concurrent' : compareClocks(live.clock, mine);
  if (order === 'after' || order === 'equal') return pullRemote(planning, path, local, live, remote);
  if (local === null) {
    // Deleted here, edited there: the edit survives.
    planning.conflicts.push({ path, reason: 'deleted-edited-remotely' });
    planning.actions.push({ type: 'download', path, remote: remote!, expect: null });
    return;
  }
  if (remote === null) {
    // Edited here, deleted there: the edit survives, on top of the tombstone.
    planning.conflicts.push({ path, reason: 'edited-deleted-remotely' });
    planning.actions.push({ type: 'upload', path, local, ifVersion: live.version, clock: mergeClocks(mine, live.clock) });
    return;
  }
  keepBoth(planning, path, local, remote);
}

/** Concurrent edits: the committed version keeps the path, the local one moves aside. */
function keepBoth(planning: Planning, path: string, local: LocalEntry, remote: RemoteEntry): void {
  const copyPath = conflictCopyPath(planning, path);
  planning.conflicts.push({ path, reason: 'both-edited', copyPath });
  planning.actions.push({ type: 'conflict-copy', path, copyPath, expect: local });
  planning.actions.push({ type: 'upload', path: copyPath, local, ifVersion: planning.remote.get(copyPath)?.version ?? 0, clock: {} });
  planning.actions.push({ type: 'download', path, remote, expect: null });
}

/**
 * The folders holding a local entry that this plan will not delete: every local entry
 * but those left as the base had them whose remote record is a tombstone.
 */
function keptLocalFolders(local: LocalTree, remote: RemoteTree, base: BaseTree): Set<string> {
  const folders = new Set<string>();
  for (const [path, entry] of local) {
    if (remote.get(path)?.deleted === true && sameOrBothAbsent(entry, base.get(path) ?? null)) continue;
    for (const folder of parentFolders(path)) folders.add(folder);
  }
  return folders;
}

/**
 * The folders holding a remote entry that this plan will not delete: every live remote
 * entry but those the local side deleted and the remote left as the base had them.
 */
function keptRemoteFolders(local: LocalTree, remote: RemoteTree, base: BaseTree): Set<string> {
  const folders = new Set<string>();
  for (const [path, entry] of remote) {
    if (entry.deleted || (!local.has(path) && base.get(path)?.version === entry.version)) continue;
    for (const folder of parentFolders(path)) folders.add(folder);
  }
  return folders;
}

/** The clock of the local state of a path: its own, or the base's advanced by this device when it differs from the base. */
function localClock(planning: Planning, local: LocalEntry | null, base: BaseEntry | null): VectorClock {
  if (local?.clock !== undefined) return local.clock;
  const seen = base?.clock ?? {};
  return sameOrBothAbsent(local, base) ? seen : incrementClock(seen, planning.options.device);
}

function sameOrBothAbsent(local: LocalEntry | null, base: BaseEntry | null): boolean {
  if (local === null || base === null) return local === base;
  return sameContent(local, base);
}

function record(planning: Planning, path: string, base: BaseEntry | null): void {
  if (base === null && !planning.base.has(path)) return;
  planning.actions.push({ type: 'record', path, base });
}

function baseOf(remote: RemoteEntry): BaseEntry {
  const { deleted: _deleted, device: _device, ...entry } = remote;
  return entry;
}

// ------------------------------------------------------------------ moves

/**
 * Finds moves on either side and plans them; returns every path a move accounts for.
 * A local move: a path deleted here (remote unchanged) plus a new path here with the same
 * blocks that the remote lacks. A remote move: the mirror image, with the local copy of
 * the old path unchanged, or edited (the edit then follows the move). A file moved on
 * one side and edited on the other ends up moved and edited. Empty files are never
 * matched: all of them look alike.
 */
function planMoves(planning: Planning): Set<string> {
  const claimed = new Set<string>();
  const { local, remote, base } = planning;
  const goneHere: string[] = [];
  const editedGoneHere: string[] = [];
  const newHere: string[] = [];
  const goneThere: string[] = [];
  const editedGoneThere: string[] = [];
  const newThere: string[] = [];
  for (const [path, entry] of base) {
    if (entry.kind !== 'file' || entry.blocks.length === 0) continue;
    const here = local.get(path);
    const there = remote.get(path);
    const remoteSame = there !== undefined && !there.deleted && there.version === entry.version;
    if (here === undefined && remoteSame) goneHere.push(path);
    if (here === undefined && there !== undefined && !there.deleted && there.kind === 'file' && there.version !== entry.version) editedGoneHere.push(path);
    if (here !== undefined && there !== undefined && there.deleted) {
      if (sameContent(here, entry)) goneThere.push(path);
      else if (here.kind === 'file') editedGoneThere.push(path);
    }
  }
  for (const [path, entry] of local) {
    const there = remote.get(path);
    if (entry.kind === 'file' && entry.blocks.length > 0 && !base.has(path) && (there === undefined || there.deleted)) newHere.push(path);
  }
  for (const [path, entry] of remote) {
    if (!entry.deleted && entry.kind === 'file' && entry.blocks.length > 0 && !base.has(path) && !local.has(path)) newThere.push(path);
  }
  for (const [from, to] of pairByContent(goneHere, newHere, (path) => base.get(path)!, (path) => local.get(path)!)) {
    const moved = local.get(to)!;
    planning.actions.push({
      type: 'move-remote',
      from,
      to,
      local: moved,
      fromVersion: remote.get(from)!.version,
      toVersion: remote.get(to)?.version ?? 0,
      // A new path starts a new history: the clock of the old one would make its
      // versions look like they saw edits made to this path elsewhere.
      clock: {},
    });
    claimed.add(from).add(to);
  }
  for (const [from, to] of pairByContent(goneThere, newThere, (path) => base.get(path)!, (path) => remote.get(path)!)) {
    planning.actions.push({ type: 'move-local', from, to, remote: remote.get(to)!, expect: local.get(from)! });
    claimed.add(from).add(to);
  }
  // The mirror image: a file moved here that the remote edited where it was. The edit is
  // downloaded into the moved file, and the next pass commits the move.
  const stillHere = newHere.filter((path) => !claimed.has(path));
  for (const [from, to] of pairByContent(editedGoneHere, stillHere, (path) => base.get(path)!, (path) => local.get(path)!)) {
    planning.actions.push({ type: 'download', path: to, remote: remote.get(from)!, expect: local.get(to)!, movedFrom: from });
    claimed.add(from).add(to);
  }
  // A file edited here that the remote moved unedited (its old content is at the new
  // path): the edit follows the move. The file is renamed here, and the next pass finds it
  // edited against what the remote holds at the new path, and uploads the edit there.
  const stillThere = newThere.filter((path) => !claimed.has(path));
  for (const [from, to] of pairByContent(editedGoneThere, stillThere, (path) => base.get(path)!, (path) => remote.get(path)!)) {
    planning.actions.push({ type: 'move-local', from, to, remote: remote.get(to)!, expect: local.get(from)! });
    claimed.add(from).add(to);
  }
  return claimed;
}

/**
 * Pairs each source with a target holding the same content. Within a group of equal
 * content, the pairs with the smallest name distance are taken first, so `a.txt → a
 * copy.txt` and `b.txt → b copy.txt` pair the obvious way.
 */
function pairByContent(
  sources: string[],
  targets: string[],
  sourceEntry: (path: string) => SyncEntry,
  targetEntry: (path: string) => SyncEntry,
): [string, string][] {
  const targetsByKey = new Map<string, string[]>();
  for (const target of targets) {
    const key = contentKey(targetEntry(target));
    const group = targetsByKey.get(key);
    if (group === undefined) targetsByKey.set(key, [target]);
    else group.push(target);
  }
  const sourcesByKey = new Map<string, string[]>();
  for (const source of sources) {
    const key = contentKey(sourceEntry(source));
    if (!targetsByKey.has(key)) continue;
    const group = sourcesByKey.get(key);
    if (group === undefined) sourcesByKey.set(key, [source]);
    else group.push(source);
  }
  const pairs: [string, string][] = [];
  for (const [key, group] of sourcesByKey) pairs.push(...closestPairs(group, targetsByKey.get(key)!));
  return pairs;
}

/** Most pairs considered within one group of equal content; beyond it, names pair in sorted order. */
const candidatePairsMax = 100_000;

function closestPairs(sources: string[], targets: string[]): [string, string][] {
  if (sources.length * targets.length > candidatePairsMax) {
    const count = Math.min(sources.length, targets.length);
    return sources.slice(0, count).map((source, index): [string, string] => [source, targets[index]!]);
  }
  const candidates: { source: string; target: string; cost: number }[] = [];
  for (const source of sources) {
    for (const target of targets) candidates.push({ source, target, cost: distance(source, target) });
  }
  candidates.sort((a, b) => a.cost - b.cost || compareText(a.source, b.source) || compareText(a.target, b.target));
  const usedSources = new Set<string>();
  const usedTargets = new Set<string>();
  const pairs: [string, string][] = [];
  for (const { source, target } of candidates) {
    if (usedSources.has(source) || usedTargets.has(target)) continue;
    usedSources.add(source);
    usedTargets.add(target);
    pairs.push([source, target]);
  }
  return pairs;
}

function compareText(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

// ------------------------------------------------------------------ folders

/**
 * A folder deleted on one side survives while the other side still has something inside
 * it that the plan keeps: deleting it would take that with it (locally) or leave an
 * orphan (remotely). Such a delete becomes a re-creation instead.
 */
function keepFoldersWithSurvivors(planning: Planning): void {
  const localAfter = new Set(planning.local.keys());
  const remoteAfter = new Set([...planning.remote].filter(([, entry]) => !entry.deleted).map(([path]) => path));
  // Files the next pass moves away remotely (moved here, edited there: see planMoves).
  const movingAway = new Set<string>();
  for (const action of planning.actions) {
    if (action.type === 'delete-local') localAfter.delete(action.path);
    if (action.type === 'move-local') localAfter.delete(action.from);
    if (action.type === 'delete-remote') remoteAfter.delete(action.path);
    if (action.type === 'move-remote') remoteAfter.delete(action.from);
    if (action.type === 'download' && action.movedFrom !== undefined) movingAway.add(action.movedFrom);
  }
  const remoteAfterNext = new Set([...remoteAfter].filter((path) => !movingAway.has(path)));
  planning.actions = planning.actions.flatMap((action): SyncAction[] => {
    if (action.type === 'delete-local' && action.expect.kind === 'dir' && hasDescendant(localAfter, action.path)) {
      return [{ type: 'upload', path: action.path, local: action.expect, ifVersion: action.remote.version, clock: action.remote.clock }];
    }
    if (action.type === 'delete-remote' && action.base.kind === 'dir' && hasDescendant(remoteAfter, action.path)) {
      // Held only by files the next pass moves away: deleted then, not brought back now.
      if (!hasDescendant(remoteAfterNext, action.path)) return [];
      return [{ type: 'download', path: action.path, remote: planning.remote.get(action.path)!, expect: null }];
    }
    return [action];
  });
}

function hasDescendant(paths: Set<string>, folder: string): boolean {
  const prefix = `${folder}/`;
  for (const path of paths) if (path.startsWith(prefix)) return true;
  return false;
}

// ------------------------------------------------------------------ conflict copies

/**
 * `dir/name (conflicted copy from DEVICE STAMP).ext`, numbered when that name is taken.
 * The extension is the part after the last dot of the name, unless the name starts with
 * its only dot (`.env` has none).
 */
function conflictCopyPath(planning: Planning, path: string): string {
  const slash = path.lastIndexOf('/');
  const folder = path.slice(0, slash + 1);
  const name = path.slice(slash + 1);
  const dot = name.lastIndexOf('.');
  const stem = dot > 0 ? name.slice(0, dot) : name;
  const extension = dot > 0 ? name.slice(dot) : '';
  const label = `conflicted copy from ${planning.options.device} ${planning.options.conflictStamp}`;
  for (let attempt = 1; ; attempt++) {
    const suffix = attempt === 1 ? '' : ` ${attempt}`;
    const candidate = `${folder}${stem} (${label}${suffix})${extension}`;
    if (!planning.taken.has(candidate)) {
      planning.taken.add(candidate);
      return candidate;
    }
  }
}

// ------------------------------------------------------------------ order

const phaseOf: Record<SyncAction['type'], number> = {
  'conflict-copy': 0,
  'move-local': 1,
  download: 2,
  upload: 3,
  'move-remote': 3,
  'delete-remote': 3,
  'delete-local': 4,
  record: 5,
};

/**
 * Phases first; within downloads, folders before what they hold (shallow paths first);
 * within local deletes, contents before their folders (deep paths first).
 */
function orderActions(actions: SyncAction[]): SyncAction[] {
  const depth = (action: SyncAction): number => {
    const path = 'path' in action ? action.path : action.to;
    return path.split('/').length;
  };
  return actions
    .map((action, index) => ({ action, index }))
    .sort((a, b) => {
      const phase = phaseOf[a.action.type] - phaseOf[b.action.type];
      if (phase !== 0) return phase;
      if (a.action.type === 'delete-local') return depth(b.action) - depth(a.action) || a.index - b.index;
      if (a.action.type === 'download') return depth(a.action) - depth(b.action) || a.index - b.index;
      return a.index - b.index;
    })
    .map(({ action }) => action);
}
