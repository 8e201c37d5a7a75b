import * as tf from '@tensorflow/tfjs-core';
import { layerNorm } from 'ganpo/ops';
import { describe, expect, it } from 'vitest';
import { kernelFlags } from '../src/ops/kernel-flags';

import { wasmLayerNormAvailable } from '../src/ops/wasm/layer-norm-kernel';
import { expectClose, expectNoLeak } from './support/helpers';

// The wasm SIMD LayerNorm kernels against layerNorm on the cpu backend (tfjs ops), same inputs.
const onWasm = tf.getBackend() === 'wasm';

describe.skipIf(!onWasm)('wasm LayerNorm kernels', () => {
  it('are used for rows of a multiple of 4 floats only', () => {
    expect(kernelFlags.wasmLayerNorm).toBe(true);
    expect(wasmLayerNormAvailable(256)).toBe(true);
    expect(wasmLayerNormAvailable(6)).toBe(false);
  });

  it.each([
    [1024, 256, 0.5],
    // rows far from zero (|μ| ≫ σ)
    [64, 32, 100],
    [5, 6, 0.5], // not a multiple of 4: the tfjs-op path, for comparison
  ])('match the cpu backend, values and gradients [%i, %i], mean %d', async (n, d, mu) => {
    const xs = tf.randomNormal([n, d], mu, 2, 'float32', 21).dataSync();
    const gs = tf.randomNormal([d], 1, 0.3, 'float32', 22).dataSync();
    const bs = tf.randomNormal([d], 0, 0.3, 'float32', 23).dataSync();
    const dys = tf.randomNormal([n, d], 0, 1, 'float32', 24).dataSync();
    const run = () =>
      tf.tidy(() => {
        const x = tf.tensor2d(xs, [n, d]);
        const g = tf.tensor1d(gs);
        const b = tf.tensor1d(bs);
        const dy = tf.tensor2d(dys, [n, d]);
        const f = (a: tf.Tensor, c: tf.Tensor, e: tf.Tensor): tf.Tensor =>
          tf.sum(tf.mul(layerNorm(a as tf.Tensor2D, c as tf.Tensor1D, e as tf.Tensor1D), dy));
        const y = layerNorm(x, g, b).dataSync();
        const [dx, dg, db] = tf
          .grads(f)([x, g, b])
          .map((t) => t.dataSync());
        return { y, dx, dg, db };
      });
    const got = run();
    await tf.setBackend('cpu');
    try {
      const want = run();
      expectClose(got.y, want.y, { rtol: 1e-5, atol: 1e-5, label: 'y' });
      expectClose(got.dx as Float32Array, want.dx as Float32Array, { rtol: 1e-4, atol: 1e-5, label: 'dx' });
      expectClose(got.dg as Float32Array, want.dg as Float32Array, {
        rtol: 1e-4,
        atol: 1e-4,
        label: 'dgamma',
      });
      expectClose(got.db as Float32Array, want.db as Float32Array, {
        rtol: 1e-4,
        atol: 1e-4,
        label: 'dbeta',
      });
    } finally {
      await tf.setBackend('wasm');
    }
  });

  it('leaves no tensor behind', async () => {
    const x = tf.randomNormal([6, 8]) as tf.Tensor2D;
    const g = tf.ones([8]) as tf.Tensor1D;
    const b = tf.zeros([8]) as tf.Tensor1D;
    await expectNoLeak(() => {
      tf.grad((v: tf.Tensor) => tf.sum(layerNorm(v as tf.Tensor2D, g, b)))(x).dispose();
      layerNorm(x, g, b).dispose();
    });
    tf.dispose([x, g, b]);
  });
});
