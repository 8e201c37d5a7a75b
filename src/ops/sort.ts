import * as tf from '@tensorflow/tfjs-core';
import { assertDtype, assertRank } from '../core/validate';

/**
 * Sorts a 1-D float tensor in ascending order (PyTorch's `torch.sort(x, dim=0).values`), with a
 * gradient.
 *
 * tfjs's `topk` has no registered gradient, so AOT-style losses that sort over the batch would stop
 * the gradient there. The gradient of a sort is a permutation: `∂sorted[i]/∂x[j] = 1` when `x[j]` was
 * placed at position `i`. Backward therefore sends `dy[i]` back to the source index of position `i`
 * (`dx = Pᵀ·dy` with the permutation matrix P built by `oneHot`, which every backend supports — no
 * `scatter`/`gather` gradient is needed, so it works on wasm). Tied values are ordered by `topk`; the
 * gradient goes to whichever source `topk` placed first, as `torch.sort` also picks one arbitrarily.
 *
 * Cost: O(n log n) forward, an [n,n] permutation matrix in backward (n is a batch size here).
 *
 * @param x - float tensor [n].
 * @returns the values of `x` in ascending order, [n]; differentiable w.r.t. `x`.
 */
export function sortAscending(x: tf.Tensor1D): tf.Tensor1D {
  assertRank('sortAscending', 'x', x, 1);
  assertDtype('sortAscending', 'x', x, ['float32']);
  const n = x.shape[0];
  if (n <= 1) return tf.clone(x);
  const f = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
    const input = args[0] as tf.Tensor1D;
    const save = args[1] as tf.GradSaveFunc;
    // topk sorts descending; reversing gives ascending order like torch.sort.
    const { values, indices } = tf.topk(input, n, true);
    const ascending = tf.reverse(values);
    const sourceIndex = tf.reverse(indices);
    values.dispose();
    indices.dispose();
    save([sourceIndex]);
    return {
      value: ascending,
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) =>
        tf.tidy(() => {
          // P[i, src(i)] = 1. Built as int32 and cast: wasm's OneHot ignores a float32 dtype and
          // returns int bit patterns.
          const perm = tf.cast(tf.oneHot(saved[0] as tf.Tensor1D, n), 'float32');
          return tf.reshape(tf.matMul(tf.reshape(dy, [1, n]), perm), [n]);
        }),
    };
  });
  return f(x) as tf.Tensor1D;
}
