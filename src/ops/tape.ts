import * as tf from '@tensorflow/tfjs-core';
import { kernelFlags } from './kernel-flags';

interface TapeState {
  activeTape: unknown;
  gradientDepth: number;
}

/**
 * Runs `fn` with the enclosing gradient tape paused: inside a `tf.variableGrads` function, the ops
 * of `fn` are not recorded, and a `tf.variableGrads` inside `fn` runs as a top-level one (its tape
 * is its own, its saved tensors are freed when it returns). Outside any gradient computation it
 * simply calls `fn`.
 *
 * Why: a nested `variableGrads` records its forward AND backward kernels on the outer tape (for
 * higher-order gradients), each saved tensor costing an Identity kernel and staying alive until the
 * outer backward ends. For GanpoTrainer's discriminator step inside the policy's gradient pass that
 * made the step slower than a separate forward. Only use it for work whose results are constants
 * for the outer gradient (here: detached latents in, variable updates and numbers out).
 *
 * Uses `tf.engine().state` (public in tfjs-core 4.x); with any other engine layout it calls `fn`
 * under the tape (correct, only slower).
 */
export function outsideTape<T>(fn: () => T): T {
  const state = tf.engine().state as unknown as Partial<TapeState> | undefined;
  if (
    !state ||
    typeof state.gradientDepth !== 'number' ||
    !('activeTape' in state) ||
    state.gradientDepth === 0
  ) {
    return fn();
  }
  const tape = state.activeTape;
  const depth = state.gradientDepth;
  state.activeTape = null;
  state.gradientDepth = 0;
  try {
    return fn();
  } finally {
    state.activeTape = tape;
    state.gradientDepth = depth;
  }
}

/**
 * A zero scalar that depends on `tensors`, to end a `tf.variableGrads` pass early without throwing:
 * tfjs does not clean up after a throwing gradient function (its tape and every tensor it saved stay
 * allocated), and `variableGrads` refuses a result that no variable reaches. Return this instead,
 * remember why, and act on it once the pass has returned (its gradients are all zero).
 *
 * @param tensors - at least one tensor computed from the variables of the pass.
 */
export function connectedZero(tensors: readonly tf.Tensor[]): tf.Scalar {
  return tf.mul(tf.addN(tensors.map((t) => tf.sum(t))), 0) as tf.Scalar;
}

/**
 * `fn()` for a result that is a constant of every gradient (no variable of an enclosing gradient
 * pass may receive gradient through it): computed off the tape ({@link outsideTape}), so nothing is
 * recorded or saved for a backward pass that would never use it. With the benchmark switch
 * `kernelFlags.offTapeConstants` off, recorded as before (the A/B baseline).
 */
export function offTape<T>(fn: () => T): T {
  return kernelFlags.offTapeConstants ? outsideTape(fn) : fn();
}
