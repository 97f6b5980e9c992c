// Builds the web client (file client, dashboard and simulator pages) into dist/web with
// Vite when the build is missing or older than its sources, so `npm start` on a fresh
// clone serves a current app. A lock folder keeps two processes (two test files, or a
// test and `npm start`) from building into the same folder at once.

import { existsSync, mkdirSync, readdirSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../../', import.meta.url));
/** Where the built app lives; the cluster's HTTP server serves it. */
export const webRoot = join(root, 'dist', 'web');
const sourceFolders = ['web-client', 'protocol', 'sim'];
const sourceFiles = ['vite.config.ts', 'package.json'];
const lockDir = join(root, 'dist', '.web-build.lock');
/** A lock older than this was left by a build that died; it is taken over. */
const lockStaleMs = 5 * 60 * 1000;
const lockPollMs = 200;

/** True when dist/web/index.html is missing or older than any source file. */
export function webBuildIsStale(): boolean {
  const built = join(webRoot, 'index.html');
  if (!existsSync(built)) return true;
  const builtMs = statSync(built).mtimeMs;
  return newestSourceMs() > builtMs;
}

/**
 * Builds the web client unless it is current. Resolves with whether it built. A failed
 * build rejects with Vite's message, since a cluster whose page cannot load is no demo.
 */
export async function ensureWebBuild(log: (line: string) => void = () => {}): Promise<boolean> {
  if (!webBuildIsStale()) return false;
  await withLock(async () => {
    // Another process may have built it while we waited for the lock.
    if (!webBuildIsStale()) return;
    log('building the web client (vite build)…');
    const { build } = await import('vite');
    await build({ configFile: join(root, 'vite.config.ts'), logLevel: 'warn' });
  });
  return true;
}

function newestSourceMs(): number {
  let newest = 0;
  for (const file of sourceFiles) newest = Math.max(newest, mtimeOf(join(root, file)));
  for (const folder of sourceFolders) newest = Math.max(newest, newestIn(join(root, folder)));
  return newest;
}

function newestIn(folder: string): number {
  let newest = 0;
  let entries;
  try {
    entries = readdirSync(folder, { withFileTypes: true });
  } catch {
    return 0;
  }
  for (const entry of entries) {
    const path = join(folder, entry.name);
    if (entry.isDirectory()) newest = Math.max(newest, entry.name === 'node_modules' ? 0 : newestIn(path));
    // Tests are not part of the app; editing one must not force a rebuild.
    else if (entry.isFile() && !entry.name.endsWith('.test.ts')) newest = Math.max(newest, mtimeOf(path));
  }
  return newest;
}

function mtimeOf(path: string): number {
  try {
    return statSync(path).mtimeMs;
  } catch {
    return 0;
  }
}

async function withLock(work: () => Promise<void>): Promise<void> {
  mkdirSync(join(root, 'dist'), { recursive: true });
  for (;;) {
    try {
      mkdirSync(lockDir);
      break;
    } catch {
      if (Date.now() - mtimeOf(lockDir) > lockStaleMs) rmSync(lockDir, { recursive: true, force: true });
      else await new Promise((done) => setTimeout(done, lockPollMs));
    }
  }
  try {
    await work();
  } finally {
    rmSync(lockDir, { recursive: true, force: true });
  }
}
