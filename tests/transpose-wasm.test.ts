import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import { kernelFlags } from '../src/ops/kernel-flags';
import { transpose2d, wasmTransposeAvailable } from '../src/ops/wasm/transpose-kernel';
import { expectNoLeak } from './support/helpers';

// The wasm SIMD transpose against tf.transpose on the cpu backend: values are moved, never computed,
// so the two must be equal exactly.
const onWasm = tf.getBackend() === 'wasm';

describe.skipIf(!onWasm)('wasm transpose2d kernel', () => {
  it.each([
    [1024, 256], // R a multiple of 512: 8-column tiles
    [256, 1024], // 16-column tiles
    [512, 36], // 8-column tiles and a partial last tile
    [68, 132], // a partial last 16-column tile
    [7, 5], // R mod 4 = 3 and C mod 4 = 1: the scalar edges
    [4, 4],
    [1, 9],
    [9, 1],
  ])('equals the cpu backend exactly for [%i, %i]', async (r, c) => {
    expect(wasmTransposeAvailable()).toBe(true);
    expect(kernelFlags.wasmTranspose).toBe(true);
    const xs = tf.randomNormal([r, c], 0, 1, 'float32', 5).dataSync();
    const got = tf.tidy(() => {
      const y = transpose2d(tf.tensor2d(xs, [r, c]));
      expect(y.shape).toEqual([c, r]);
      return y.dataSync();
    });
    await tf.setBackend('cpu');
    try {
      const want = tf.tidy(() => tf.transpose(tf.tensor2d(xs, [r, c])).dataSync());
      expect(Array.from(got)).toEqual(Array.from(want));
    } finally {
      await tf.setBackend('wasm');
    }
  });

  it('leaves no tensor behind', async () => {
    const x = tf.randomNormal([6, 10]) as tf.Tensor2D;
    await expectNoLeak(() => transpose2d(x).dispose());
    x.dispose();
  });
});
