import * as tf from '@tensorflow/tfjs-core';
import { assertTensor } from '../core/validate';
import { kernelFlags } from './kernel-flags';
import { fusedGeluAvailable, GELU_BACKWARD, GELU_FORWARD } from './wasm/gelu-kernel';

const INV_SQRT2 = Math.SQRT1_2;
const INV_SQRT_2PI = 1 / Math.sqrt(2 * Math.PI);

/**
 * Exact (erf) GELU, PyTorch's `nn.GELU()` default: gelu(x) = x·Φ(x) = ½x(1 + erf(x/√2)).
 * tfjs has no `tf.gelu`; the custom gradient Φ(x) + x·φ(x) saves kernels over autodiff of erf.
 * On the wasm backend forward and backward are one WebAssembly SIMD kernel each
 * (./wasm/gelu-simd.ts; erf as Eigen's rational approximation, exp as Cephes') that keeps only x for
 * the backward pass.
 *
 * @param x - float tensor of any shape.
 * @returns gelu(x), same shape, differentiable.
 */
export function geluErf<T extends tf.Tensor>(x: T): T {
  assertTensor('geluErf', 'x', x);
  if (!kernelFlags.fusedGelu) return tf.mul(tf.mul(x, 0.5), tf.add(tf.erf(tf.mul(x, INV_SQRT2)), 1)) as T;
  if (kernelFlags.wasmGelu && x.dtype === 'float32' && fusedGeluAvailable()) return wasmGelu(x);
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

const wasmGelu = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
  const [x, save] = args as [tf.Tensor, tf.GradSaveFunc];
  save([x]);
  return {
    value: tf.engine().runKernel(GELU_FORWARD, { x }) as tf.Tensor,
    gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => [
      tf.engine().runKernel(GELU_BACKWARD, { x: saved[0] as tf.Tensor, dy }) as tf.Tensor,
    ],
  };
}) as <T extends tf.Tensor>(x: T) => T;
