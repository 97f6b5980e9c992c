// The web client is built from web-client/ into the top-level dist/web, which the node's
// HTTP server serves. Three pages share one build: the file client (index.html), the live
// cluster dashboard (dashboard.html) and the simulator view (simulator.html).
import { defineConfig } from 'vite';
import { fileURLToPath } from 'node:url';

const page = (name: string): string => fileURLToPath(new URL(`./web-client/${name}`, import.meta.url));

export default defineConfig({
  root: fileURLToPath(new URL('./web-client', import.meta.url)),
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
});
