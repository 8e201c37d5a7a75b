import * as tf from '@tensorflow/tfjs-core';
import { AdamW } from 'ganpo';
import { describe, expect, it } from 'vitest';
import { kernelFlags } from '../src/ops/kernel-flags';
import { wasmAdamWAvailable } from '../src/ops/wasm/adamw-kernel';

import { expectNoLeak } from './support/helpers';

// The wasm SIMD AdamW kernel against AdamW's tfjs-op update on the cpu backend: the same float32
// operations in the same order, so the same floats.
const onWasm = tf.getBackend() === 'wasm';

/** Three AdamW steps from fixed p, g values; returns p, m, v after them. */
function run(shape: number[], decay: boolean): Float32Array[] {
  const n = shape.reduce((a, b) => a * b, 1);
  const p0 = tf.randomNormal(shape, 0, 1, 'float32', 3).dataSync();
  const p = tf.variable(
    tf.tensor(p0, shape),
    true,
    `adamw-wasm-${shape.join('x')}-${decay}-${tf.getBackend()}`,
  );
  const opt = new AdamW({ learningRate: 3e-2, beta1: 0.8, beta2: 0.95, weightDecay: decay ? 0.1 : 0 });
  for (let step = 0; step < 3; step++) {
    const g = tf.randomNormal(shape, 0, 1 + step, 'float32', 10 + step);
    opt.applyGradients({ [p.name]: g });
    g.dispose();
  }
  const state = opt.stateDict().slots[p.name] as { m: number[]; v: number[] };
  const out = [Float32Array.from(p.dataSync()), Float32Array.from(state.m), Float32Array.from(state.v)];
  expect(out[0]?.length).toBe(n);
  opt.dispose();
  p.dispose();
  return out;
}

describe.skipIf(!onWasm)('wasm AdamW kernel', () => {
  it.each([
    [[64, 33], true],
    [[7], false], // n mod 4 = 3: the scalar tail
    [[2, 3], true],
    [[1], true],
  ] as [number[], boolean][])('matches the cpu backend for %j (decay %s)', async (shape, decay) => {
    expect(wasmAdamWAvailable()).toBe(true);
    expect(kernelFlags.wasmAdamW).toBe(true);
    const got = run(shape, decay);
    await tf.setBackend('cpu');
    try {
      const want = run(shape, decay);
      for (let i = 0; i < 3; i++) {
        const [a, b] = [got[i] as Float32Array, want[i] as Float32Array];
        // Same float32 operations in the same order: equal, or one ulp apart at most.
        for (let j = 0; j < a.length; j++) {
          expect(Math.abs((a[j] as number) - (b[j] as number))).toBeLessThanOrEqual(
            Math.abs(b[j] as number) * 1.2e-7,
          );
        }
      }
    } finally {
      await tf.setBackend('wasm');
    }
  });

  it('changes nothing with the lever off (same values as the tfjs-op path on wasm)', () => {
    const on = run([5, 3], true);
    kernelFlags.wasmAdamW = false;
    try {
      const off = run([5, 3], true);
      for (let i = 0; i < 3; i++)
        expect(Array.from(on[i] as Float32Array)).toEqual(Array.from(off[i] as Float32Array));
    } finally {
      kernelFlags.wasmAdamW = true;
    }
  });

  it('leaves no tensor behind', async () => {
    const p = tf.variable(tf.ones([9]), true, 'adamw-wasm-leak');
    const g = tf.fill([9], 0.5);
    const opt = new AdamW({ learningRate: 1e-2 });
    opt.applyGradients({ [p.name]: g }); // slots allocated on the first step
    await expectNoLeak(() => opt.applyGradients({ [p.name]: g }));
    tf.dispose([p, g]);
    opt.dispose();
  });
});
