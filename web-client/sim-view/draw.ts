// Draws one instant of a replay, RaftScope-style: the nodes on a circle (colour by role,
// term inside, a ring around the leader), the messages in flight as dots travelling from
// sender to receiver, and every node's log tail as a row of terms.

import type { ReplayEvent, ReplayFrame, ReplayMessage, ReplayNode } from '../../sim/replay-recorder.ts';

const roleColours: Record<ReplayNode['role'], string> = { leader: '#e0a100', follower: '#1f5fbf', candidate: '#d35400', preCandidate: '#e67e22', down: '#b0b6bf' };
const messageColours: Record<string, string> = { append: '#1f5fbf', appendResponse: '#6c9be0', heartbeat: '#2e9b57', heartbeatResponse: '#7cc79a', vote: '#d35400', voteResponse: '#f0a868', snapshot: '#8e44ad', timeoutNow: '#c0392b' };
/** Distinct terms get distinct hues, so a log shows at a glance where terms change. */
const termHue = (term: number): number => (term * 137) % 360;

/** Positions of the nodes on a circle inside the canvas. */
function layout(canvas: HTMLCanvasElement, ids: string[]): Map<string, { x: number; y: number }> {
  const cx = canvas.width / 2;
  const cy = canvas.height / 2;
  const radius = Math.min(cx, cy) - 60;
  return new Map(ids.map((id, i) => {
    const angle = -Math.PI / 2 + (2 * Math.PI * i) / ids.length;
    return [id, { x: cx + radius * Math.cos(angle), y: cy + radius * Math.sin(angle) }];
  }));
}

/** Draws the nodes and the messages in flight. */
export function drawCluster(canvas: HTMLCanvasElement, frame: ReplayFrame, flying: { message: ReplayMessage; progress: number }[]): void {
  const context = canvas.getContext('2d')!;
  context.clearRect(0, 0, canvas.width, canvas.height);
  const positions = layout(canvas, frame.nodes.map((n) => n.id));
  for (const { message, progress } of flying) {
    const from = positions.get(message.from);
    const to = positions.get(message.to);
    if (!from || !to) continue;
    context.globalAlpha = message.arriveMs === null ? 0.35 : 1;
    context.fillStyle = messageColours[message.type] ?? '#555';
    context.beginPath();
    context.arc(from.x + (to.x - from.x) * progress, from.y + (to.y - from.y) * progress, message.type.endsWith('Response') ? 3 : 5, 0, 2 * Math.PI);
    context.fill();
  }
  context.globalAlpha = 1;
  for (const node of frame.nodes) drawNode(context, node, positions.get(node.id)!, node.id === frame.leader);
}

function drawNode(context: CanvasRenderingContext2D, node: ReplayNode, at: { x: number; y: number }, leading: boolean): void {
  context.beginPath();
  context.arc(at.x, at.y, 34, 0, 2 * Math.PI);
  context.fillStyle = roleColours[node.role];
  context.fill();
  if (leading) {
    context.lineWidth = 4;
    context.strokeStyle = '#8a6100';
    context.stroke();
  }
  context.fillStyle = 'white';
  context.textAlign = 'center';
  context.font = 'bold 15px system-ui, sans-serif';
  context.fillText(node.id, at.x, at.y - 4);
  context.font = '12px system-ui, sans-serif';
  context.fillText(node.up ? `term ${node.term}` : 'crashed', at.x, at.y + 13);
  context.fillStyle = '#1d2430';
  const below = node.up ? `${node.role}${node.vote ? ` · voted ${node.vote}` : ''}` : '';
  context.fillText(below, at.x, at.y + 50);
}

/** Rebuilds the log table: one row per node, one column per index of the union of their tails. */
export function drawLogs(container: HTMLElement, frame: ReplayFrame): void {
  const live = frame.nodes.filter((n) => n.logTerms.length > 0);
  const first = live.length > 0 ? Math.min(...live.map((n) => n.logStart)) : 1;
  const last = Math.max(0, ...frame.nodes.map((n) => n.lastIndex));
  const start = Math.max(first, last - 23);
  const table = document.createElement('table');
  const head = table.createTHead().insertRow();
  head.append(cell('th', 'node'));
  for (let index = start; index <= last; index++) head.append(cell('th', String(index)));
  head.append(cell('th', 'commit'));
  const body = table.createTBody();
  for (const node of frame.nodes) {
    const row = body.insertRow();
    row.dataset.node = node.id;
    if (!node.up) row.className = 'down';
    row.append(cell('th', node.id));
    for (let index = start; index <= last; index++) {
      const term = index >= node.logStart && index <= node.lastIndex ? node.logTerms[index - node.logStart] : undefined;
      const td = cell('td', term === undefined ? '' : String(term));
      if (term !== undefined) {
        td.className = index <= node.commitIndex ? 'committed' : 'uncommitted';
        td.style.background = `hsl(${termHue(term)} 60% 45%)`;
        if (index > node.commitIndex) td.style.color = `hsl(${termHue(term)} 60% 35%)`;
      }
      row.append(td);
    }
    row.append(cell('td', node.up ? String(node.commitIndex) : '–'));
  }
  container.replaceChildren(table);
}

/** The event list, with the events before `atMs` marked as past and the current one in view. */
export function drawEvents(list: HTMLElement, events: ReplayEvent[], atMs: number): void {
  if (list.childElementCount !== events.length) {
    list.replaceChildren(...events.map((event) => {
      const item = document.createElement('li');
      item.textContent = `${event.atMs.toFixed(1)} ms  ${event.node}  ${event.event}${event.detail ? ' ' + event.detail : ''}`;
      return item;
    }));
  }
  let current: Element | null = null;
  events.forEach((event, i) => {
    const item = list.children[i]!;
    const past = event.atMs <= atMs;
    item.classList.toggle('past', past);
    if (past) current = item;
  });
  const shown = current as HTMLElement | null;
  // Scroll the list only, never the page.
  if (shown) list.scrollTop = Math.max(0, shown.offsetTop - list.offsetTop - list.clientHeight / 2);
}

function cell(tag: 'th' | 'td', text: string): HTMLTableCellElement {
  const element = document.createElement(tag);
  element.textContent = text;
  return element;
}
