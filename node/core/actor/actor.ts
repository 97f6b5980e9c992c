import type { Env } from './env.ts';

/**
 * What a host runs. The host delivers one message at a time from a bounded mailbox and,
 * once the mailbox is empty, calls `drained` so an actor can flush the work a burst of
 * messages produced as one batch (one storage sync, one round of sends).
 */
export interface Actor {
  receive(message: unknown): void;
  drained(): void;
}

export type ActorFactory = (env: Env) => Actor;
