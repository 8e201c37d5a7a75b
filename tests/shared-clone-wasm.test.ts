import * as tf from '@tensorflow/tfjs-core';
import { TransformerDiscriminator } from 'ganpo';
import { withSharedClones } from 'ganpo/ops';
import { describe, expect, it } from 'vitest';

import { kernelFlags } from '../src/ops/kernel-flags';

import { expectNoLeak } from './support/helpers';
import { weightsAfterThreeSteps } from './support/lever-identity';

// withSharedClones: inside it a clone on wasm shares the buffer of its source (as on cpu), values
// and gradients are unchanged, and tfjs's own Identity kernel is back afterwards.
const onWasm = tf.getBackend() === 'wasm';

describe.skipIf(!onWasm)('withSharedClones (wasm)', () => {
  it('shares the buffer inside, copies outside, and restores the registered kernel', () => {
    const registered = tf.getKernel(tf.Identity, 'wasm');
    const x = tf.tensor1d([1, 2, 3]);
    const inside = withSharedClones(() => tf.clone(x));
    const outside = tf.clone(x);
    expect(inside.dataId).toBe(x.dataId);
    expect(outside.dataId).not.toBe(x.dataId);
    expect(tf.getKernel(tf.Identity, 'wasm')).toBe(registered);
    x.dispose();
    // The shared buffer outlives the tensor it came from.
    expect(Array.from(inside.dataSync())).toEqual([1, 2, 3]);
    tf.dispose([inside, outside]);
  });

  it('restores the registered kernel when the function throws, and swaps once when nested', () => {
    const registered = tf.getKernel(tf.Identity, 'wasm');
    expect(() =>
      withSharedClones(() =>
        withSharedClones(() => {
          throw new Error('boom');
        }),
      ),
    ).toThrow('boom');
    expect(tf.getKernel(tf.Identity, 'wasm')).toBe(registered);
  });

  it('is a plain call with kernelFlags.sharedClones off', () => {
    const x = tf.tensor1d([1, 2]);
    kernelFlags.sharedClones = false;
    try {
      const c = withSharedClones(() => tf.clone(x));
      expect(c.dataId).not.toBe(x.dataId);
      c.dispose();
    } finally {
      kernelFlags.sharedClones = true;
    }
    x.dispose();
  });

  it('gives the same scores and gradients as copies, bit for bit, and leaves nothing behind', async () => {
    // A fresh critic per run: a training-mode call moves the spectral-norm vectors and the dropout stream.
    const critic = () =>
      new TransformerDiscriminator({
        latentDim: 16,
        hiddenDim: 16,
        numLayers: 1,
        numHeads: 2,
        ffnDim: 32,
        seed: 3,
      });
    const x = tf.randomNormal([3, 5, 16], 0, 1, 'float32', 4) as tf.Tensor3D;
    const mask = tf.tensor2d([1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 1, 1, 1, 0, 0], [3, 5]);
    const run = (shared: boolean): Float32Array[] => {
      kernelFlags.sharedClones = shared;
      const d = critic();
      try {
        return withSharedClones(() => {
          const { value, grads } = tf.variableGrads(
            () => tf.mean(tf.softplus(tf.neg(d.apply(x, { mask, training: true })))) as tf.Scalar,
            d.trainableVariables,
          );
          const out = [value, ...Object.values(grads)].map((t) => t.dataSync() as Float32Array);
          tf.dispose([value, ...Object.values(grads)]);
          return out;
        });
      } finally {
        kernelFlags.sharedClones = true;
        d.dispose();
      }
    };
    const copied = run(false);
    const shared = run(true);
    expect(shared.length).toBe(copied.length);
    for (const [i, s] of shared.entries())
      expect(Array.from(s)).toEqual(Array.from(copied[i] as Float32Array));
    await expectNoLeak(() => {
      run(true);
    });
    tf.dispose([x, mask]);
  });

  it('GanpoTrainer (which shares saved tensors for its whole step) trains bit for bit as with copies', async () => {
    const copied = weightsAfterThreeSteps('sharedClones', false);
    const shared = weightsAfterThreeSteps('sharedClones', true);
    expect(shared.length).toBe(copied.length);
    expect(shared.length).toBeGreaterThan(10);
    for (const [i, s] of shared.entries())
      expect(Array.from(s)).toEqual(Array.from(copied[i] as Float32Array));
    await expectNoLeak(() => {
      weightsAfterThreeSteps('sharedClones', true);
    });
  });
});
