import { argumentError } from './errors';

/** How serious a library message is: `'info'` (a notice) or `'warn'` (something is likely wrong). */
export type LogLevel = 'info' | 'warn';

type LogFunction = (message: string, level: LogLevel) => void;

/** The default channel: `console.info` for notices, `console.warn` for warnings. */
const consoleLogger: LogFunction = (message, level) => {
  if (level === 'warn') console.warn(message);
  else console.info(message);
};

let logger: LogFunction | null = consoleLogger;

/**
 * Sets where every notice and warning of the library goes (the trainer's construction summary, the
 * regularizer's diagnostics, size notices): a function `(message, level)` with level `'info'` or
 * `'warn'`, or `null` to silence them all. Global, like {@link setValidationLevel}; the default
 * writes to `console.info` / `console.warn`. Returns the previous logger (`null` when silenced) so
 * callers can restore it.
 *
 * @example
 * ```ts
 * const lines: string[] = [];
 * const previous = setLogger((message, level) => lines.push(`${level}: ${message}`));
 * // ... train ...
 * setLogger(previous);
 * ```
 */
export function setLogger(
  next: ((message: string, level: 'info' | 'warn') => void) | null,
): ((message: string, level: 'info' | 'warn') => void) | null {
  if (next !== null && typeof next !== 'function') {
    throw argumentError('INVALID_OPTION', 'setLogger', 'logger', 'a function or null', typeof next);
  }
  const previous = logger;
  logger = next;
  return previous;
}

/** Sends one message to the current logger (nothing when silenced). */
export function log(level: LogLevel, message: string): void {
  logger?.(message, level);
}
