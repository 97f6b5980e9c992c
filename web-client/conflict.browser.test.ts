// Conflict: the same file edited offline in the page and, meanwhile, through the SDK.
// Back online, the page shows the conflict side by side; the cluster keeps both versions
// (the SDK's under the name, the page's as a conflict copy); and the user's choice
// settles it: "Keep mine" makes the page's version current and drops the copy.

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { editInPage, eventually, startHarness, waitUntilSynced, type Harness } from './test-support/browser-harness.ts';

let harness: Harness;

test.before(async () => {
  harness = await startHarness();
});

test.after(async () => {
  await harness?.stop();
});

const text = (value: string): Uint8Array => new TextEncoder().encode(value);
const decode = (bytes: Uint8Array): string => new TextDecoder().decode(bytes);

async function editOnBothSides(name: string): Promise<string> {
  const { page, sdk, context } = harness;
  await sdk.writeFile(name, text('the original'));
  await page.waitForSelector(`#files tr[data-path="${name}"][data-state="synced"]`);
  await context.setOffline(true);
  await page.waitForSelector('#connection[data-online="false"]');
  await editInPage(page, name, 'edited in the browser');
  await sdk.writeFile(name, text('edited through the SDK'));
  await context.setOffline(false);
  const copy = await eventually(`the conflict copy of ${name}`, async () => {
    const files = await sdk.list('');
    return files.find((file) => file.path.startsWith(name.replace('.txt', ' (conflicted copy from ')))?.path;
  });
  await waitUntilSynced(page);
  return copy;
}

test('concurrent edits keep both versions and show the conflict side by side', async () => {
  const { page, sdk } = harness;
  const copy = await editOnBothSides('report.txt');
  assert.is(decode((await sdk.readFile('report.txt'))!.data), 'edited through the SDK');
  assert.is(decode((await sdk.readFile(copy))!.data), 'edited in the browser');
  const conflict = 'article.conflict[data-path="report.txt"]';
  await page.waitForSelector(conflict);
  assert.is(await page.getAttribute(conflict, 'data-copy'), copy);
  await page.waitForSelector(`${conflict} [data-side="theirs"] pre:text-is("edited through the SDK")`);
  await page.waitForSelector(`${conflict} [data-side="mine"] pre:text-is("edited in the browser")`);
  assert.is(await page.getAttribute('#files tr[data-path="report.txt"]', 'data-state'), 'conflict');

  await page.click(`${conflict} button:text-is("Keep both")`);
  await page.waitForSelector(conflict, { state: 'detached' });
  assert.ok(await sdk.stat(copy), 'keeping both leaves the copy in the cluster');
});

test('"Keep mine" makes the browser version current and removes the copy', async () => {
  const { page, sdk } = harness;
  const copy = await editOnBothSides('plan.txt');
  const conflict = 'article.conflict[data-path="plan.txt"]';
  await page.click(`${conflict} button:text-is("Keep mine")`);
  await page.waitForSelector(conflict, { state: 'detached' });
  await eventually('the copy to be gone from the cluster', async () => ((await sdk.stat(copy))?.deleted ? true : undefined));
  assert.is(decode((await sdk.readFile('plan.txt'))!.data), 'edited in the browser');
  const history = await sdk.history('plan.txt');
  assert.ok(history.some((version) => !version.deleted && version.device === 'sdk'), 'the SDK version stays in history');
});

test.run();
