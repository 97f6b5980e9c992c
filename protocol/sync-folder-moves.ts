// Folder moves. The planner works path by path, so a folder the other side renamed arrives
// as one move per file inside it, plus a removal and a creation for the folder itself and
// for each folder in it. When those actions account for everything the folder holds
// here, the engine renames the folder once instead: one step that a person watching the
// folder sees whole, and one rename however many files it holds. Anything else in the
// plan (a conflict, a local edit inside, a file that pairs elsewhere) leaves the folder
// to the path-by-path actions. What the scan did not list (ignored files, a file made
// since) moves with the folder, as with any rename on disk, and the next scan sees it.

import type { SyncAction } from './sync-planner.ts';
import { sameContent, type LocalEntry, type LocalTree } from './sync-tree.ts';

type ActionOf<T extends SyncAction['type']> = Extract<SyncAction, { type: T }>;

/** A local folder to rename from `from` to `to`, carrying out `carried`. */
export interface FolderMove {
  from: string;
  to: string;
  /** The folder at `from` as scanned; the rename is refused if it is no longer there. */
  expect: LocalEntry;
  /** The plan's actions the rename does: moves of the files inside, and removals at `from` paired with creations at `to`. */
  carried: SyncAction[];
}

/**
 * The folders of `local` that the plan moves whole, outermost only (a folder inside one
 * that moves goes with it). A folder qualifies when the plan removes it and creates a
 * new folder at `to`, and every entry the scan found inside it either moves to the same
 * place under `to` or is removed and created there with the same content (a subfolder, an
 * empty file). At least one file must move: that is what names `to`.
 */
export function findFolderMoves(actions: readonly SyncAction[], local: LocalTree): FolderMove[] {
  const removed = new Map<string, ActionOf<'delete-local'>>();
  const created = new Map<string, ActionOf<'download'>>();
  const moved = new Map<string, ActionOf<'move-local'>>();
  for (const action of actions) {
    if (action.type === 'delete-local') removed.set(action.path, action);
    else if (action.type === 'download' && action.expect === null) created.set(action.path, action);
    else if (action.type === 'move-local') moved.set(action.from, action);
  }
  if (moved.size === 0) return [];
  const inside = new Map<string, string[]>();
  for (const path of local.keys()) {
    for (const folder of ancestorsOf(path)) {
      if (removed.get(folder)?.expect.kind !== 'dir') continue;
      const paths = inside.get(folder);
      if (paths === undefined) inside.set(folder, [path]);
      else paths.push(path);
    }
  }
  const moves: FolderMove[] = [];
  const taken = new Set<string>();
  // Sorted, so a folder comes before every path inside it.
  for (const from of [...inside.keys()].sort()) {
    if (ancestorsOf(from).some((folder) => taken.has(folder))) continue;
    const move = folderMove(from, inside.get(from)!, { removed, created, moved });
    if (move === null) continue;
    moves.push(move);
    taken.add(from);
  }
  return moves;
}

interface Indexed {
  removed: Map<string, ActionOf<'delete-local'>>;
  created: Map<string, ActionOf<'download'>>;
  moved: Map<string, ActionOf<'move-local'>>;
}

function folderMove(from: string, contents: string[], { removed, created, moved }: Indexed): FolderMove | null {
  const to = targetOf(from, contents, moved);
  if (to === null || to.startsWith(`${from}/`) || from.startsWith(`${to}/`)) return null;
  const carried: SyncAction[] = [];
  for (const path of [from, ...contents]) {
    const destination = to + path.slice(from.length);
    const move = moved.get(path);
    if (move !== undefined) {
      if (move.to !== destination) return null;
      carried.push(move);
      continue;
    }
    const removal = removed.get(path);
    const creation = created.get(destination);
    if (removal === undefined || creation === undefined || !sameContent(removal.expect, creation.remote)) return null;
    carried.push(removal, creation);
  }
  return { from, to, expect: removed.get(from)!.expect, carried };
}

// Where the first file that moves out of `from` lands names the folder's new place.
function targetOf(from: string, contents: string[], moved: Map<string, ActionOf<'move-local'>>): string | null {
  for (const path of contents) {
    const move = moved.get(path);
    if (move === undefined) continue;
    const rest = path.slice(from.length);
    return move.to.endsWith(rest) && move.to.length > rest.length ? move.to.slice(0, move.to.length - rest.length) : null;
  }
  return null;
}

/** The folders above `path`, nearest first. */
function ancestorsOf(path: string): string[] {
  const folders: string[] = [];
  for (let slash = path.lastIndexOf('/'); slash > 0; slash = path.lastIndexOf('/', slash - 1)) folders.push(path.slice(0, slash));
  return folders;
}
