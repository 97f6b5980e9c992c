import { test } from 'uvu';
import * as assert from 'uvu/assert';
import fc from 'fast-check';
import { isRaftboxError } from './errors.ts';
import { isNormalPath, normalizePath, normalizePrefix, pathBytesMax } from './paths.ts';

function refusal(run: () => unknown): string {
  try {
    run();
  } catch (error) {
    assert.ok(isRaftboxError(error, 'bad_path'), `expected bad_path, got ${String(error)}`);
    return (error as Error).message;
  }
  assert.unreachable('the path was accepted');
  return '';
}

test('ordinary relative paths pass through unchanged', () => {
  for (const path of ['a', 'a/b/c.txt', 'Photos/2024/IMG 0001.JPG', '.hidden', 'a/.git/config', '...', 'a/..b/c..', 'C/d', 'note: 1', 'a/b:c', 'naïve/日本語.md', '😀/emoji']) {
    assert.is(normalizePath(path), path);
    assert.ok(isNormalPath(path));
  }
});

test('decomposed Unicode becomes NFC', () => {
  const decomposed = 'cafe\u0301/re\u0301sume\u0301.txt';
  const composed = 'caf\u00e9/r\u00e9sum\u00e9.txt';
  assert.is(normalizePath(decomposed), composed);
  assert.not.ok(isNormalPath(decomposed));
  assert.ok(isNormalPath(composed));
});

test('hostile paths are refused with a sentence naming them', () => {
  const cases: [string, string][] = [
    ['', 'must not be empty'],
    ['/etc/passwd', 'must be relative'],
    ['\\\\server\\share', 'must be relative'],
    ['C:', 'must be relative'],
    ['c:/Windows/system32', 'must be relative'],
    ['..', "'..'"],
    ['../secret', "'..'"],
    ['a/../../b', "'..'"],
    ['a/..', "'..'"],
    ['.', "'..'"],
    ['a/./b', "'..'"],
    ['a//b', 'empty segments'],
    ['a/', 'empty segments'],
    ['a\u0000b', 'control characters'],
    ['a\nb', 'control characters'],
    ['a\u001fb', 'control characters'],
    ['a\u007fb', 'control characters'],
    ['a\\b', "not '\\'"],
    ['a/\ud800', 'unpaired surrogate'],
  ];
  for (const [path, why] of cases) {
    const message = refusal(() => normalizePath(path));
    assert.ok(message.includes(why), `${JSON.stringify(path)}: ${message}`);
    assert.ok(message.includes(JSON.stringify(path)), `the message names the path: ${message}`);
  }
  assert.is(refusal(() => normalizePath('/etc/passwd')), 'path must be relative, got "/etc/passwd"');
});

test('length is counted in UTF-8 bytes after NFC', () => {
  const longest = 'a/'.repeat(pathBytesMax / 2 - 1) + 'bb';
  assert.is(new TextEncoder().encode(longest).length, pathBytesMax);
  assert.is(normalizePath(longest), longest);
  assert.match(refusal(() => normalizePath(longest + 'c')), 'at most 4096 UTF-8 bytes');
  // 1366 three-byte characters = 4098 bytes, although only 1366 UTF-16 units.
  assert.match(refusal(() => normalizePath('日'.repeat(1366))), 'at most 4096');
  // e + combining acute is 3 bytes decomposed, é is 2 composed: 1500 of them fit only after NFC.
  const decomposed = 'e\u0301'.repeat(1500);
  assert.is(normalizePath(decomposed).length, 1500);
  assert.match(refusal(() => normalizePath('x'.repeat(1_000_000))), 'at most 4096');
});

test('prefixes may be empty or end with one slash', () => {
  assert.is(normalizePrefix(''), '');
  assert.is(normalizePrefix('docs/'), 'docs/');
  assert.is(normalizePrefix('docs/re'), 'docs/re');
  assert.is(normalizePrefix('cafe\u0301/'), 'caf\u00e9/');
  for (const prefix of ['/', '/docs/', 'docs//', 'a/../', '../', 'a\\b/', 'a\u0000']) {
    const message = refusal(() => normalizePrefix(prefix));
    assert.ok(message.startsWith('prefix '), message);
    assert.ok(message.includes(JSON.stringify(prefix)), message);
  }
});

test('non-strings are refused, not crashed on', () => {
  refusal(() => normalizePath(42 as unknown as string));
  refusal(() => normalizePrefix(null as unknown as string));
  assert.not.ok(isNormalPath(undefined as unknown as string));
});

const segment = fc.oneof(
  fc.constantFrom('.', '..', '', 'a', 'é', 'e\u0301', '\\', 'C:', ' ', '\u0000', '😀', '\ud800'),
  fc.string({ maxLength: 8, unit: 'grapheme' }),
  fc.string({ maxLength: 8, unit: 'binary' }),
);
const pathish = fc.array(segment, { minLength: 1, maxLength: 6 }).map((parts) => parts.join('/'));

test('property: normalizePath is idempotent and never returns a path that climbs', () => {
  fc.assert(
    fc.property(fc.oneof(pathish, fc.string({ unit: 'binary', maxLength: 40 })), (path) => {
      let normal: string;
      try {
        normal = normalizePath(path);
      } catch (error) {
        if (!isRaftboxError(error, 'bad_path')) throw error;
        return;
      }
      assert.is(normalizePath(normal), normal);
      assert.ok(isNormalPath(normal));
      const segments = normal.split('/');
      assert.not.ok(segments.includes('..'));
      assert.not.ok(segments.includes('.'));
      assert.not.ok(segments.includes(''));
      assert.not.ok(normal.startsWith('/') || normal.includes('\\') || normal.includes('\u0000'));
    }),
    { numRuns: 3000 },
  );
});

test('property: a valid path with a trailing slash is a valid prefix of itself', () => {
  fc.assert(
    fc.property(pathish, (path) => {
      let normal: string;
      try {
        normal = normalizePath(path);
      } catch {
        return;
      }
      assert.is(normalizePrefix(normal), normal);
      assert.is(normalizePrefix(normal + '/'), normal + '/');
    }),
  );
});

test.run();
