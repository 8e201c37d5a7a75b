import * as tf from '@tensorflow/tfjs-core';

/** A recorded kernel of tfjs's gradient tape: `saved` are the tensors its backward will read. */
interface TapeNode {
  saved?: tf.Tensor[];
}

/** The parts of `tf.engine()` (tfjs-core 4.x, public properties) these guards use. */
interface EngineInternals {
  state?: {
    activeTape: TapeNode[] | null;
    gradientDepth: number;
  };
  /** Called for every tensor and variable the engine registers. */
  trackTensor?(tensor: tf.Tensor, backend: unknown): void;
}

function engine(): EngineInternals {
  return tf.engine() as unknown as EngineInternals;
}

/**
 * Runs `fn`; if it throws while a gradient tape records (inside a caller's `tf.variableGrads` or
 * `tf.grads`), removes from the tape the nodes `fn` recorded and frees the tensors they saved.
 *
 * Why: tfjs keeps a clone of every tensor a recorded kernel saves for its backward pass and frees
 * them only when the backward pass runs. A function that throws inside the tape (a refused
 * argument found after a few kernels, a NaN found in the middle of a loss) strands them: every
 * refusal inside a user's own gradient pass leaked. The nodes removed are the refused call's own:
 * its tensors are gone (its tidy freed them), so no later output can depend on them.
 *
 * With another engine layout (no `state.activeTape`), `fn` runs unguarded.
 */
export function rollbackTapeOnThrow<T>(fn: () => T): T {
  const state = engine().state;
  const tape = state?.activeTape;
  if (!state || !Array.isArray(tape) || !(state.gradientDepth > 0)) return fn();
  const mark = tape.length;
  try {
    return fn();
  } catch (e) {
    if (state.activeTape === tape && tape.length > mark) {
      for (const node of tape.splice(mark)) {
        for (const t of node.saved ?? []) t.dispose();
      }
    }
    throw e;
  }
}

/**
 * Runs `fn`, which builds something that owns tensors (a constructor's body, a model copy). If it
 * throws, every tensor and variable it created is disposed, kept ones included, so a refused
 * construction leaves nothing behind (a trainer whose reference copy failed used to leave its two
 * critics, 74 tensors, allocated). If it returns, nothing changes.
 *
 * The tensors are those the engine registers while `fn` runs (its `trackTensor` is wrapped for
 * that time): nested `tidy` scopes and `keep` hide no tensor from it. With another engine layout,
 * `fn` runs unguarded.
 */
export function disposeCreatedOnThrow<T>(fn: () => T): T {
  const e = engine();
  const original = e.trackTensor;
  if (typeof original !== 'function') return fn();
  const created: tf.Tensor[] = [];
  e.trackTensor = function (this: unknown, tensor: tf.Tensor, backend: unknown) {
    created.push(tensor);
    original.call(this, tensor, backend);
  };
  try {
    return fn();
  } catch (err) {
    for (const t of created) if (!t.isDisposed) t.dispose();
    throw err;
  } finally {
    e.trackTensor = original;
  }
}
