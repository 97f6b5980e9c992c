// The web client is built from web-client/ into the top-level dist/web, which the node's
// HTTP server serves. Three pages share one build: the file client (index.html), the live
// cluster dashboard (dashboard.html) and the simulator view (simulator.html).
//
// vite-plugin-pwa adds the web app manifest and a Workbox service worker that precaches
// the built app shell, so the client loads with no network and can be installed.
import { defineConfig } from 'vite';
import { VitePWA } from 'vite-plugin-pwa';
import { fileURLToPath } from 'node:url';

const page = (name: string): string => fileURLToPath(new URL(`./web-client/${name}`, import.meta.url));

/** The largest built file the service worker precaches (the simulator bundle is the big one). */
const precacheFileBytesMax = 16 * 1024 * 1024;

export default defineConfig({
  root: fileURLToPath(new URL('./web-client', import.meta.url)),
  // Relative URLs, so the app works wherever the cluster serves it from.
  base: './',
  worker: { format: 'es' },
  build: {
    outDir: fileURLToPath(new URL('./dist/web', import.meta.url)),
    emptyOutDir: true,
    rollupOptions: {
      input: {
        index: page('index.html'),
        dashboard: page('dashboard.html'),
        simulator: page('simulator.html'),
      },
    },
  },
  plugins: [
    VitePWA({
      // main.ts registers the worker itself, so the other pages are not affected.
      injectRegister: false,
      registerType: 'autoUpdate',
      includeAssets: ['icon.svg', 'icon-192.png', 'icon-512.png'],
      manifest: {
        name: 'Raftbox',
        short_name: 'Raftbox',
        description: 'Your files, synced with your Raftbox cluster, and usable offline.',
        start_url: './',
        scope: './',
        display: 'standalone',
        background_color: '#ffffff',
        theme_color: '#1f5fbf',
        icons: [
          { src: 'icon-192.png', sizes: '192x192', type: 'image/png' },
          { src: 'icon-512.png', sizes: '512x512', type: 'image/png' },
          { src: 'icon-512.png', sizes: '512x512', type: 'image/png', purpose: 'maskable' },
          { src: 'icon.svg', sizes: 'any', type: 'image/svg+xml' },
        ],
      },
      workbox: {
        globPatterns: ['**/*.{html,js,css,wasm,svg,png,webmanifest}'],
        navigateFallback: 'index.html',
        maximumFileSizeToCacheInBytes: precacheFileBytesMax,
        clientsClaim: true,
        skipWaiting: true,
        cleanupOutdatedCaches: true,
      },
    }),
  ],
});
