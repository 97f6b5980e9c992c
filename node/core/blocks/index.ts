export * from './block-actor.ts';
export * from './block-store.ts';
export * from './block-messages.ts';
export * from './register-batcher.ts';
export * from './suspects.ts';
