import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import { sumRows } from '../src/ops/fast-linear';
import { kernelFlags } from '../src/ops/kernel-flags';
import { wasmSumRowsAvailable } from '../src/ops/wasm/sum-rows-kernel';
import { expectClose, expectNoLeak } from './support/helpers';

// The wasm SIMD column-sum kernel against tf.sum(x, 0) on the cpu backend.
const onWasm = tf.getBackend() === 'wasm';

describe.skipIf(!onWasm)('wasm sumRows kernel', () => {
  it.each([
    [1024, 256],
    [5, 7], // D mod 4 = 3: the scalar columns
    [1, 3],
  ])('matches the cpu backend for [%i, %i]', async (n, d) => {
    expect(wasmSumRowsAvailable()).toBe(true);
    expect(kernelFlags.wasmSumRows).toBe(true);
    const xs = tf.randomNormal([n, d], 0, 1, 'float32', 9).dataSync();
    const got = tf.tidy(() => sumRows(tf.tensor2d(xs, [n, d])).dataSync());
    await tf.setBackend('cpu');
    try {
      const want = tf.tidy(() => tf.sum(tf.tensor2d(xs, [n, d]), 0).dataSync());
      // float32 sums of up to 1 024 terms added in different orders: ~√N·ε·|partial sums| apart
      expectClose(got, want, { rtol: 1e-5, atol: 1e-4, label: 'column sums' });
    } finally {
      await tf.setBackend('wasm');
    }
  });

  it('leaves no tensor behind', async () => {
    const x = tf.randomNormal([6, 5]) as tf.Tensor2D;
    await expectNoLeak(() => sumRows(x).dispose());
    x.dispose();
  });
});
