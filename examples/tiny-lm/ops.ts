// Differentiable building blocks of the tiny LM, written so that the wasm backend stays on its fast
// path: XNNPACK handles only 2-D matMul without transpose flags (13–27× slower with them, tfjs 4.22), while tfjs's own
// matMul gradient uses transposeA/transposeB. `linear` materialises the transposes instead.
import * as tf from '@tensorflow/tfjs-core';

const linearOp = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
  const x = args[0] as tf.Tensor2D;
  const w = args[1] as tf.Tensor2D;
  const save = args[2] as tf.GradSaveFunc;
  save([x, w]);
  return {
    value: tf.matMul(x, w),
    gradFunc: (dy: tf.Tensor | tf.Tensor[], saved: tf.Tensor[]) => {
      const [xs, ws] = saved as [tf.Tensor2D, tf.Tensor2D];
      const g = dy as tf.Tensor2D;
      return [tf.matMul(g, tf.transpose(ws)), tf.matMul(tf.transpose(xs), g)];
    },
  };
});

/**
 * y = x·W (+ b) for x [..., in] and W [in, out]: flattens x to 2-D so that forward and backward are
 * plain 2-D matMuls (d/dx = dy·Wᵀ, d/dW = xᵀ·dy with explicit transposes).
 */
export function linear(x: tf.Tensor, w: tf.Tensor2D, b?: tf.Tensor1D): tf.Tensor {
  const inDim = w.shape[0];
  const outDim = w.shape[1];
  const lead = x.shape.slice(0, -1);
  const flat = x.rank === 2 ? (x as tf.Tensor2D) : tf.reshape(x, [-1, inDim]);
  let y = linearOp(flat, w) as tf.Tensor2D;
  if (b) y = tf.add(y, b);
  return x.rank === 2 ? y : tf.reshape(y, [...lead, outDim]);
}

/** Layer normalisation over the last axis with PyTorch's epsilon (1e-5; tfjs-layers defaults to 1e-3). */
export function layerNorm(x: tf.Tensor, gamma: tf.Tensor1D, beta: tf.Tensor1D, epsilon = 1e-5): tf.Tensor {
  const { mean, variance } = tf.moments(x, -1, true);
  const normed = tf.mul(tf.sub(x, mean), tf.rsqrt(tf.add(variance, epsilon)));
  return tf.add(tf.mul(normed, gamma), beta);
}

/** GELU with the exact erf form, PyTorch's `nn.GELU()` default (tfjs has no `tf.gelu`). */
export function gelu(x: tf.Tensor): tf.Tensor {
  return tf.mul(tf.mul(x, 0.5), tf.add(tf.erf(tf.mul(x, Math.SQRT1_2)), 1));
}

/** [T,T] additive causal mask: 0 where key ≤ query, −1e9 above the diagonal (−Infinity would give NaN). */
export function causalMaskBias(t: number): tf.Tensor2D {
  return tf.tidy(() => {
    const rows = tf.reshape(tf.range(0, t, 1, 'int32'), [t, 1]);
    const cols = tf.reshape(tf.range(0, t, 1, 'int32'), [1, t]);
    return tf.mul(tf.cast(tf.greater(cols, rows), 'float32'), -1e9) as tf.Tensor2D;
  });
}
