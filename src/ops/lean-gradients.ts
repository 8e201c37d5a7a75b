import { assertFunction } from '../core/validate';
import { withEagerRelease } from './eager-release';
import { withSharedClones } from './wasm/shared-clone';

/**
 * Runs `fn` — typically a whole training step: forward passes, `tf.variableGrads` or
 * `optimizer.minimize`, the optimizer update — with leaner gradient passes:
 * - every backward pass inside frees each tensor saved for it, and each intermediate gradient, as
 *   soon as it has been read for the last time (tfjs keeps them all until the pass ends: about twice
 *   the memory of the saved activations at the peak);
 * - on the wasm backend the tensors saved for the backward pass share their buffers instead of
 *   being copied (`withSharedClones`).
 *
 * Values and gradients are unchanged (tested bit for bit). `GanpoTrainer` runs each step this way;
 * use it around the step of your own loop. Nested calls apply once.
 *
 * @param fn - the step; must not write into a tensor's buffer in place (tfjs kernels never do).
 * @returns what `fn` returns.
 * @throws GanpoError `INVALID_ARGUMENT` when `fn` is not a function.
 * @example
 * ```ts
 * import { withLeanGradients } from 'ganpo/ops';
 * const loss = withLeanGradients(() => optimizer.minimize(lossFn, true, variables));
 * ```
 */
export function withLeanGradients<T>(fn: () => T): T {
  assertFunction('withLeanGradients', 'fn', fn);
  return withSharedClones(() => withEagerRelease(fn));
}
