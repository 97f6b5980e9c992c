// The HTTP side of `raftbox cluster` (and so of `npm start`): it serves the built web
// client, tells the page where the nodes are (`/servers.json`), and runs the live
// dashboard's API: `/api/state` (JSON), `/api/events` (Server-Sent Events, one `state`
// event per poll round, so the page never reloads) and `POST /api/chaos`.

import { existsSync, readFileSync, statSync } from 'node:fs';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { extname, join, resolve, sep } from 'node:path';
import type { ChaosCommand, DashboardState, TimelineEvent } from '../../protocol/dashboard-feed.ts';
import { ClusterSupervisor } from './cluster-supervisor.ts';
import { ensureWebBuild, webRoot } from './web-build.ts';

/** Dashboard pages listening for pushes at once; more are refused with 503. */
export const eventStreamsMax = 32;
const chaosBodyBytesMax = 16 * 1024;
/** Keeps idle proxies from closing a quiet event stream. */
const keepAliveMs = 15_000;

export interface LocalClusterCommandOptions {
  count: number;
  basePort: number;
  httpPort: number;
  data: string;
  replication: number;
  logLevel: string;
}

/**
 * Runs a local cluster until SIGINT or SIGTERM: builds the web client if it is missing or
 * stale, starts the node processes under a supervisor, serves the app and the dashboard,
 * prints the URLs, and on the signal stops every process it started. Resolves with the
 * exit status.
 */
export async function runLocalCluster(options: LocalClusterCommandOptions): Promise<number> {
  try {
    await ensureWebBuild((line) => console.log(line));
  } catch (error) {
    console.error(`raftbox cluster: the web client could not be built (${error instanceof Error ? error.message : String(error)}); the nodes start anyway.`);
  }
  const streams = new Set<ServerResponse>();
  // The timeline goes to the terminal too, once the URLs are out, so whoever started the
  // cluster sees a node die or a leader change without opening the dashboard.
  let printing = false;
  const print = (event: TimelineEvent): void => {
    if (printing) console.log(`[${new Date(event.atMs).toISOString().slice(11, 19)}Z] ${event.text}`);
  };
  const supervisor = new ClusterSupervisor({ ...options, onState: (state) => broadcast(streams, state), onEvent: print });
  const web = createServer((request, response) => void handle(supervisor, streams, request, response));
  await new Promise<void>((done, fail) => {
    web.once('error', (error: NodeJS.ErrnoException) => {
      if (error.code !== 'EADDRINUSE') return fail(error);
      fail(new Error(`port ${options.httpPort} on 127.0.0.1, for the web client and dashboard, is already in use (another raftbox cluster?); stop that or pass another --http-port`));
    });
    web.listen(options.httpPort, '127.0.0.1', done);
  });
  const keepAlive = setInterval(() => { for (const stream of streams) stream.write(': keep-alive\n\n'); }, keepAliveMs);
  const stopEverything = async (): Promise<void> => {
    clearInterval(keepAlive);
    for (const stream of streams) stream.end();
    await supervisor.stop();
    await new Promise<void>((done) => web.close(() => done()));
  };
  try {
    await supervisor.start();
  } catch (error) {
    await stopEverything();
    throw error;
  }
  const httpPort = (web.address() as import('node:net').AddressInfo).port;
  console.log(`cluster of ${options.count} nodes: ${supervisor.urls.join(',')}`);
  console.log(`web client: http://127.0.0.1:${httpPort}/`);
  console.log(`dashboard: http://127.0.0.1:${httpPort}/dashboard.html`);
  console.log(`simulator: http://127.0.0.1:${httpPort}/simulator.html`);
  console.log(`try: RAFTBOX_SERVER=${supervisor.urls.join(',')} npx raftbox status   (Ctrl-C stops the cluster)`);
  printing = true;
  await new Promise<void>((done) => {
    const stop = (): void => void stopEverything().then(done);
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
  });
  return 0;
}

async function handle(supervisor: ClusterSupervisor, streams: Set<ServerResponse>, request: IncomingMessage, response: ServerResponse): Promise<void> {
  const path = (request.url ?? '/').split('?')[0]!;
  if (path === '/api/state') return sendJson(response, 200, supervisor.state());
  if (path === '/api/events') return openStream(supervisor, streams, request, response);
  if (path === '/api/chaos' && request.method === 'POST') return runChaos(supervisor, request, response);
  if (path === '/servers.json') return sendJson(response, 200, { servers: supervisor.urls });
  if (path === '/healthz') return sendJson(response, 200, { ok: true, nodes: supervisor.ids });
  serveStatic(path, response);
}

function openStream(supervisor: ClusterSupervisor, streams: Set<ServerResponse>, request: IncomingMessage, response: ServerResponse): void {
  if (streams.size >= eventStreamsMax) return sendJson(response, 503, { error: `the dashboard already has ${eventStreamsMax} pages open; close one and reload` });
  response.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-store', connection: 'keep-alive' });
  response.write(`event: state\ndata: ${JSON.stringify(supervisor.state())}\n\n`);
  streams.add(response);
  request.on('close', () => streams.delete(response));
}

function broadcast(streams: Set<ServerResponse>, state: DashboardState): void {
  if (streams.size === 0) return;
  const frame = `event: state\ndata: ${JSON.stringify(state)}\n\n`;
  for (const stream of streams) stream.write(frame);
}

async function runChaos(supervisor: ClusterSupervisor, request: IncomingMessage, response: ServerResponse): Promise<void> {
  try {
    const command = JSON.parse(await readBody(request, chaosBodyBytesMax)) as ChaosCommand;
    await supervisor.chaos(command);
    sendJson(response, 200, { ok: true });
  } catch (error) {
    sendJson(response, 400, { ok: false, error: error instanceof Error ? error.message : String(error) });
  }
}

function readBody(request: IncomingMessage, bytesMax: number): Promise<string> {
  return new Promise((done, fail) => {
    const chunks: Buffer[] = [];
    let bytes = 0;
    request.on('data', (chunk: Buffer) => {
      bytes += chunk.length;
      if (bytes <= bytesMax) chunks.push(chunk);
    });
    request.on('end', () => (bytes > bytesMax ? fail(new Error(`a request body may be at most ${bytesMax} bytes`)) : done(Buffer.concat(chunks).toString('utf8'))));
    request.on('error', fail);
  });
}

const contentTypes: Record<string, string> = {
  '.html': 'text/html; charset=utf-8', '.js': 'text/javascript', '.css': 'text/css', '.json': 'application/json', '.svg': 'image/svg+xml', '.png': 'image/png',
  '.webmanifest': 'application/manifest+json', '.wasm': 'application/wasm', '.map': 'application/json', '.txt': 'text/plain', '.ico': 'image/x-icon',
};

/** Serves a file of the built web client, or a 404 that says what to do when it is not built. */
export function serveStatic(pathname: string, response: ServerResponse): void {
  let decoded: string;
  try {
    decoded = decodeURIComponent(pathname);
  } catch {
    decoded = '/';
  }
  const relative = decoded === '/' ? 'index.html' : decoded.replace(/^\/+/, '');
  const file = resolve(webRoot, relative);
  if (!(file + sep).startsWith(webRoot + sep) || !existsSync(file) || !statSync(file).isFile()) {
    const built = existsSync(join(webRoot, 'index.html'));
    response.writeHead(404, { 'content-type': 'text/plain' });
    response.end(built ? 'not found\n' : 'the web client is not built yet: run npm run build\n');
    return;
  }
  // The service worker script must never be cached by HTTP, or an update would not be seen.
  const cache = relative === 'sw.js' || relative.endsWith('.html') ? 'no-cache' : 'public, max-age=3600';
  response.writeHead(200, { 'content-type': contentTypes[extname(file)] ?? 'application/octet-stream', 'cache-control': cache });
  response.end(readFileSync(file));
}

function sendJson(response: ServerResponse, status: number, body: unknown): void {
  response.writeHead(status, { 'content-type': 'application/json', 'cache-control': 'no-store' });
  response.end(JSON.stringify(body));
}

