// Entry point of the web client: registers the service worker (so the app loads with no
// network) and starts the page.

import { Page } from './app/page.ts';

async function registerServiceWorker(): Promise<void> {
  if (!('serviceWorker' in navigator)) return;
  try {
    await navigator.serviceWorker.register('./sw.js', { scope: './' });
  } catch {
    // Without a service worker the app still works; it only cannot load offline.
  }
}

void registerServiceWorker();
Page.start().then(
  () => document.body.setAttribute('data-ready', 'true'),
  (error: unknown) => {
    const status = document.querySelector('#connection');
    if (status !== null) status.textContent = `The app could not start: ${error instanceof Error ? error.message : String(error)}`;
  },
);
