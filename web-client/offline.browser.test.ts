// Offline: with the network gone, the app still loads (from its service worker), and the
// user can add, edit, rename and delete files; the cluster sees none of it until the
// browser is back online, and then all of it.

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { editInPage, eventually, startHarness, waitForServiceWorker, waitUntilSynced, type Harness } from './test-support/browser-harness.ts';

let harness: Harness;

test.before(async () => {
  harness = await startHarness();
});

test.after(async () => {
  await harness?.stop();
});

const text = (value: string): Uint8Array => new TextEncoder().encode(value);
const row = (path: string): string => `#files tr[data-path="${path}"]`;

test('edits made offline, across a reload, reach the cluster once back online', async () => {
  const { page, sdk, context } = harness;
  await waitForServiceWorker(page);
  await sdk.writeFile('doc.txt', text('version one'));
  await sdk.writeFile('old-name.txt', text('to be renamed'));
  await sdk.writeFile('doomed.txt', text('to be deleted'));
  await page.waitForSelector(`${row('doomed.txt')}[data-state="synced"]`);
  await waitUntilSynced(page);

  await context.setOffline(true);
  await page.reload();
  await page.waitForSelector('body[data-ready="true"]');
  await page.waitForSelector('#connection[data-online="false"]');
  assert.ok(await page.isVisible(row('doc.txt')), 'the replica is still there after an offline reload');

  await page.setInputFiles('#add-files', { name: 'made-offline.txt', mimeType: 'text/plain', buffer: Buffer.from('written with no network') });
  await page.waitForSelector(`${row('made-offline.txt')}[data-state="pending"]`);
  await editInPage(page, 'doc.txt', 'version two, offline');
  await page.waitForSelector(`${row('doc.txt')}[data-state="pending"]`);
  page.once('dialog', () => undefined);
  await page.click(`${row('old-name.txt')} button:text-is("Rename")`);
  await page.fill('dialog input', 'new-name.txt');
  await page.click('dialog button:text-is("OK")');
  await page.click(`${row('doomed.txt')} button:text-is("Delete")`);
  await page.waitForSelector(row('doomed.txt'), { state: 'detached' });
  assert.match(await page.textContent('#pending') ?? '', /changes wait to sync/);

  assert.is(await sdk.stat('made-offline.txt'), null, 'nothing reached the cluster while offline');
  assert.equal((await sdk.readFile('doc.txt'))?.data, text('version one'));

  await context.setOffline(false);
  const added = await eventually('the offline file in the cluster', async () => (await sdk.readFile('made-offline.txt')) ?? undefined);
  assert.equal(added.data, text('written with no network'));
  await eventually('the offline edit in the cluster', async () => ((await sdk.readFile('doc.txt'))?.version === 2 ? true : undefined));
  assert.equal((await sdk.readFile('doc.txt'))?.data, text('version two, offline'));
  assert.equal((await sdk.readFile('new-name.txt'))?.data, text('to be renamed'));
  assert.is(await sdk.readFile('old-name.txt'), null);
  assert.is(await sdk.readFile('doomed.txt'), null);
  await waitUntilSynced(page);
});

test.run();
