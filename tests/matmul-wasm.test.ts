import * as tf from '@tensorflow/tfjs-core';
import { fastLinear } from 'ganpo/ops';
import { describe, expect, it } from 'vitest';

import { kernelFlags } from '../src/ops/kernel-flags';
import { matMul2d, matMul2dTransposeA } from '../src/ops/matmul';
import { MATMUL_2D, wasmMatMulAvailable } from '../src/ops/wasm/matmul-kernel';
import type { MatMulVariant } from '../src/ops/wasm/matmul-simd';
import { expectNoLeak } from './support/helpers';
import { weightsAfterThreeSteps } from './support/lever-identity';

// The wasm SIMD matMul (src/ops/wasm/matmul-simd.ts) sums each output in k order with a product then
// a sum per step, as XNNPACK does: against tfjs's own matMul on wasm the floats must be identical.
const onWasm = tf.getBackend() === 'wasm';

const bits = (t: tf.Tensor): number[] =>
  Array.from(new Uint32Array((t.dataSync() as Float32Array).slice().buffer));
const kernel = (inputs: tf.NamedTensorMap, variant: MatMulVariant): tf.Tensor2D =>
  tf.engine().runKernel(MATMUL_2D, inputs, { variant }) as tf.Tensor2D;

describe.skipIf(!onWasm)('wasm matMul2d kernel', () => {
  // Row counts around the 4-row tile, column counts around the 8- and 4-column tiles and the scalar
  // columns, inner sizes from 1.
  const shapes: [number, number, number][] = [
    [1, 1, 1],
    [3, 2, 5],
    [4, 7, 8],
    [5, 16, 9],
    [9, 33, 12],
    [19, 5, 17],
    [8, 64, 25],
    [304, 64, 64],
    [64, 304, 192],
  ];

  it.each(shapes)('A·B and A·B + bias equal tfjs on wasm bit for bit, M %i K %i N %i', (m, k, n) => {
    tf.tidy(() => {
      const a = tf.randomNormal([m, k], 0, 1, 'float32', m + k) as tf.Tensor2D;
      const b = tf.randomNormal([k, n], 0, 1, 'float32', n) as tf.Tensor2D;
      const bias = tf.randomNormal([n], 0, 1, 'float32', 9) as tf.Tensor1D;
      for (const variant of ['inPlace', 'packedB'] as const) {
        expect(wasmMatMulAvailable(variant)).toBe(true);
        const y = kernel({ a, b }, variant);
        expect(y.shape).toEqual([m, n]);
        expect(bits(y)).toEqual(bits(tf.matMul(a, b)));
        expect(bits(kernel({ a, b, bias }, variant))).toEqual(bits(tf.add(tf.matMul(a, b), bias)));
      }
    });
  });

  it.each(shapes)('Aᵀ·B from A untransposed equals tfjs on wasm bit for bit, M %i K %i N %i', (m, k, n) => {
    tf.tidy(() => {
      const a = tf.randomNormal([k, m], 0, 1, 'float32', m * k) as tf.Tensor2D;
      const b = tf.randomNormal([k, n], 0, 1, 'float32', n + 1) as tf.Tensor2D;
      expect(wasmMatMulAvailable('transposedA')).toBe(true);
      const y = kernel({ a, b }, 'transposedA');
      expect(y.shape).toEqual([m, n]);
      expect(bits(y)).toEqual(bits(tf.matMul(tf.transpose(a), b)));
    });
  });

  it('agrees with the cpu backend to float32 rounding', async () => {
    const [m, k, n] = [13, 40, 11];
    const as = tf.randomNormal([m, k], 0, 1, 'float32', 1).dataSync();
    const bs = tf.randomNormal([k, n], 0, 1, 'float32', 2).dataSync();
    const got = tf.tidy(() =>
      kernel({ a: tf.tensor2d(as, [m, k]), b: tf.tensor2d(bs, [k, n]) }, 'packedB').dataSync(),
    );
    await tf.setBackend('cpu');
    try {
      const want = tf.tidy(() => tf.matMul(tf.tensor2d(as, [m, k]), tf.tensor2d(bs, [k, n])).dataSync());
      for (let i = 0; i < want.length; i++) expect(got[i]).toBeCloseTo(want[i] as number, 4);
    } finally {
      await tf.setBackend('wasm');
    }
  });

  it('matMul2d leaves shape errors to tfjs (nothing read out of bounds), and every size gives the same floats', () => {
    const a = tf.ones([3, 4]) as tf.Tensor2D;
    expect(() => matMul2d(a, tf.ones([5, 2]) as tf.Tensor2D)).toThrow();
    expect(() => matMul2d(a, tf.ones([4, 2]) as tf.Tensor2D, tf.ones([3]) as tf.Tensor1D)).toThrow();
    expect(() => matMul2dTransposeA(a, tf.ones([4, 2]) as tf.Tensor2D)).toThrow();
    tf.tidy(() => {
      // K·N of 4 800 (B read in place), 76 800 and 2²⁰ (B packed), 2 100 000 (tfjs's matMul).
      for (const [k, n] of [
        [300, 16],
        [300, 256],
        [1024, 1024],
        [2100, 1000],
      ] as const) {
        const x = tf.randomNormal([5, k], 0, 1, 'float32', 3) as tf.Tensor2D;
        const w = tf.randomNormal([k, n], 0, 1, 'float32', 4) as tf.Tensor2D;
        expect(bits(matMul2d(x, w))).toEqual(bits(tf.matMul(x, w)));
        const d = tf.randomNormal([k, 3], 0, 1, 'float32', 5) as tf.Tensor2D;
        expect(bits(matMul2dTransposeA(w, d))).toEqual(bits(tf.matMul(tf.transpose(w), d)));
      }
    });
    tf.dispose(a);
  });

  it('fastLinear values and gradients are bit-identical with the lever on and off', () => {
    const run = (on: boolean): number[][] => {
      kernelFlags.wasmMatMul = on;
      try {
        return tf.tidy(() => {
          const x = tf.randomNormal([19, 12], 0, 1, 'float32', 5) as tf.Tensor2D;
          const k = tf.randomNormal([12, 25], 0, 1, 'float32', 6) as tf.Tensor2D;
          const b = tf.randomNormal([25], 0, 1, 'float32', 7) as tf.Tensor1D;
          const f = (xx: tf.Tensor, kk: tf.Tensor, bb: tf.Tensor) =>
            tf.sum(tf.square(fastLinear(xx as tf.Tensor2D, kk as tf.Tensor2D, bb as tf.Tensor1D)));
          const { value, grads } = tf.valueAndGrads(f)([x, k, b]);
          return [value, ...grads].map(bits);
        });
      } finally {
        kernelFlags.wasmMatMul = true;
      }
    };
    const off = run(false);
    const on = run(true);
    expect(on).toEqual(off);
  });

  it('GanpoTrainer steps with a transformer critic are bit-identical with the lever on and off', async () => {
    const off = weightsAfterThreeSteps('wasmMatMul', false);
    const on = weightsAfterThreeSteps('wasmMatMul', true);
    expect(on.length).toBe(off.length);
    for (const [i, w] of on.entries()) expect(Array.from(w)).toEqual(Array.from(off[i] as Float32Array));
    await expectNoLeak(() => {
      weightsAfterThreeSteps('wasmMatMul', true);
    });
  });

  it('leaves no tensor behind', async () => {
    const a = tf.randomNormal([6, 10]) as tf.Tensor2D;
    const b = tf.randomNormal([10, 3]) as tf.Tensor2D;
    const bias = tf.randomNormal([3]) as tf.Tensor1D;
    const at = tf.transpose(a) as tf.Tensor2D;
    await expectNoLeak(() => {
      matMul2d(a, b, bias).dispose();
      matMul2dTransposeA(at, b).dispose();
    });
    tf.dispose([a, b, bias, at]);
  });
});
