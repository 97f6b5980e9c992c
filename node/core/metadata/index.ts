export { BlockRegistry, type BlockRecord } from './block-registry.ts';
export { ChangeFeed, type FeedRecord } from './change-feed.ts';
export {
  checkCommand,
  checkNamespace,
  commandLimits,
  decodeCommand,
  encodeCommand,
  toWireError,
  type ApplyResult,
  type CommitCommand,
  type MetadataCommand,
  type RegisterCommand,
  type RegisteredBlock,
} from './commands.ts';
export { defaultMetadataServiceOptions, MetadataService, type MetadataServiceOptions } from './service.ts';
export {
  changesLimitDefault,
  changesLimitMax,
  defaultMetadataStateMachineOptions,
  MetadataStateMachine,
  type ChangesResult,
  type CommitListener,
  type MetadataStateMachineOptions,
} from './state-machine.ts';
export { StatusCollector, type StatusTimeoutMessage } from './status-collector.ts';
export { Watchers } from './watchers.ts';
