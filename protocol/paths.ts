// The path rules every file name in a namespace obeys. One set of rules, applied by
// clients before they send and by nodes before they store, so a path that one host can
// write is a path every other host (Linux, macOS, Windows, a browser) can represent, and
// no path can climb out of the folder being synced.

import { utf8Length, utf8LongerThan } from './bytes.ts';
import { raftboxError } from './errors.ts';

/** Longest path, in UTF-8 bytes after NFC normalization (Linux's PATH_MAX). */
export const pathBytesMax = 4096;

/**
 * Returns `path` in Unicode NFC form, or throws `bad_path` when it breaks a rule: it
 * must be non-empty and relative (no leading `/` or `\`, no drive such as `C:`), use `/`
 * between non-empty segments other than `.` and `..`, contain no backslash, control
 * character or unpaired surrogate, and fit in `pathBytesMax` UTF-8 bytes. NFC makes
 * the composed and decomposed spellings of one name (macOS writes the latter) one path.
 */
export function normalizePath(path: string): string {
  if (typeof path !== 'string') throw raftboxError('bad_path', `path must be a string, got ${typeof path}`);
  // NFC shrinks a string by at most three code units to one, so this is too long either way.
  if (path.length > 4 * pathBytesMax) throw raftboxError('bad_path', `path must be at most ${pathBytesMax} UTF-8 bytes, got one of ${path.length} characters starting ${JSON.stringify(path.slice(0, 40))}`);
  const normal = nfc(path);
  const problem = pathProblem(normal);
  if (problem !== null) throw raftboxError('bad_path', `path ${problem}, got ${JSON.stringify(path)}`);
  return normal;
}

/**
 * Returns a list prefix in NFC form, or throws `bad_path`. A prefix follows the path
 * rules, except that it may be empty (everything) and may end with one `/` (a folder).
 */
export function normalizePrefix(prefix: string): string {
  if (typeof prefix !== 'string') throw raftboxError('bad_path', `prefix must be a string, got ${typeof prefix}`);
  if (prefix === '') return '';
  if (prefix.length > 4 * pathBytesMax) throw raftboxError('bad_path', `prefix must be at most ${pathBytesMax} UTF-8 bytes, got one of ${prefix.length} characters`);
  const normal = prefix.normalize('NFC');
  const body = normal.endsWith('/') ? normal.slice(0, -1) : normal;
  const problem = body === '' ? 'must be relative' : pathProblem(body);
  if (problem !== null) throw raftboxError('bad_path', `prefix ${problem} (or be empty), got ${JSON.stringify(prefix)}`);
  return normal;
}

/** The folders above `path`, outermost first: ['a', 'a/b'] for 'a/b/c'. */
export function parentFolders(path: string): string[] {
  const folders: string[] = [];
  for (let slash = path.indexOf('/'); slash !== -1; slash = path.indexOf('/', slash + 1)) folders.push(path.slice(0, slash));
  return folders;
}

/** Tells whether `path` is already a valid, normalized path. */
export function isNormalPath(path: string): boolean {
  return typeof path === 'string' && nfc(path) === path && pathProblem(path) === null;
}

// Every path of every commit passes here on the client and on each node, and most are
// ASCII, which NFC leaves as it is.
const ascii = /^[\u0000-\u007f]*$/;

function nfc(path: string): string {
  return ascii.test(path) ? path : path.normalize('NFC');
}

const dotSegment = /(?:^|\/)\.{1,2}(?:\/|$)/;

/** The rule `path` breaks, as the end of a sentence starting with "a path", or null. Says nothing of NFC form. */
export function pathProblem(path: string): string | null {
  if (path === '') return 'must not be empty';
  if (path.startsWith('/') || path.startsWith('\\') || /^[A-Za-z]:/.test(path)) return 'must be relative';
  // C0 controls and DEL: invisible, and NUL ends a name in every C file API.
  if (/[\u0000-\u001f\u007f]/.test(path)) return 'must not contain control characters';
  if (path.includes('\\')) return "must separate folders with '/', not '\\'";
  // With the u flag a surrogate pair is one code point, so this matches only unpaired halves.
  if (/[\ud800-\udfff]/u.test(path)) return 'must be valid Unicode (no unpaired surrogate)';
  if (path.endsWith('/') || path.includes('//')) return "must not have empty segments ('a//b' or a trailing '/')";
  if (dotSegment.test(path)) return "must not have '.' or '..' segments";
  if (utf8LongerThan(path, pathBytesMax)) return `must be at most ${pathBytesMax} UTF-8 bytes (this one is ${utf8Length(path)})`;
  return null;
}
