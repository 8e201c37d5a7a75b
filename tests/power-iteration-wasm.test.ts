import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import { LinearParams, SPECTRAL_NORM_EPS } from '../src/discriminators/layers';
import { kernelFlags } from '../src/ops/kernel-flags';
import { wasmPowerIteration, wasmPowerIterationAvailable } from '../src/ops/wasm/power-iteration-kernel';
import { expectClose, expectNoLeak } from './support/helpers';

// The wasm SIMD spectral-norm power iteration against the same formulas in plain tfjs on the cpu
// backend: v' = normalize(K·u), u' = normalize(v'ᵀ·K).
const onWasm = tf.getBackend() === 'wasm';

function reference(k: Float32Array, u: Float32Array, inDim: number, outDim: number): Float32Array[] {
  return tf.tidy(() => {
    const K = tf.tensor2d(k, [inDim, outDim]);
    const normalize = (x: tf.Tensor): tf.Tensor =>
      tf.div(x, tf.maximum(tf.sqrt(tf.sum(tf.square(x))), SPECTRAL_NORM_EPS));
    const v1 = normalize(tf.matMul(K, tf.tensor2d(u, [outDim, 1])));
    const u1 = normalize(tf.matMul(tf.reshape(v1, [1, inDim]), K));
    return [v1.dataSync() as Float32Array, u1.dataSync() as Float32Array];
  });
}

describe.skipIf(!onWasm)('wasm spectral-norm power iteration kernel', () => {
  it.each([
    [64, 192],
    [5, 7], // out mod 4 = 3: the scalar columns
    [64, 1], // the score head
    [3, 4],
  ])('matches the cpu backend for K [%i, %i]', async (inDim, outDim) => {
    expect(wasmPowerIterationAvailable()).toBe(true);
    const k = tf.randomNormal([inDim, outDim], 0, 1, 'float32', 4).dataSync() as Float32Array;
    const u = tf.randomNormal([outDim], 0, 1, 'float32', 5).dataSync() as Float32Array;
    const [v1, u1] = tf.tidy(() =>
      wasmPowerIteration(tf.tensor2d(k, [inDim, outDim]), tf.tensor1d(u), SPECTRAL_NORM_EPS),
    );
    const got = [v1.dataSync(), u1.dataSync()];
    tf.dispose([v1, u1]);
    await tf.setBackend('cpu');
    try {
      const [wantV, wantU] = reference(k, u, inDim, outDim);
      // unit vectors from float32 sums of ≤ 192 terms in another order
      expectClose(got[0] as Float32Array, wantV as Float32Array, { rtol: 1e-5, atol: 1e-6, label: "v'" });
      expectClose(got[1] as Float32Array, wantU as Float32Array, { rtol: 1e-5, atol: 1e-6, label: "u'" });
    } finally {
      await tf.setBackend('wasm');
    }
  });

  it('a zero kernel gives zero vectors (the ε floor, as torch.nn.functional.normalize)', () => {
    const [v1, u1] = wasmPowerIteration(
      tf.zeros([6, 3]) as tf.Tensor2D,
      tf.ones([3]) as tf.Tensor1D,
      SPECTRAL_NORM_EPS,
    );
    expect(Array.from(v1.dataSync())).toEqual([0, 0, 0, 0, 0, 0]);
    expect(Array.from(u1.dataSync())).toEqual([0, 0, 0]);
    tf.dispose([v1, u1]);
  });

  it('a training-mode layer call agrees with the lever off, and leaves no tensor behind', async () => {
    const run = (on: boolean): Float32Array[] => {
      kernelFlags.wasmPowerIteration = on;
      try {
        const layer = new LinearParams(
          `pi-test-${on}`,
          9,
          6,
          true,
          (() => {
            let s = 7;
            return () => ++s;
          })(),
        );
        const x = tf.randomNormal([4, 9], 0, 1, 'float32', 1) as tf.Tensor2D;
        const y1 = layer.apply(x, true);
        const y2 = layer.apply(x, true);
        const out = [
          y1.dataSync(),
          y2.dataSync(),
          layer.u?.dataSync(),
          layer.v?.dataSync(),
        ] as Float32Array[];
        tf.dispose([x, y1, y2, ...layer.all]);
        return out;
      } finally {
        kernelFlags.wasmPowerIteration = true;
      }
    };
    const on = run(true);
    const off = run(false);
    for (const [i, a] of on.entries()) {
      expectClose(a, off[i] as Float32Array, { rtol: 1e-5, atol: 1e-6, label: `output ${i}` });
    }
    const k = tf.randomNormal([5, 3]) as tf.Tensor2D;
    const u = tf.ones([3]) as tf.Tensor1D;
    await expectNoLeak(() => tf.dispose(wasmPowerIteration(k, u, SPECTRAL_NORM_EPS)));
    tf.dispose([k, u]);
  });
});
