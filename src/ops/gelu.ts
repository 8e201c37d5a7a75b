import * as tf from '@tensorflow/tfjs-core';
import { kernelFlags } from './kernel-flags';

const INV_SQRT2 = Math.SQRT1_2;
const INV_SQRT_2PI = 1 / Math.sqrt(2 * Math.PI);

/**
 * Exact (erf) GELU, PyTorch's `nn.GELU()` default: gelu(x) = x·Φ(x) = ½x(1 + erf(x/√2)).
 * tfjs has no `tf.gelu`; the custom gradient Φ(x) + x·φ(x) saves kernels over autodiff of erf.
 *
 * @param x - float tensor of any shape.
 * @returns gelu(x), same shape, differentiable.
 */
export function geluErf<T extends tf.Tensor>(x: T): T {
  if (!kernelFlags.fusedGelu) return tf.mul(tf.mul(x, 0.5), tf.add(tf.erf(tf.mul(x, INV_SQRT2)), 1)) as T;
  const f = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
    const [xx, save] = args as [tf.Tensor, tf.GradSaveFunc];
    const cdf = tf.mul(tf.add(tf.erf(tf.mul(xx, INV_SQRT2)), 1), 0.5);
    save([xx, cdf]);
    return {
      value: tf.mul(xx, cdf),
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
        const [sx, scdf] = saved as [tf.Tensor, tf.Tensor];
        const pdf = tf.mul(tf.exp(tf.mul(tf.square(sx), -0.5)), INV_SQRT_2PI);
        return [tf.mul(dy, tf.add(scdf, tf.mul(sx, pdf)))];
      },
    };
  });
  return f(x) as T;
}
