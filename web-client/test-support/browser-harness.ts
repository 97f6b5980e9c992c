// What every browser test starts and stops: a real 3-node cluster on loopback, the web
// client built by Vite into a temporary folder and served over HTTP (with servers.json
// naming the nodes, as `raftbox cluster` serves it), real Chromium through
// playwright-core, and an SDK client to check the cluster's side. `stop()` ends all of
// it, whatever failed.

import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { extname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { build, loadConfigFromFile } from 'vite';
import { LocalCluster, waitForLeader } from '../../node/host/local-cluster.ts';
import { connect, type Client } from '../../node/sdk.ts';

const root = fileURLToPath(new URL('../..', import.meta.url));
const contentTypes: Record<string, string> = { '.html': 'text/html', '.js': 'text/javascript', '.css': 'text/css', '.json': 'application/json', '.svg': 'image/svg+xml', '.png': 'image/png', '.webmanifest': 'application/manifest+json', '.wasm': 'application/wasm' };

/**
 * Builds the web client with the project's vite.config.ts (PWA included) into a fresh
 * temporary folder and returns it. Only the file client's page is built, so these tests
 * do not depend on the state of the dashboard and simulator pages.
 */
export async function buildApp(): Promise<string> {
  const outDir = mkdtempSync(join(tmpdir(), 'raftbox-web-'));
  const loaded = await loadConfigFromFile({ command: 'build', mode: 'production' }, join(root, 'vite.config.ts'));
  if (loaded === null) throw new Error('vite.config.ts could not be loaded');
  const config = loaded.config;
  config.build = { ...config.build, outDir, emptyOutDir: true, rollupOptions: { ...config.build?.rollupOptions, input: { index: join(root, 'web-client/index.html') } } };
  await build({ ...config, configFile: false, logLevel: 'warn' });
  return outDir;
}

/** Serves `dir` on a free loopback port, plus `/servers.json` naming `servers`. */
export async function serveApp(dir: string, servers: string[]): Promise<{ url: string; server: Server }> {
  const server = createServer((request, response) => {
    const pathname = decodeURIComponent((request.url ?? '/').split('?')[0]!);
    if (pathname === '/servers.json') {
      response.writeHead(200, { 'content-type': 'application/json', 'cache-control': 'no-store' });
      response.end(JSON.stringify({ servers }));
      return;
    }
    const file = resolve(dir, pathname === '/' ? 'index.html' : pathname.slice(1));
    if (!file.startsWith(dir) || !statSync(file, { throwIfNoEntry: false })?.isFile()) {
      response.writeHead(404).end('not found\n');
      return;
    }
    response.writeHead(200, { 'content-type': contentTypes[extname(file)] ?? 'application/octet-stream' });
    response.end(readFileSync(file));
  });
  await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
  const address = server.address() as import('node:net').AddressInfo;
  return { url: `http://127.0.0.1:${address.port}/`, server };
}

export interface Harness {
  cluster: LocalCluster;
  sdk: Client;
  browser: Browser;
  context: BrowserContext;
  page: Page;
  appUrl: string;
  stop(): Promise<void>;
}

/** Launches the Debian Chromium (or CHROMIUM_PATH); never downloads one. */
export function launchChromium(): Promise<Browser> {
  return chromium.launch({ executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium', args: ['--no-sandbox'] });
}

/** Starts everything and opens the app in a fresh browser context, ready (first sync done). */
export async function startHarness(): Promise<Harness> {
  const cleanups: (() => Promise<void> | void)[] = [];
  const stop = async (): Promise<void> => {
    for (const cleanup of cleanups.reverse()) await Promise.resolve().then(cleanup).catch((error: unknown) => console.error('cleanup failed:', error));
  };
  try {
    const cluster = await LocalCluster.start({ nodes: 3 });
    cleanups.push(() => cluster.destroy());
    const sdk = await connect({ servers: cluster.urls, device: 'sdk' });
    cleanups.push(() => sdk.close());
    await waitForLeader(sdk);
    const dir = await buildApp();
    cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
    const { url, server } = await serveApp(dir, cluster.urls);
    cleanups.push(() => new Promise<void>((done) => server.close(() => done())));
    cleanups.push(() => server.closeAllConnections());
    const browser = await launchChromium();
    cleanups.push(() => browser.close());
    const context = await browser.newContext();
    // tsx compiles test files with esbuild's keepNames, whose __name helper the functions
    // passed to page.evaluate would otherwise miss in the page.
    await context.addInitScript({ content: 'globalThis.__name = (target) => target;' });
    const page = await context.newPage();
    page.on('pageerror', (error) => console.error('page error:', error.message));
    await openApp(page, url);
    return { cluster, sdk, browser, context, page, appUrl: url, stop };
  } catch (error) {
    await stop();
    throw error;
  }
}

/** Loads the app and waits until it has started and finished its first sync. */
export async function openApp(page: Page, url: string): Promise<void> {
  await page.goto(url);
  await page.waitForSelector('body[data-ready="true"]');
  await waitUntilSynced(page);
}

/** Waits until the page says it is up to date (not syncing, nothing pending). */
export async function waitUntilSynced(page: Page, timeoutMs = 30_000): Promise<void> {
  await page.waitForFunction(() => {
    const status = document.querySelector('#connection') as HTMLElement | null;
    return status?.dataset.syncing === 'false' && status.textContent === 'Up to date.' && document.querySelector('#pending')?.textContent === '';
  }, undefined, { timeout: timeoutMs });
}

/** Polls `check` until it returns a value other than undefined, or fails after `timeoutMs`. */
export async function eventually<T>(what: string, check: () => Promise<T | undefined>, timeoutMs = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  while (Date.now() < deadline) {
    try {
      const value = await check();
      if (value !== undefined) return value;
    } catch (error) {
      last = error;
    }
    await new Promise((done) => setTimeout(done, 100));
  }
  throw new Error(`${what} did not happen within ${timeoutMs} ms${last === undefined ? '' : `: ${String(last)}`}`);
}

/** Waits until the service worker controls the page, so the app shell is precached. */
export async function waitForServiceWorker(page: Page): Promise<void> {
  await page.evaluate(async () => {
    await navigator.serviceWorker.ready;
  });
  await page.waitForFunction(() => navigator.serviceWorker.controller !== null);
}

/** Replaces the text of `path` through the page's preview editor. */
export async function editInPage(page: Page, path: string, text: string): Promise<void> {
  await page.click(`#files tr[data-path="${path}"] td:first-child button`);
  await page.fill('dialog[open] textarea', text);
  await page.click('dialog button:text-is("Save")');
  await page.waitForSelector('dialog [role="status"]:text-matches("^Saved")');
  await page.click('dialog button:text-is("Close")');
}
