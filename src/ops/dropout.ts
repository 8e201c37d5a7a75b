import * as tf from '@tensorflow/tfjs-core';

/**
 * Inverted-dropout mask: each entry is 1/(1 − rate) with probability 1 − rate, else 0 (PyTorch's
 * `nn.Dropout` scaling). Drawn in JS with `Math.random` and uploaded as one tensor: tfjs's
 * `tf.dropout` draws with a JS generator too, then spends four more kernels (add, floor, div, mul)
 * turning it into a mask, which costs more than the attention product it masks at T = 128.
 *
 * @param shape - mask shape.
 * @param rate - drop probability in [0, 1).
 * @returns a float32 mask (caller disposes). Not seedable, like unseeded `tf.dropout`.
 */
export function dropoutMask(shape: number[], rate: number): tf.Tensor {
  const n = shape.reduce((a, b) => a * b, 1);
  const keepScale = 1 / (1 - rate);
  const values = new Float32Array(n);
  for (let i = 0; i < n; i++) values[i] = Math.random() >= rate ? keepScale : 0;
  return tf.tensor(values, shape, 'float32');
}

/**
 * Inverted dropout x·mask (see {@link dropoutMask}); identity when `rate` is 0. Differentiable in x
 * (the mask is a constant).
 */
export function dropout<T extends tf.Tensor>(x: T, rate: number): T {
  if (rate <= 0) return x;
  return tf.mul(x, dropoutMask(x.shape, rate)) as T;
}
