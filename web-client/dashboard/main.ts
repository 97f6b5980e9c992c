// The live cluster dashboard (dashboard.html). The supervisor of `raftbox cluster` pushes
// its whole state as Server-Sent Events after every poll of the nodes; the page draws it
// and sends chaos commands back with POST /api/chaos. EventSource reconnects by itself
// when the supervisor restarts.

import type { ChaosCommand, DashboardState } from '../../protocol/dashboard-feed.ts';
import { renderState } from './render.ts';

const connection = document.getElementById('connection')!;
const errorLine = document.getElementById('chaos-error')!;

function connect(): void {
  const events = new EventSource('api/events');
  events.addEventListener('open', () => setConnection('live', 'live'));
  events.addEventListener('error', () => setConnection('lost', 'reconnecting…'));
  events.addEventListener('state', (event) => renderState(JSON.parse((event as MessageEvent<string>).data) as DashboardState));
}

function setConnection(kind: 'live' | 'lost', label: string): void {
  connection.className = `pill ${kind}`;
  connection.textContent = label;
}

async function sendChaos(command: ChaosCommand): Promise<void> {
  errorLine.textContent = '';
  try {
    const response = await fetch('api/chaos', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(command) });
    const body = (await response.json()) as { ok: boolean; error?: string };
    if (!body.ok) errorLine.textContent = body.error ?? 'the cluster refused the command';
  } catch {
    errorLine.textContent = 'the dashboard server did not answer; is raftbox cluster still running?';
  }
}

document.getElementById('nodes')!.addEventListener('click', (event) => {
  const button = (event.target as HTMLElement).closest<HTMLButtonElement>('button[data-action]');
  if (!button || button.disabled) return;
  const node = button.dataset.node!;
  const action = button.dataset.action as 'crash' | 'restart' | 'isolate';
  void sendChaos({ action, node });
});

document.getElementById('slow-form')!.addEventListener('submit', (event) => {
  event.preventDefault();
  const from = (document.getElementById('slow-from') as HTMLSelectElement).value;
  const to = (document.getElementById('slow-to') as HTMLSelectElement).value;
  const delayMs = Number((document.getElementById('slow-ms') as HTMLInputElement).value);
  void sendChaos({ action: 'slow', from, to, delayMs });
});

document.getElementById('heal')!.addEventListener('click', () => void sendChaos({ action: 'heal' }));

connect();
