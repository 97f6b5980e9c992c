// Draws the dashboard state into the page. Rows and buttons are created once per node and
// then only their text changes, so a push arriving mid-click never swaps a button away.

import type { DashboardNode, DashboardState, TimelineEvent } from '../../protocol/dashboard-feed.ts';
import { formatAge, formatBytes, formatClock, formatShare } from './format.ts';

const columns = ['id', 'role', 'term', 'commit', 'applied', 'log', 'snapshot', 'blocks', 'bytes', 'heartbeat', 'share', 'out', 'in', 'faults'] as const;
type Column = (typeof columns)[number];

/** Updates every part of the page from one pushed state. */
export function renderState(state: DashboardState): void {
  text('leader', state.leader ?? 'none');
  text('term', String(state.term));
  text('replication', `${state.replication}×`);
  text('registered-blocks', String(state.registeredBlocks));
  text('under-replicated', String(state.underReplicated));
  document.getElementById('under-replicated')!.classList.toggle('bad', state.underReplicated > 0);
  for (const node of state.nodes) renderNode(node, state);
  renderLinkChoices(state.nodes.map((n) => n.id));
  renderTimeline(state.timeline);
  for (const element of document.querySelectorAll<HTMLElement>('.chaos')) element.hidden = !state.chaosEnabled;
}

function renderNode(node: DashboardNode, state: DashboardState): void {
  const row = rowFor(node.id);
  const stats = node.stats;
  const role = node.process === 'stopped' ? 'down' : stats ? (stats.id === state.leader ? 'leader' : stats.role) : node.process === 'starting' ? 'starting' : 'unreachable';
  row.dataset.role = role;
  row.dataset.process = node.process;
  row.className = role === 'leader' ? 'leader' : role === 'down' || role === 'unreachable' ? 'down' : '';
  const values: Record<Column, string> = {
    id: node.id,
    role,
    term: stats ? String(stats.term) : '–',
    commit: stats ? String(stats.commitIndex) : '–',
    applied: stats ? String(stats.appliedIndex) : '–',
    log: stats ? String(stats.logEntries) : '–',
    snapshot: stats ? String(stats.snapshotIndex) : '–',
    blocks: stats ? String(stats.blocks) : '–',
    bytes: stats ? formatBytes(stats.bytes) : '–',
    heartbeat: stats ? formatAge(stats.leaderContactAgeMs) : '–',
    share: stats ? formatShare(stats.ringShare) : '–',
    out: stats ? String(node.sentPerSecond) : '–',
    in: stats ? String(node.receivedPerSecond) : '–',
    faults: describeFaults(node),
  };
  for (const column of columns) {
    const cell = row.querySelector<HTMLElement>(`td[data-column="${column}"]`)!;
    if (cell.textContent !== values[column]) cell.textContent = values[column];
  }
  row.querySelector<HTMLElement>('td[data-column="role"]')!.className = `role role-${role}`;
  row.querySelector<HTMLButtonElement>('button[data-action="crash"]')!.disabled = node.process !== 'running';
  row.querySelector<HTMLButtonElement>('button[data-action="isolate"]')!.disabled = node.process !== 'running';
}

function describeFaults(node: DashboardNode): string {
  const chaos = node.stats?.chaos;
  if (!chaos) return '';
  const parts: string[] = [];
  if (chaos.cut.length > 0) parts.push(`cut from ${chaos.cut.join(', ')}`);
  for (const [peer, ms] of Object.entries(chaos.delayMs)) parts.push(`+${ms} ms to ${peer}`);
  return parts.join('; ');
}

function rowFor(id: string): HTMLTableRowElement {
  const body = document.querySelector('#nodes tbody')!;
  const existing = body.querySelector<HTMLTableRowElement>(`tr[data-node="${CSS.escape(id)}"]`);
  if (existing) return existing;
  const row = document.createElement('tr');
  row.dataset.node = id;
  for (const column of columns) {
    const cell = document.createElement('td');
    cell.dataset.column = column;
    if (column === 'faults') cell.className = 'faults';
    row.append(cell);
  }
  const controls = document.createElement('td');
  controls.className = 'chaos';
  for (const [action, label] of [['crash', 'Crash'], ['restart', 'Restart'], ['isolate', 'Cut off']] as const) {
    const button = document.createElement('button');
    button.type = 'button';
    button.dataset.action = action;
    button.dataset.node = id;
    button.textContent = label;
    button.title = action === 'crash' ? `kill -9 the process of ${id}` : action === 'restart' ? `start ${id} again from its data folder` : `cut ${id} off from every peer`;
    controls.append(button);
  }
  row.append(controls);
  body.append(row);
  return row;
}

function renderLinkChoices(ids: string[]): void {
  for (const [selectId, preferred] of [['slow-from', 0], ['slow-to', 1]] as const) {
    const select = document.getElementById(selectId) as HTMLSelectElement;
    if (select.options.length === ids.length) continue;
    select.replaceChildren(...ids.map((id) => new Option(id, id)));
    select.selectedIndex = Math.min(preferred, ids.length - 1);
  }
}

function renderTimeline(events: TimelineEvent[]): void {
  const list = document.getElementById('timeline')!;
  const last = events[events.length - 1];
  // Events are rare next to pushes: redraw the (bounded) list only when it changed.
  const key = `${events.length}:${last?.atMs ?? 0}:${last?.text ?? ''}`;
  if (list.dataset.key === key) return;
  list.dataset.key = key;
  list.replaceChildren(...events.map(timelineItem).reverse());
}

function timelineItem(event: TimelineEvent): HTMLLIElement {
  const item = document.createElement('li');
  item.dataset.kind = event.kind;
  const time = document.createElement('time');
  time.textContent = formatClock(event.atMs);
  const kind = document.createElement('span');
  kind.className = `kind kind-${event.kind}`;
  kind.textContent = event.kind;
  item.append(time, kind, document.createTextNode(event.text));
  return item;
}

function text(id: string, value: string): void {
  const element = document.getElementById(id)!;
  if (element.textContent !== value) element.textContent = value;
}
