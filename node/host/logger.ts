// Structured logs for a node process: one JSON line per event on stderr, through pino,
// each carrying the node id, so the lines of several nodes can be merged and filtered.

import { pino, type Logger } from 'pino';
import type { LogFn } from './node.ts';

export const logLevels = ['debug', 'info', 'warn', 'error'] as const;
export type LogLevelName = (typeof logLevels)[number];

/** A pino logger for node `node` at `level` and above, writing to stderr (or `destination`). */
export function createNodeLogger(node: string, level: LogLevelName, destination: NodeJS.WritableStream = process.stderr): Logger {
  const formatters = { level: (label: string) => ({ level: label }) };
  return pino({ level, base: { node, pid: process.pid }, formatters, timestamp: pino.stdTimeFunctions.isoTime, messageKey: 'msg' }, destination);
}

/**
 * Adapts a pino logger to the node's `log(level, event, fields)` shape; the event name
 * becomes `event` and `msg`. A `node` field equal to the logger's own node is left to the
 * base binding, so each line names its node once.
 */
export function logFnOf(logger: Logger, node: string): LogFn {
  return (level, event, fields = {}) => {
    if (!logger.isLevelEnabled(level)) return;
    const { node: subject, ...rest } = fields;
    logger[level](subject === undefined || subject === node ? { event, ...rest } : { event, subject, ...rest }, event);
  };
}
