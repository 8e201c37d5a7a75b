import * as tf from '@tensorflow/tfjs-core';
import { Dense, TransformerBlock, withLeanGradients } from 'ganpo/ops';
import { describe, expect, it } from 'vitest';

import { withEagerRelease } from '../../src/ops/eager-release';
import { kernelFlags } from '../../src/ops/kernel-flags';
import { expectNoLeak } from '../support/helpers';
import { weightsAfterThreeSteps } from '../support/lever-identity';

// withEagerRelease / withLeanGradients: backward passes free saved tensors and intermediate
// gradients as they go; values, gradients and training are unchanged bit for bit, less memory.

/** A small stack of ganpo layers on [2, 8, 16] inputs and its trainable variables. */
function stack() {
  const layers = [
    new TransformerBlock({ numHeads: 2, seed: 1 }),
    new TransformerBlock({ numHeads: 2, seed: 2 }),
    new Dense({ units: 16, activation: 'gelu', seed: 3 }),
  ];
  const x = tf.randomNormal([2, 8, 16], 0, 1, 'float32', 4);
  const apply = (input: tf.Tensor): tf.Tensor => layers.reduce((h, l) => l.apply(h) as tf.Tensor, input);
  tf.dispose(apply(x)); // builds the weights
  const variables = layers.flatMap((l) => l.trainableWeights.map((w) => w.read() as tf.Variable));
  return {
    x,
    apply,
    variables,
    dispose: () => {
      x.dispose();
      for (const l of layers) l.dispose();
    },
  };
}

function gradients(s: ReturnType<typeof stack>, lean: boolean): Float32Array[] {
  const run = () => {
    const { value, grads } = tf.variableGrads(
      () => tf.sum(tf.square(s.apply(s.x))) as tf.Scalar,
      s.variables,
    );
    const out = [value, ...s.variables.map((v) => grads[v.name] as tf.Tensor)].map(
      (t) => t.dataSync() as Float32Array,
    );
    tf.dispose([value, ...Object.values(grads)]);
    return out;
  };
  return lean ? withEagerRelease(run) : run();
}

describe('withEagerRelease', () => {
  it('gives the same loss and gradients bit for bit, with a lower peak and nothing left behind', async () => {
    const s = stack();
    const plain = gradients(s, false);
    const lean = gradients(s, true);
    for (const [i, g] of lean.entries()) expect(Array.from(g)).toEqual(Array.from(plain[i] as Float32Array));
    const peak = async (lean: boolean) => (await tf.profile(() => void gradients(s, lean))).peakBytes;
    const [before, after] = [await peak(false), await peak(true)];
    expect(after).toBeLessThan(0.8 * before);
    await expectNoLeak(() => void gradients(s, true));
    s.dispose();
  });

  it('trains a GanpoTrainer (policy and both critics) to the same weights bit for bit', () => {
    const on = weightsAfterThreeSteps('eagerRelease', true);
    const off = weightsAfterThreeSteps('eagerRelease', false);
    for (const [i, w] of on.entries()) expect(Array.from(w)).toEqual(Array.from(off[i] as Float32Array));
  });

  it('keeps what the caller can still read: an explicit dy, a gradient returned as is, a higher-order pass', async () => {
    const x = tf.tensor1d([0.5, -1, 2]);
    const dy = tf.tensor1d([1, 2, 3]);
    // identity whose gradient is dy itself, then a square: dx = 2·x·dy
    const passThrough = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => ({
      value: tf.clone(args[0] as tf.Tensor),
      gradFunc: (g: tf.Tensor) => g,
    }));
    const f = (t: tf.Tensor) => tf.square(passThrough(t) as tf.Tensor);
    const expected = tf.grad(f)(x, dy).dataSync();
    const second = tf
      .grad((t: tf.Tensor) => tf.sum(tf.grad((u: tf.Tensor) => tf.sum(tf.pow(u, 3)))(t)))(x)
      .dataSync();
    await expectNoLeak(() =>
      withEagerRelease(() => {
        const g = tf.grad(f)(x, dy);
        expect(Array.from(g.dataSync())).toEqual(Array.from(expected));
        expect(dy.isDisposed).toBe(false);
        const h = tf.grad((t: tf.Tensor) => tf.sum(tf.grad((u: tf.Tensor) => tf.sum(tf.pow(u, 3)))(t)))(x);
        expect(Array.from(h.dataSync())).toEqual(Array.from(second));
        tf.dispose([g, h]);
      }),
    );
    tf.dispose([x, dy]);
  });

  it('restores the engine when it returns or throws, and is a plain call with the switch off', () => {
    const engine = tf.engine() as unknown as Record<string, unknown>;
    expect(Object.hasOwn(engine, 'addTapeNode')).toBe(false);
    expect(() =>
      withLeanGradients(() =>
        withEagerRelease(() => {
          throw new Error('boom');
        }),
      ),
    ).toThrow('boom');
    expect(Object.hasOwn(engine, 'addTapeNode')).toBe(false);
    kernelFlags.eagerRelease = false;
    try {
      withEagerRelease(() => expect(Object.hasOwn(engine, 'addTapeNode')).toBe(false));
    } finally {
      kernelFlags.eagerRelease = true;
    }
  });
});
