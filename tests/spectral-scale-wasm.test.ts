import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import { wasmSpectralScale, wasmSpectralScaleAvailable } from '../src/ops/wasm/spectral-scale-kernel';
import { expectClose, expectNoLeak } from './support/helpers';

// The wasm SIMD spectral-norm weight K/σ (σ = vᵀKu, u and v constants) against the same formula in
// plain tfjs autodiff on the cpu backend: values and the gradient w.r.t. K of Σ W∘R (R fixed).
const onWasm = tf.getBackend() === 'wasm';

function data(inDim: number, outDim: number): Float32Array[] {
  return [
    tf.randomNormal([inDim, outDim], 0, 1, 'float32', 21).dataSync() as Float32Array,
    tf.randomNormal([outDim], 0, 1, 'float32', 22).dataSync() as Float32Array,
    tf.randomNormal([inDim], 0, 1, 'float32', 23).dataSync() as Float32Array,
    tf.randomNormal([inDim, outDim], 0, 1, 'float32', 24).dataSync() as Float32Array,
  ];
}

/** [W, dK] for weight function `scale`. */
function valueAndGrad(
  [k, u, v, r]: Float32Array[],
  inDim: number,
  outDim: number,
  scale: (k: tf.Tensor2D, u: tf.Tensor1D, v: tf.Tensor1D) => tf.Tensor2D,
): Float32Array[] {
  return tf.tidy(() => {
    const K = tf.tensor2d(k as Float32Array, [inDim, outDim]);
    const U = tf.tensor1d(u as Float32Array);
    const V = tf.tensor1d(v as Float32Array);
    const R = tf.tensor2d(r as Float32Array, [inDim, outDim]);
    const w = scale(K, U, V).dataSync() as Float32Array;
    const dk = tf.grad((kk: tf.Tensor) => tf.sum(tf.mul(scale(kk as tf.Tensor2D, U, V), R)))(K);
    return [w, dk.dataSync() as Float32Array];
  });
}

const plain = (k: tf.Tensor2D, u: tf.Tensor1D, v: tf.Tensor1D): tf.Tensor2D =>
  tf.div(k, tf.sum(tf.mul(tf.matMul(tf.reshape(v, [1, -1]), k), tf.reshape(u, [1, -1]))));

describe.skipIf(!onWasm)('wasm spectral-scale kernel', () => {
  it.each([
    [64, 192],
    [5, 7], // out and in·out not multiples of 4: the scalar tails
    [64, 1], // the score head
    [3, 4],
  ])('matches plain tfjs on the cpu backend for K [%i, %i] (values and dK)', async (inDim, outDim) => {
    expect(wasmSpectralScaleAvailable()).toBe(true);
    const d = data(inDim, outDim);
    const got = valueAndGrad(d, inDim, outDim, wasmSpectralScale);
    await tf.setBackend('cpu');
    try {
      const want = valueAndGrad(d, inDim, outDim, plain);
      // σ from ≤ 12 288 float32 products summed in another order
      expectClose(got[0] as Float32Array, want[0] as Float32Array, { rtol: 1e-5, atol: 1e-6, label: 'W' });
      expectClose(got[1] as Float32Array, want[1] as Float32Array, { rtol: 1e-4, atol: 1e-5, label: 'dK' });
    } finally {
      await tf.setBackend('wasm');
    }
  });

  it('uses u and v as they were at the call, not as a later call moved them', () => {
    const k = tf.randomNormal([6, 5], 0, 1, 'float32', 1) as tf.Tensor2D;
    const u = tf.variable(tf.randomNormal([5], 0, 1, 'float32', 2) as tf.Tensor1D, false);
    const v = tf.variable(tf.randomNormal([6], 0, 1, 'float32', 3) as tf.Tensor1D, false);
    const want = tf.grad((kk: tf.Tensor) => tf.sum(tf.square(plain(kk as tf.Tensor2D, u, v))))(k);
    const got = tf.grad((kk: tf.Tensor) => {
      const w = wasmSpectralScale(kk as tf.Tensor2D, u, v);
      u.assign(tf.onesLike(u)); // what the next training-mode call's power iteration does
      v.assign(tf.onesLike(v));
      return tf.sum(tf.square(w));
    })(k);
    expectClose(got, want.dataSync(), { rtol: 1e-4, atol: 1e-5, label: 'dK' });
    tf.dispose([k, u, v, want, got]);
  });

  it('leaves no tensor behind', async () => {
    const kv = tf.variable(tf.randomNormal([5, 3], 0, 1, 'float32', 5), true, 'spectral-scale-leak');
    const u = tf.ones([3]) as tf.Tensor1D;
    const v = tf.ones([5]) as tf.Tensor1D;
    await expectNoLeak(() => {
      const { value, grads } = tf.variableGrads(
        () => tf.sum(wasmSpectralScale(tf.mul(kv, 1) as tf.Tensor2D, u, v)) as tf.Scalar,
        [kv],
      );
      tf.dispose([value, ...Object.values(grads)]);
    });
    tf.dispose([kv, u, v]);
  });
});
