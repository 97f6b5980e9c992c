// The simulator's Web Worker: it runs one seed of sim/ (the same code `npm run sim` runs)
// off the page's thread and sends back the recorded replay. It announces the scenario
// library as soon as it loads.

import { recordReplay } from '../../sim/replay-recorder.ts';
import { listScenarios } from '../../sim/run.ts';
import type { FromWorker, ToWorker } from './worker-protocol.ts';

const post = (message: FromWorker): void => (self as unknown as Worker).postMessage(message);

self.addEventListener('message', (event: MessageEvent<ToWorker>) => {
  const request = event.data;
  if (request.type !== 'run') return;
  const started = performance.now();
  try {
    const replay = recordReplay({ seed: request.seed, scenario: request.scenario });
    post({ type: 'replay', replay, wallMs: Math.round(performance.now() - started) });
  } catch (error) {
    post({ type: 'failed', message: `the simulator crashed on seed ${request.seed}: ${error instanceof Error ? error.message : String(error)}` });
  }
});

post({ type: 'scenarios', scenarios: listScenarios() });
