// Validation once, at the public boundary: each latent and each mask is checked once per public
// call, and at the default level nothing is read back inside a gradient tape (non-finite inputs then
// give a non-finite loss; outside a tape they are refused).
import * as tf from '@tensorflow/tfjs-core';
import { GanpoRegularizer, ganpoLoss, type LatentBatch, latentAnchorLoss } from 'ganpo';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { expectGanpoError } from '../support/helpers';
import { randomLatentBatch } from '../support/latents';

const B = 2;
const T = 3;
const H = 4;

function batch(seed = 1): LatentBatch {
  const mask = tf.tensor2d([
    [1, 1, 0],
    [1, 1, 1],
  ]);
  return randomLatentBatch({
    seed: seed * 10 + 1,
    batch: B,
    time: T,
    width: H,
    chosenMask: mask,
    rejectedMask: tf.clone(mask),
  });
}

/** How many tensors `fn` reads back (each value check is one `dataSync`). */
function readBacks(fn: () => void): number {
  const spy = vi.spyOn(tf.Tensor.prototype, 'dataSync');
  try {
    fn();
    return spy.mock.calls.length;
  } finally {
    spy.mockRestore();
  }
}

afterEach(() => vi.restoreAllMocks());

describe('validation once, at the boundary', () => {
  it('outside a tape: one read-back per latent (finite) and per mask (0/1), no more', () => {
    const b = batch();
    expect(readBacks(() => latentAnchorLoss(b).dispose())).toBe(6);
    tf.dispose(Object.values(b));
  });

  it('inside a tape (where ganpoLoss and latentAnchorLoss run): no read-back at the default level', () => {
    const b = batch();
    const reg = new GanpoRegularizer({ latentDim: H, critic: { kind: 'mlp', hiddenDims: [4] }, seed: 1 });
    reg.discriminatorStep(b);
    const x = tf.variable(tf.clone(b.policyChosenLatents));
    const pref = tf.scalar(0.5);
    const n = readBacks(() => {
      const { value, grads } = tf.variableGrads(
        () =>
          tf.add(
            ganpoLoss({ regularizer: reg, preference: pref, ...b, policyChosenLatents: x as tf.Tensor3D })
              .loss,
            latentAnchorLoss({ ...b, policyChosenLatents: x as tf.Tensor3D }),
          ) as tf.Scalar,
        [x],
      );
      tf.dispose([value, ...Object.values(grads)]);
    });
    expect(n).toBe(0);
    reg.dispose();
    tf.dispose([x, pref, ...Object.values(b)]);
  });

  it('non-finite latents: refused outside a tape, a non-finite loss inside one', () => {
    const b = batch();
    const nan = tf.fill([B, T, H], Number.NaN) as tf.Tensor3D;
    expectGanpoError(
      () => latentAnchorLoss({ ...b, policyChosenLatents: nan }),
      'NON_FINITE',
      'policyChosenLatents',
    );
    const x = tf.variable(nan);
    const { value, grads } = tf.variableGrads(
      () => latentAnchorLoss({ ...b, policyChosenLatents: x as tf.Tensor3D }),
      [x],
    );
    expect(Number.isNaN(value.dataSync()[0])).toBe(true);
    tf.dispose([value, ...Object.values(grads), x, nan, ...Object.values(b)]);
  });
});
