import * as tf from '@tensorflow/tfjs-core';
import { kernelFlags } from '../ops/kernel-flags';
import { type AdamWScalars, wasmAdamWAvailable, wasmAdamWUpdate } from '../ops/wasm/adamw-kernel';

/**
 * One AdamW update of a parameter p with gradient g and moments m, v (torch 1.13's
 * `_single_tensor_adamw`, operation for operation so that float32 rounding agrees closely):
 *
 *     p̃ = decay ? p·(1 − α·λ) : p
 *     m' = m·β1 + g·(1 − β1)
 *     v' = v·β2 + (g·(1 − β2))·g
 *     p' = p̃ + (m'·(−s)) / (√v' / b + ε),   s = α / (1 − β1^t),  b = √(1 − β2^t)
 *
 * On the wasm backend one WebAssembly SIMD kernel computes the same float32 operations in the same
 * order (./ops/wasm/adamw-simd.ts) instead of ~14 element-wise kernels; elsewhere tfjs ops.
 *
 * @returns [p', m', v'], new tensors of p's shape (caller disposes; call inside a tidy).
 */
export function adamwUpdate(
  p: tf.Tensor,
  g: tf.Tensor,
  m: tf.Tensor,
  v: tf.Tensor,
  c: AdamWScalars,
): [tf.Tensor, tf.Tensor, tf.Tensor] {
  if (kernelFlags.wasmAdamW && p.dtype === 'float32' && wasmAdamWAvailable()) {
    return wasmAdamWUpdate(p, g, m, v, c);
  }
  const decayed = c.decay ? tf.mul(p, c.decayFactor) : p;
  const m1 = tf.add(tf.mul(m, c.beta1), tf.mul(g, 1 - c.beta1));
  const v1 = tf.add(tf.mul(v, c.beta2), tf.mul(tf.mul(g, 1 - c.beta2), g));
  const denom = tf.add(tf.div(tf.sqrt(v1), c.biasCorrection2Sqrt), c.epsilon);
  return [tf.add(decayed, tf.div(tf.mul(m1, -c.stepSize), denom)), m1, v1];
}
