// Which paths `raftbox sync` leaves alone: its own state folder, editor and OS litter,
// and whatever DIR/.raftboxignore lists in gitignore syntax (matched by the `ignore`
// package, the matcher eslint and prettier use). An ignored path is invisible on both
// sides: not uploaded, not downloaded, and never deleted because it seems missing.

import ignore, { type Ignore } from 'ignore';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { crossDeviceSuffix, stateFolderName } from './folder-state.ts';

export const ignoreFileName = '.raftboxignore';

/** Always ignored: our state, editor swap/backup files, OS metadata files. */
export const defaultIgnorePatterns = [
  `${stateFolderName}/`,
  // A download to a folder on another file system is copied beside its target first (folder-replica.ts).
  `*${crossDeviceSuffix}`,
  '.DS_Store',
  'Thumbs.db',
  'desktop.ini',
  '*.swp',
  '*.swo',
  '*.swx',
  '*~',
  '.#*',
  '#*#',
  '.~lock.*#',
  '~$*',
];

export type IgnoreTest = (path: string, kind: 'file' | 'dir') => boolean;

/** Loads the rules of `root`; a missing .raftboxignore means the defaults only. */
export async function loadIgnoreRules(root: string): Promise<IgnoreTest> {
  const matcher: Ignore = ignore().add(defaultIgnorePatterns);
  try {
    matcher.add(await readFile(join(root, ignoreFileName), 'utf8'));
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
  }
  return (path, kind) => matcher.ignores(kind === 'dir' ? `${path}/` : path);
}
