import { argumentError } from './errors';

/**
 * How much input checking ganpo does.
 *
 * - `'full'` (default): shapes, dtypes, options, and value checks (finite values, label ranges,
 *   0/1 masks). Value checks read tensors back to the CPU — a GPU sync per check — so they run only
 *   outside a gradient tape: inside `tf.variableGrads` (where `ganpoLoss`, `latentAnchorLoss` and
 *   the preference losses are meant to be called) non-finite inputs give a non-finite loss instead.
 * - `'shapes'`: shapes, dtypes and options only; never reads tensor data. Use it in tight loops on
 *   GPU backends and in benchmarks.
 * - `'off'`: only option checks that guard against silent wrong results on plain numbers.
 */
export type ValidationLevel = 'full' | 'shapes' | 'off';

let level: ValidationLevel = 'full';

/**
 * Sets the global {@link ValidationLevel}; returns the previous level so callers can restore it.
 *
 * @example
 * ```ts
 * const previous = setValidationLevel('shapes'); // skip value checks (no GPU read-backs)
 * // ... trusted hot loop ...
 * setValidationLevel(previous);
 * ```
 */
export function setValidationLevel(next: ValidationLevel): ValidationLevel {
  if (next !== 'full' && next !== 'shapes' && next !== 'off') {
    throw argumentError(
      'INVALID_OPTION',
      'setValidationLevel',
      'level',
      "one of 'full' | 'shapes' | 'off'",
      String(next),
    );
  }
  const previous = level;
  level = next;
  return previous;
}

/**
 * The current global {@link ValidationLevel}.
 *
 * @example
 * ```ts
 * if (getValidationLevel() === 'full') console.log('inputs are checked for NaN/Inf');
 * ```
 */
export function getValidationLevel(): ValidationLevel {
  return level;
}

/**
 * Runs `fn` with a temporary validation level and restores the previous one afterwards, even when
 * `fn` throws.
 *
 * @example
 * ```ts
 * const out = withValidationLevel('off', () => dpoLoss(args)); // option checks only, for this call
 * ```
 */
export function withValidationLevel<T>(temporary: ValidationLevel, fn: () => T): T {
  const previous = setValidationLevel(temporary);
  try {
    return fn();
  } finally {
    setValidationLevel(previous);
  }
}
