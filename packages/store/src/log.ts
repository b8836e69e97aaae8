// The store's logger: pino JSON lines that always carry the member's name and the component that
// wrote them, so that the logs of a whole cluster can be merged and filtered.
import { pino } from 'pino';
import type { LogLevel } from './config.js';

export interface LoggerOptions {
  /** The member's name (etcd's --name). */
  readonly name: string;
  readonly level: LogLevel;
  /** The part of the member that logs, e.g. "raft", "mvcc", "grpc"; "member" if not given. */
  readonly component?: string;
  /** Where the lines go; standard output if not given. */
  readonly destination?: NodeJS.WritableStream;
}

export type Logger = pino.Logger;

// pino writes a child's bindings after its parent's, so a logger bound to a component whose child
// binds another would write "component" twice. So the logger createLogger returns binds no
// component: a mixin adds the default one to lines from loggers that bind none, and callers
// (member code included) may use `logger.child({ component: 'raft' })` freely.
const bindsComponent = new WeakMap<pino.Logger, boolean>();
// Component loggers made by componentLogger remember the root, so that nesting them never repeats the key.
const roots = new WeakMap<pino.Logger, pino.Logger>();

export function createLogger(opts: LoggerOptions): pino.Logger {
  if (opts.name === '') throw new Error('assertion failed: a logger needs the member name');
  const defaultComponent = opts.component ?? 'member';
  const options: pino.LoggerOptions = {
    level: opts.level,
    base: { member: opts.name },
    // ISO times read better than epoch milliseconds when a person merges several members' logs.
    timestamp: pino.stdTimeFunctions.isoTime,
    // Level names, as etcd's zap logger writes them, instead of pino's numbers.
    formatters: { level: (label) => ({ level: label }) },
    mixin: (_obj, _level, logger) => (hasComponentBinding(logger) ? {} : { component: defaultComponent }),
  };
  // pino's destination type is a sync-writable stream; any Node writable stream works.
  return opts.destination === undefined
    ? pino(options)
    : pino(options, opts.destination as unknown as pino.DestinationStream);
}

function hasComponentBinding(logger: pino.Logger): boolean {
  let known = bindsComponent.get(logger);
  if (known === undefined) {
    // bindings() parses JSON; do it once per logger, not once per line.
    known = 'component' in logger.bindings();
    bindsComponent.set(logger, known);
  }
  return known;
}

/** A logger for one component of the same member: `componentLogger(log, 'raft')`, nestable. */
export function componentLogger(parent: pino.Logger, component: string): pino.Logger {
  const root = roots.get(parent) ?? parent;
  const child = root.child({ component });
  roots.set(child, root);
  return child;
}
