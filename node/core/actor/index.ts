export * from './env.ts';
export * from './actor.ts';
export * from './mailbox.ts';
