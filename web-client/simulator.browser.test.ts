// The simulator view in real Chromium: opening a shared link (?scenario=figure-8&seed=1)
// runs the Raft paper's Figure 8 scenario in a Web Worker to its verdict, shows every
// checker's result, and replays the run with the time slider (nodes, logs, events).

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtempSync, rmSync } from 'node:fs';
import type { Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Browser, Page } from 'playwright-core';
import { build, loadConfigFromFile } from 'vite';
import { recordReplay } from '../sim/replay-recorder.ts';
import { launchChromium, serveApp } from './test-support/browser-harness.ts';

const root = fileURLToPath(new URL('..', import.meta.url));
let outDir = '';
let server: Server | null = null;
let appUrl = '';
let browser: Browser | null = null;
let page: Page;

/** Builds only the simulator page, into a temporary folder, with the project's Vite config. */
async function buildSimulatorPage(): Promise<string> {
  const dir = mkdtempSync(join(tmpdir(), 'raftbox-sim-web-'));
  const loaded = await loadConfigFromFile({ command: 'build', mode: 'production' }, join(root, 'vite.config.ts'));
  if (loaded === null) throw new Error('vite.config.ts could not be loaded');
  const config = loaded.config;
  config.build = { ...config.build, outDir: dir, emptyOutDir: true, rollupOptions: { ...config.build?.rollupOptions, input: { simulator: join(root, 'web-client/simulator.html') } } };
  await build({ ...config, configFile: false, logLevel: 'warn' });
  return dir;
}

test.before(async () => {
  outDir = await buildSimulatorPage();
  const served = await serveApp(outDir, []);
  server = served.server;
  appUrl = served.url;
  browser = await launchChromium();
  page = await browser.newPage();
});

test.after(async () => {
  await browser?.close();
  await new Promise<void>((done) => (server ? server.close(() => done()) : done()));
  if (outDir) rmSync(outDir, { recursive: true, force: true });
});

test('a shared link runs figure-8 in a worker to the same verdict as the command line', async () => {
  const errors: string[] = [];
  page.on('pageerror', (error) => errors.push(error.message));
  await page.goto(`${appUrl}simulator.html?scenario=figure-8&seed=1`);
  await page.waitForFunction(() => ['passed', 'failed'].includes(document.querySelector('#verdict')?.getAttribute('data-state') ?? ''), undefined, { timeout: 120_000 });
  const expected = recordReplay({ seed: 1, scenario: 'figure-8' });
  assert.is(await page.locator('#verdict').getAttribute('data-state'), expected.result.ok ? 'passed' : 'failed');
  const verdicts = await page.locator('#verdicts li').evaluateAll((items) => items.map((item) => ({ checker: item.getAttribute('data-checker'), ok: item.getAttribute('data-ok') === 'true' })));
  assert.equal(verdicts, expected.verdicts.map((v) => ({ checker: v.checker, ok: v.ok })));
  assert.ok(verdicts.some((v) => v.checker === 'leader-completeness'));
  assert.match(await page.locator('#status').innerText(), new RegExp(`${expected.result.events} events`));
  assert.is(await page.locator('#scenario').inputValue(), 'figure-8');
  assert.equal(errors, []);
});

test('the time slider replays nodes, logs and events', async () => {
  const max = Number(await page.locator('#time').getAttribute('max'));
  assert.ok(max > 20_000, `the run lasted ${max} simulated ms`);
  const seek = (ms: number) => page.locator('#time').evaluate((slider: HTMLInputElement, value) => {
    slider.value = String(value);
    slider.dispatchEvent(new Event('input'));
  }, ms);
  await seek(0);
  await seek(8_000);
  assert.is(await page.locator('#time-label').innerText(), '8,000 ms');
  assert.is(await page.locator('#logs tbody tr').count(), 5, 'one log row per node');
  assert.ok((await page.locator('#logs td.committed').count()) > 0, 'committed entries are drawn');
  assert.ok((await page.locator('#events li.past').count()) > 0, 'events before 8 s are marked past');
  const pastAt8 = await page.locator('#events li.past').count();
  await seek(max);
  assert.ok((await page.locator('#events li.past').count()) > pastAt8, 'later events become past as the slider moves');
  await seek(100);
  await page.click('#play');
  await page.waitForFunction(() => Number((document.querySelector('#time') as HTMLInputElement).value) > 150, undefined, { timeout: 5_000 });
  await page.click('#play');
  assert.is(await page.locator('#play').innerText(), 'Play');
});

test.run();
