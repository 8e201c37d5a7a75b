import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import { disposeCreatedOnThrow, rollbackTapeOnThrow } from '../../src/core/engine-guards';

class Refusal extends Error {}

/** Kernels that save tensors for their backward (exp, mul, matMul), then a refusal. */
function refusedAfterKernels(x: tf.Tensor): tf.Scalar {
  return tf.tidy(() => {
    const y = tf.matMul(tf.exp(tf.mul(x, 2)), x, false, true);
    if (y.size > 0) throw new Refusal('refused');
    return tf.sum(y) as tf.Scalar;
  });
}

describe('rollbackTapeOnThrow: a refusal inside a caller’s gradient pass leaves nothing on the tape', () => {
  const run = (guard: boolean) => {
    const x = tf.variable(tf.randomNormal([4, 3], 0, 1, 'float32', 1));
    const before = tf.memory().numTensors;
    expect(() =>
      tf.variableGrads(
        () => (guard ? rollbackTapeOnThrow(() => refusedAfterKernels(x)) : refusedAfterKernels(x)),
        [x],
      ),
    ).toThrow(Refusal);
    const leaked = tf.memory().numTensors - before;
    x.dispose();
    return leaked;
  };

  it('without the guard tfjs strands the saved tensors; with it none are left', () => {
    expect(run(false)).toBeGreaterThan(0);
    expect(run(true)).toBe(0);
  });

  it('a later gradient pass is unaffected, and outside a tape the guard is transparent', () => {
    const x = tf.variable(tf.ones([2, 2]));
    expect(() => tf.variableGrads(() => rollbackTapeOnThrow(() => refusedAfterKernels(x)), [x])).toThrow();
    const { value, grads } = tf.variableGrads(
      () => rollbackTapeOnThrow(() => tf.sum(tf.square(x)) as tf.Scalar),
      [x],
    );
    expect(Array.from(grads[x.name]?.dataSync() ?? [])).toEqual([2, 2, 2, 2]);
    tf.dispose([value, ...Object.values(grads)]);
    const before = tf.memory().numTensors;
    expect(() => rollbackTapeOnThrow(() => refusedAfterKernels(x))).toThrow(Refusal);
    expect(tf.memory().numTensors).toBe(before);
    x.dispose();
  });

  it('a refusal caught inside the pass keeps the caller’s own recorded kernels', () => {
    const x = tf.variable(tf.ones([2, 2]));
    const { value, grads } = tf.variableGrads(() => {
      const y = tf.sum(tf.mul(x, 3)) as tf.Scalar;
      try {
        rollbackTapeOnThrow(() => refusedAfterKernels(x));
      } catch {
        // the caller goes on without it
      }
      return y;
    }, [x]);
    expect(Array.from(grads[x.name]?.dataSync() ?? [])).toEqual([3, 3, 3, 3]);
    tf.dispose([value, ...Object.values(grads)]);
    x.dispose();
  });
});

describe('disposeCreatedOnThrow: a refused construction leaves no tensor and no variable', () => {
  it('kept tensors, plain tensors and variables made before the throw are all freed', () => {
    const tensors = tf.memory().numTensors;
    const variables = Object.keys(tf.engine().registeredVariables).length;
    expect(() =>
      disposeCreatedOnThrow(() => {
        tf.keep(tf.ones([3]));
        tf.zeros([5]);
        tf.variable(tf.ones([2]));
        tf.tidy(() => tf.keep(tf.scalar(1)));
        throw new Refusal('refused');
      }),
    ).toThrow(Refusal);
    expect(tf.memory().numTensors).toBe(tensors);
    expect(Object.keys(tf.engine().registeredVariables).length).toBe(variables);
  });

  it('when it returns, what it made stays where it would have been (a caller’s tidy still frees)', () => {
    const before = tf.memory().numTensors;
    const made = disposeCreatedOnThrow(() => ({ kept: tf.keep(tf.ones([2])), plain: tf.ones([2]) }));
    expect(made.kept.isDisposed || made.plain.isDisposed).toBe(false);
    tf.dispose([made.kept, made.plain]);
    let inner: tf.Tensor | null = null;
    tf.tidy(() => {
      inner = disposeCreatedOnThrow(() => tf.ones([2]));
    });
    expect((inner as unknown as tf.Tensor).isDisposed).toBe(true);
    expect(tf.memory().numTensors).toBe(before);
  });
});
