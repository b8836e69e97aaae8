// The load balancer's logger: pino JSON lines on stderr with component "lb".
import { type Logger, pino } from 'pino';

export type LogLevel = 'debug' | 'info' | 'warn' | 'error' | 'silent';

/** A logger writing to `fd` (stderr by default); every line carries component "lb". */
export function createLbLogger(level: LogLevel = 'info', fd = 2): Logger {
  return pino({ level, timestamp: pino.stdTimeFunctions.isoTime }, pino.destination(fd)).child({
    component: 'lb',
  });
}

/** `logger` bound to component "lb", unless it already is. */
export function lbLogger(logger: Logger): Logger {
  return logger.bindings().component === 'lb' ? logger : logger.child({ component: 'lb' });
}
