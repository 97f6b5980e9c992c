// The plain-HTTP side of a node's port: `/metrics` (Prometheus text), `/healthz`, `/stats`
// (the JSON figures the cluster dashboard polls) and, only on a node started with
// `--chaos`, `POST /chaos` to cut or slow its outgoing peer links.

import type { IncomingMessage, ServerResponse } from 'node:http';
import type { ChaosSettings } from '../../protocol/dashboard-feed.ts';
import type { NodeTelemetry } from './metrics.ts';
import type { PeerTraffic } from './peer-traffic.ts';

/** The largest `/chaos` request body accepted. */
const chaosBodyBytesMax = 64 * 1024;

/** Builds the handler NodeServer calls for requests that are not WebSocket upgrades. */
export function nodeHttpHandler(telemetry: NodeTelemetry, traffic: PeerTraffic): (request: IncomingMessage, response: ServerResponse) => void {
  return (request, response) => {
    const path = (request.url ?? '/').split('?')[0];
    if (path === '/healthz') return healthz(telemetry, response);
    if (path === '/stats') return sendJson(response, 200, telemetry.stats() ?? { error: 'the node is still starting' });
    if (path === '/metrics') return void metrics(telemetry, response);
    if (path === '/chaos' && request.method === 'POST') return chaos(traffic, request, response);
    if (path === '/chaos') return sendJson(response, 200, { chaos: traffic.chaos() });
    response.writeHead(404, { 'content-type': 'text/plain' });
    response.end('not found: this node serves /healthz, /metrics and /stats\n');
  };
}

function healthz(telemetry: NodeTelemetry, response: ServerResponse): void {
  const stats = telemetry.stats();
  if (!stats) return sendJson(response, 503, { ok: false, error: 'the node is still starting' });
  sendJson(response, 200, { ok: true, node: stats.id, role: stats.role, term: stats.term, leader: stats.leader });
}

async function metrics(telemetry: NodeTelemetry, response: ServerResponse): Promise<void> {
  try {
    const text = await telemetry.metrics();
    response.writeHead(200, { 'content-type': telemetry.registry.contentType });
    response.end(text);
  } catch (error) {
    response.writeHead(500, { 'content-type': 'text/plain' });
    response.end(`the metrics could not be collected: ${error instanceof Error ? error.message : String(error)}\n`);
  }
}

function chaos(traffic: PeerTraffic, request: IncomingMessage, response: ServerResponse): void {
  if (!traffic.chaosEnabled) return sendJson(response, 403, { error: 'chaos controls are off on this node; start it with --chaos' });
  const chunks: Buffer[] = [];
  let bytes = 0;
  request.on('data', (chunk: Buffer) => {
    bytes += chunk.length;
    if (bytes <= chaosBodyBytesMax) chunks.push(chunk);
  });
  request.on('end', () => {
    if (bytes > chaosBodyBytesMax) return sendJson(response, 413, { error: `a chaos request may be at most ${chaosBodyBytesMax} bytes` });
    try {
      const body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as Partial<ChaosSettings>;
      traffic.setChaos({ cut: Array.isArray(body.cut) ? body.cut : [], delayMs: typeof body.delayMs === 'object' && body.delayMs !== null ? body.delayMs : {} });
      sendJson(response, 200, { chaos: traffic.chaos() });
    } catch (error) {
      sendJson(response, 400, { error: error instanceof Error ? error.message : String(error) });
    }
  });
}

function sendJson(response: ServerResponse, status: number, body: unknown): void {
  response.writeHead(status, { 'content-type': 'application/json', 'cache-control': 'no-store' });
  response.end(JSON.stringify(body));
}
