// A simulator worker thread, started by pool.ts. It announces `ready` once loaded, then
// answers each `{ seed }` with the run's result (trace dropped unless asked for) or, when
// the run throws, a `crash` reply. The pool deals the next seed on each reply.

import { parentPort, workerData } from 'node:worker_threads';
import { describeCrash, runSeedSafely, type RunRequest, type WorkerReply, type WorkerSetup } from './pool.ts';

const port = parentPort;
if (port === null) throw new Error('sim/cli/worker.ts must run on a worker thread');
const setup = workerData as WorkerSetup;

port.on('message', (request: RunRequest) => {
  try {
    const reply: WorkerReply = { type: 'result', seed: request.seed, result: runSeedSafely(setup.base, request.seed, setup.keepTrace) };
    port.postMessage(reply);
  } catch (error) {
    // runSeedSafely catches the run's throws; this is a result that cannot be sent.
    const reply: WorkerReply = { type: 'crash', seed: request.seed, message: describeCrash(error) };
    port.postMessage(reply);
  }
});

const ready: WorkerReply = { type: 'ready' };
port.postMessage(ready);
