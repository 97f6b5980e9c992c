// The shape of one namespace's tree: which paths are live files, and how many live records
// lie below each folder. A path is a file or a folder, never both, as on every disk the
// namespace syncs to; a commit that would break that is refused (state-machine.ts). The
// shape is derived from the current versions, kept up to date as commits apply, and
// rebuilt when a snapshot is installed; it is never saved.

import { parentFolders } from '../../../protocol/paths.ts';
import { isFolderMode } from '../../../protocol/sync-tree.ts';
import type { FileChange, FileInfo } from '../../../protocol/wire.ts';

/** Why a commit would leave a path both a file and a folder. */
export type PathCollision =
  /** `path` would be a file or folder inside `file`, which is a file. */
  | { kind: 'under-file'; path: string; file: string }
  /** `path` would be a file while live records lie below it. */
  | { kind: 'has-children'; path: string };

export class NamespaceShape {
  /** Folder path → live records anywhere below it (absent: none). */
  private readonly below = new Map<string, number>();
  private readonly files = new Set<string>();

  /** Records that the current version of `path` went from `before` to `after` (null: none). */
  update(path: string, before: FileInfo | null, after: FileInfo | null): void {
    const was = isLive(before);
    const is = isLive(after);
    if (was && !isFolderMode(before!.mode)) this.files.delete(path);
    if (is && !isFolderMode(after!.mode)) this.files.add(path);
    if (was === is) return;
    for (const parent of parentFolders(path)) {
      const count = (this.below.get(parent) ?? 0) + (is ? 1 : -1);
      if (count === 0) this.below.delete(parent);
      else this.below.set(parent, count);
    }
  }

  /**
   * The first way the tree after `changes` (applied in order, atomically) would hold a
   * path that is both a file and a folder, or null. `current` gives a path's current
   * version. Only paths the batch makes live are checked: the tree is consistent now.
   */
  collision(changes: readonly FileChange[], current: (path: string) => FileInfo | null): PathCollision | null {
    const final = new Map<string, FileChange>();
    for (const change of changes) final.set(change.path, change);
    const belowDelta = new Map<string, number>();
    for (const [path, change] of final) {
      const was = isLive(current(path));
      if (was === !change.deleted) continue;
      for (const parent of parentFolders(path)) belowDelta.set(parent, (belowDelta.get(parent) ?? 0) + (change.deleted ? -1 : 1));
    }
    const isFileAfter = (path: string): boolean => {
      const change = final.get(path);
      return change === undefined ? this.files.has(path) : !change.deleted && !isFolderMode(change.mode);
    };
    for (const [path, change] of final) {
      if (change.deleted) continue;
      const file = parentFolders(path).find(isFileAfter);
      if (file !== undefined) return { kind: 'under-file', path, file };
      if (!isFolderMode(change.mode) && (this.below.get(path) ?? 0) + (belowDelta.get(path) ?? 0) > 0) return { kind: 'has-children', path };
    }
    return null;
  }
}

function isLive(file: FileInfo | null): boolean {
  return file !== null && !file.deleted;
}

