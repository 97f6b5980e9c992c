// Keeps node/core/ and protocol/ deterministic and isomorphic: they must reach time,
// randomness and I/O only through Env, so the simulator can replay a run from its seed
// and the same code runs in a browser worker. This test reads their sources and fails,
// naming file:line, on any direct use of a clock, a random source, a timer or a Node module.

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { readdirSync, readFileSync } from 'node:fs';
import { builtinModules } from 'node:module';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const scannedFolders = ['node/core', 'protocol'];

const forbiddenCalls: { pattern: RegExp; why: string }[] = [
  { pattern: /\bDate\.now\b/, why: 'Date.now reads the clock; use env.now()' },
  { pattern: /\bnew\s+Date\s*\(/, why: 'new Date( may read the clock; use env.now()' },
  { pattern: /\bperformance\.now\b/, why: 'performance.now reads the clock; use env.now()' },
  { pattern: /\bprocess\.hrtime\b/, why: 'process.hrtime reads the clock; use env.now()' },
  { pattern: /\bMath\.random\b/, why: 'Math.random is unseeded; use env.random()' },
  { pattern: /\b(getRandomValues|randomUUID)\b/, why: 'crypto randomness is unseeded; use env.random()' },
  { pattern: /\bset(Timeout|Interval|Immediate)\b/, why: 'timers bypass the virtual clock; use env.timer()' },
];

const importPatterns = [
  /\bfrom\s*['"]([^'"]+)['"]/g,
  /\bimport\s*['"]([^'"]+)['"]/g,
  /\bimport\s*\(\s*['"]([^'"]+)['"]/g,
  /\brequire\s*\(\s*['"]([^'"]+)['"]/g,
];

const builtins = new Set(builtinModules.flatMap((name) => [name, name.split('/')[0]!]));

function isNodeModule(specifier: string): boolean {
  return specifier.startsWith('node:') || builtins.has(specifier) || builtins.has(specifier.split('/')[0]!);
}

// Comments may name the forbidden calls (to explain why they are avoided), so they are
// blanked out first; newlines are kept so line numbers stay right. Strings are kept,
// because import specifiers live in them.
export function stripComments(source: string): string {
  let out = '';
  let i = 0;
  while (i < source.length) {
    const two = source.slice(i, i + 2);
    if (two === '//' || two === '/*') {
      const end = two === '//' ? source.indexOf('\n', i) : source.indexOf('*/', i + 2) + 2;
      const stop = end <= 1 || end === -1 ? source.length : end;
      out += source.slice(i, stop).replace(/[^\n]/g, ' ');
      i = stop;
    } else if (source[i] === '"' || source[i] === "'" || source[i] === '`') {
      const quote = source[i]!;
      let j = i + 1;
      while (j < source.length && source[j] !== quote && !(quote !== '`' && source[j] === '\n')) {
        j += source[j] === '\\' ? 2 : 1;
      }
      out += source.slice(i, j + 1);
      i = j + 1;
    } else {
      out += source[i];
      i++;
    }
  }
  return out;
}

/** Returns one "file:line: why" string per forbidden use in `source`. */
export function findViolations(file: string, source: string): string[] {
  const violations: string[] = [];
  stripComments(source)
    .split('\n')
    .forEach((line, index) => {
      const where = `${file}:${index + 1}`;
      for (const { pattern, why } of forbiddenCalls) {
        if (pattern.test(line)) violations.push(`${where}: ${why}`);
      }
      for (const pattern of importPatterns) {
        for (const match of line.matchAll(pattern)) {
          if (isNodeModule(match[1]!)) violations.push(`${where}: imports '${match[1]}', a Node module`);
        }
      }
    });
  return violations;
}

function sourceFiles(folder: string): string[] {
  const entries = readdirSync(folder, { withFileTypes: true });
  return entries.flatMap((entry) => {
    const path = join(folder, entry.name);
    if (entry.isDirectory()) return sourceFiles(path);
    return entry.name.endsWith('.ts') && !entry.name.endsWith('.test.ts') ? [path] : [];
  });
}

test('the scanner flags every kind of forbidden use', () => {
  const bad = [
    'const t = Date.now();',
    'const d = new Date(0);',
    'const p = performance.now();',
    'const r = Math.random();',
    'setTimeout(() => {}, 10);',
    'const id = setInterval(tick, 10);',
    'setImmediate(run);',
    "import { readFile } from 'node:fs/promises';",
    "import { createHash } from 'crypto';",
    "import 'fs';",
    "const os = await import('os');",
    'const bytes = crypto.getRandomValues(new Uint8Array(4));',
  ];
  const violations = findViolations('bad.ts', bad.join('\n'));
  assert.is(violations.length, bad.length, violations.join('\n'));
  assert.ok(violations[0]!.startsWith('bad.ts:1: '));
  assert.ok(violations[9]!.startsWith("bad.ts:10: imports 'fs'"));
});

test('the scanner ignores comments and allowed imports', () => {
  const good = [
    '// Date.now() is not used here; env.now() is.',
    '/* Math.random() and',
    '   setTimeout are banned */',
    "import * as v from 'valibot';",
    "import { crc32c } from './crc32.ts';",
    "const url = 'https://example.com/a//b';",
    'const later = env.now() + timeoutMs; // not setTimeout',
  ];
  assert.equal(findViolations('good.ts', good.join('\n')), []);
  assert.is(stripComments('a /* x\ny */ b').split('\n').length, 2);
});

test('node/core/ and protocol/ use no clock, randomness, timers or Node modules', () => {
  const files = scannedFolders.flatMap((folder) => sourceFiles(join(root, folder)));
  assert.ok(files.length > 0, 'no source files found to scan');
  const violations = files.flatMap((file) => findViolations(relative(root, file), readFileSync(file, 'utf8')));
  assert.equal(violations, [], `forbidden uses:\n${violations.join('\n')}`);
});

test.run();
