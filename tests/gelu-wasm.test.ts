import * as tf from '@tensorflow/tfjs-core';
import { geluErf } from 'ganpo/ops';
import { describe, expect, it } from 'vitest';

import { fusedGeluAvailable } from '../src/ops/wasm/gelu-kernel';
import { geluSimdModule } from '../src/ops/wasm/gelu-simd';
import { expectClose, expectNoLeak } from './support/helpers';

// The wasm SIMD GELU kernels against geluErf on the cpu backend (tfjs ops), same inputs.
const onWasm = tf.getBackend() === 'wasm';

describe.skipIf(!onWasm)('wasm GELU kernels', () => {
  it('compile', () => {
    expect(WebAssembly.validate(geluSimdModule() as BufferSource)).toBe(true);
    expect(fusedGeluAvailable()).toBe(true);
  });

  // 4 099 = 1 024 groups of 4 plus a remainder of 3; 3 = the remainder alone.
  it.each([4099, 3, 8])('match the cpu backend, values and gradients (%i elements)', async (n) => {
    const xs = Float32Array.from({ length: n }, (_, i) => -9 + (18 * i) / Math.max(n - 1, 1));
    const dys = tf.randomNormal([n], 0, 1, 'float32', 5).dataSync();
    const run = (): { y: Float32Array; g: Float32Array } =>
      tf.tidy(() => {
        const x = tf.tensor1d(xs);
        const dy = tf.tensor1d(dys);
        const y = geluErf(x).dataSync() as Float32Array;
        const g = tf
          .grad((v: tf.Tensor) => tf.sum(tf.mul(geluErf(v), dy)))(x)
          .dataSync() as Float32Array;
        return { y, g };
      });
    const got = run();
    await tf.setBackend('cpu');
    try {
      const want = run();
      expectClose(got.y, want.y, { rtol: 1e-5, atol: 2e-6, label: 'gelu' });
      expectClose(got.g, want.g, { rtol: 1e-5, atol: 2e-6, label: 'gelu grad' });
    } finally {
      await tf.setBackend('wasm');
    }
  });

  it('leaves no tensor behind', async () => {
    const x = tf.randomNormal([5, 7]);
    await expectNoLeak(() => {
      tf.grad((v: tf.Tensor) => tf.sum(geluErf(v)))(x).dispose();
      geluErf(x).dispose();
    });
    x.dispose();
  });
});
