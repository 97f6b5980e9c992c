// Live update: files written, changed and deleted through the Node SDK appear in the
// open page, pushed by the server (the page never polls), contents included; and the
// history dialog restores an old version.

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { startHarness, type Harness } from './test-support/browser-harness.ts';

let harness: Harness;

test.before(async () => {
  harness = await startHarness();
});

test.after(async () => {
  await harness?.stop();
});

const row = (path: string): string => `#files tr[data-path="${path}"]`;

test('an SDK write, edit and delete show up in the page, and history restores an old version', async () => {
  const { page, sdk } = harness;
  let started = Date.now();
  await sdk.writeFile('hello.txt', new TextEncoder().encode('hello from the SDK'));
  await page.waitForSelector(`${row('hello.txt')}[data-state="synced"]`, { timeout: 5_000 });
  console.log(`  a new file appeared in the page ${Date.now() - started} ms after the SDK's write returned`);
  await page.click(`${row('hello.txt')} td:first-child button`);
  assert.is(await page.locator('dialog[open] textarea').inputValue(), 'hello from the SDK');
  await page.click('dialog button:text-is("Close")');

  started = Date.now();
  await sdk.writeFile('hello.txt', new TextEncoder().encode('changed'));
  await page.waitForFunction((selector) => document.querySelector(`${selector} td:nth-child(4)`)?.textContent === '2', row('hello.txt'), { timeout: 5_000 });
  console.log(`  an edit appeared ${Date.now() - started} ms after the write`);
  await page.click(`${row('hello.txt')} td:first-child button`);
  assert.is(await page.locator('dialog[open] textarea').inputValue(), 'changed');
  await page.click('dialog button:text-is("Close")');

  await page.click(`${row('hello.txt')} button:text-is("History")`);
  await page.click('dialog[open] tr[data-version="1"] button:text-is("Restore")');
  await page.waitForFunction((selector) => document.querySelector(`${selector} td:nth-child(4)`)?.textContent === '3', row('hello.txt'), { timeout: 5_000 });
  assert.is(new TextDecoder().decode((await sdk.readFile('hello.txt'))!.data), 'hello from the SDK', 'restoring version 1 made it current again');

  await sdk.remove('hello.txt');
  await page.waitForSelector(row('hello.txt'), { state: 'detached', timeout: 5_000 });
});

test.run();
