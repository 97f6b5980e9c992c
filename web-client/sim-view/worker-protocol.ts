// Messages between the simulator page and its Web Worker. Data only.

import type { Replay } from '../../sim/replay-recorder.ts';

export type ToWorker = { type: 'run'; seed: number; scenario: string | null };

export type FromWorker =
  | { type: 'scenarios'; scenarios: { name: string; description: string }[] }
  | { type: 'replay'; replay: Replay; wallMs: number }
  | { type: 'failed'; message: string };
