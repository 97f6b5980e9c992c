// Builds the hashing page (web-client/hashing/hash-bench.html) on its own, without the
// app or its service worker, for the hashing benchmark and the pool's browser test.

import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'vite';

const webClient = fileURLToPath(new URL('..', import.meta.url));

/** Builds the page into `outDir`; it is then at `hashing/hash-bench.html`. */
export async function buildHashPage(outDir: string): Promise<void> {
  await build({
    configFile: false,
    root: webClient,
    base: './',
    logLevel: 'warn',
    worker: { format: 'es' },
    build: { outDir, emptyOutDir: true, rollupOptions: { input: join(webClient, 'hashing/hash-bench.html') } },
  });
}
