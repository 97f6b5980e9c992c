// The simulator page (simulator.html): pick a scenario or a seed, run it in a Web Worker,
// then replay it with a time slider. The run is the same as
// `npm run sim -- --seed S --scenario NAME`, and the page's URL (?scenario=…&seed=…)
// shares it: opening such a link runs it at once.

import type { Replay } from '../../sim/replay-recorder.ts';
import { drawCluster, drawEvents, drawLogs } from './draw.ts';
import { frameAt, longestFlightMs, messagesInFlight } from './replay-cursor.ts';
import type { FromWorker, ToWorker } from './worker-protocol.ts';

const byId = <T extends HTMLElement>(id: string): T => document.getElementById(id) as T;
const scenarioSelect = byId<HTMLSelectElement>('scenario');
const seedInput = byId<HTMLInputElement>('seed');
const runButton = byId<HTMLButtonElement>('run');
const status = byId<HTMLElement>('status');
const slider = byId<HTMLInputElement>('time');
const playButton = byId<HTMLButtonElement>('play');
const canvas = byId<HTMLCanvasElement>('cluster');

let descriptions = new Map<string, string>();
let replay: Replay | null = null;
let flightMaxMs = 0;
let playing = false;
let lastTickMs = 0;

const worker = new Worker(new URL('./sim-worker.ts', import.meta.url), { type: 'module' });
worker.addEventListener('message', (event: MessageEvent<FromWorker>) => onWorkerMessage(event.data));
worker.addEventListener('error', (event) => showStatus(`the simulator worker failed to load: ${event.message}`));

function onWorkerMessage(message: FromWorker): void {
  if (message.type === 'scenarios') return showScenarios(message.scenarios);
  runButton.disabled = false;
  if (message.type === 'failed') return showStatus(message.message);
  showStatus(`simulated ${(message.replay.durationMs / 1000).toFixed(1)} s in ${(message.wallMs / 1000).toFixed(1)} s: ${message.replay.result.events} events, ${message.replay.result.operations} client operations`);
  showReplay(message.replay);
}

function showScenarios(scenarios: { name: string; description: string }[]): void {
  descriptions = new Map(scenarios.map((s) => [s.name, s.description]));
  for (const scenario of scenarios) scenarioSelect.append(new Option(scenario.name, scenario.name));
  const params = new URLSearchParams(location.search);
  const wanted = params.get('scenario') ?? '';
  if (wanted && !descriptions.has(wanted)) showStatus(`there is no scenario named "${wanted}"; pick one from the list`);
  else scenarioSelect.value = wanted;
  if (params.has('seed')) seedInput.value = params.get('seed')!;
  describeScenario();
  if (params.has('seed') || (wanted && descriptions.has(wanted))) run();
}

function describeScenario(): void {
  byId('scenario-description').textContent = descriptions.get(scenarioSelect.value) ?? 'Crashes, partitions, loss, duplication, reordering and torn disks chosen from the seed.';
}

function run(): void {
  const seed = Number(seedInput.value);
  if (!Number.isSafeInteger(seed) || seed < 0) return showStatus('the seed must be a whole number of at least 0');
  const scenario = scenarioSelect.value || null;
  const query = new URLSearchParams({ ...(scenario ? { scenario } : {}), seed: String(seed) });
  history.replaceState(null, '', `?${query}`);
  const share = byId<HTMLAnchorElement>('share');
  share.href = location.href;
  share.hidden = false;
  runButton.disabled = true;
  stop();
  byId('verdict').dataset.state = 'running';
  byId('verdict').textContent = 'running…';
  showStatus(`running seed ${seed}${scenario ? ` of ${scenario}` : ''}…`);
  worker.postMessage({ type: 'run', seed, scenario } satisfies ToWorker);
}

function showReplay(next: Replay): void {
  replay = next;
  flightMaxMs = longestFlightMs(next.messages);
  const verdict = byId('verdict');
  verdict.dataset.state = next.result.ok ? 'passed' : 'failed';
  verdict.textContent = next.result.ok ? 'every checker passed' : `${next.result.failures.length} checker${next.result.failures.length === 1 ? '' : 's'} failed`;
  byId('verdicts').replaceChildren(...next.verdicts.map((v) => {
    const item = document.createElement('li');
    item.dataset.checker = v.checker;
    item.dataset.ok = String(v.ok);
    item.textContent = `${v.ok ? '✓' : '✗'} ${v.checker}`;
    item.title = v.message;
    return item;
  }));
  byId('replay-command').textContent = `replay in a terminal: ${next.result.replay}${next.messagesTruncated ? ' (this replay keeps only the first messages)' : ''}`;
  byId('verdict-panel').hidden = false;
  byId('player').hidden = false;
  slider.max = String(Math.ceil(next.durationMs));
  slider.value = '0';
  render();
}

function render(): void {
  if (!replay) return;
  const atMs = Number(slider.value);
  byId('time-label').textContent = `${Math.round(atMs).toLocaleString('en')} ms`;
  const frame = frameAt(replay, atMs);
  if (!frame) return;
  drawCluster(canvas, frame, messagesInFlight(replay.messages, atMs, flightMaxMs));
  drawLogs(byId('logs'), frame);
  drawEvents(byId('events'), replay.events, atMs);
}

function tick(nowMs: number): void {
  if (!playing || !replay) return;
  const speed = Number(byId<HTMLSelectElement>('speed').value);
  const next = Number(slider.value) + (nowMs - lastTickMs) * speed;
  lastTickMs = nowMs;
  slider.value = String(Math.min(next, Number(slider.max)));
  render();
  if (next >= Number(slider.max)) return stop();
  requestAnimationFrame(tick);
}

function stop(): void {
  playing = false;
  playButton.textContent = 'Play';
}

function showStatus(text: string): void {
  status.textContent = text;
}

byId('run-form').addEventListener('submit', (event) => {
  event.preventDefault();
  run();
});
scenarioSelect.addEventListener('change', describeScenario);
slider.addEventListener('input', render);
playButton.addEventListener('click', () => {
  if (playing) return stop();
  if (Number(slider.value) >= Number(slider.max)) slider.value = '0';
  playing = true;
  playButton.textContent = 'Pause';
  lastTickMs = performance.now();
  requestAnimationFrame(tick);
});
