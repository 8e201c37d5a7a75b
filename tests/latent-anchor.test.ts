// latentAnchorLoss: value and gradient against PyTorch (tools/reference/latent_anchor.py), the
// shared LatentBatch checks, scale invariance and leaks.
import * as tf from '@tensorflow/tfjs-core';
import { type LatentBatch, latentAnchorLoss } from 'ganpo';
import { describe, expect, it } from 'vitest';
import { expectClose, expectGanpoError, expectNoLeak, loadFixture } from './support/helpers';
import { type LatentCase, latentCaseBatch } from './support/latent-cases';

const fx = loadFixture<{ eps: number; cases: LatentCase[] }>('latent_anchor.json');

describe('latentAnchorLoss', () => {
  for (const c of fx.cases) {
    it(`${c.name}: value and gradient match PyTorch`, () => {
      const b = latentCaseBatch(c);
      const f = (pc: tf.Tensor, pr: tf.Tensor) =>
        latentAnchorLoss({
          ...b,
          policyChosenLatents: pc as tf.Tensor3D,
          policyRejectedLatents: pr as tf.Tensor3D,
        });
      const { value, grads } = tf.valueAndGrads(f)([b.policyChosenLatents, b.policyRejectedLatents]);
      expectClose(value, c.loss, { rtol: 1e-5, atol: 1e-7, label: 'loss' });
      expectClose(grads[0] as tf.Tensor, c.gradPolicyChosen, {
        rtol: 1e-4,
        atol: 1e-6,
        label: 'grad chosen',
      });
      expectClose(grads[1] as tf.Tensor, c.gradPolicyRejected, {
        rtol: 1e-4,
        atol: 1e-6,
        label: 'grad rejected',
      });
      tf.dispose([value, ...grads, ...Object.values(b)]);
    });
  }

  it('is 0 at policy = reference, scale-free, and gives the reference no gradient', () => {
    const c = fx.cases[0] as LatentCase;
    const b = latentCaseBatch(c);
    const same = latentAnchorLoss({
      ...b,
      policyChosenLatents: b.referenceChosenLatents,
      policyRejectedLatents: b.referenceRejectedLatents,
    });
    expect(same.dataSync()[0]).toBe(0);
    const scaled = latentAnchorLoss({
      ...b,
      policyChosenLatents: tf.mul(b.policyChosenLatents, 10) as tf.Tensor3D,
      policyRejectedLatents: tf.mul(b.policyRejectedLatents, 10) as tf.Tensor3D,
      referenceChosenLatents: tf.mul(b.referenceChosenLatents, 10) as tf.Tensor3D,
      referenceRejectedLatents: tf.mul(b.referenceRejectedLatents, 10) as tf.Tensor3D,
    });
    expectClose(scaled, c.loss, { rtol: 1e-5, label: '10× latents' });
    const g = tf.grad((r: tf.Tensor) => latentAnchorLoss({ ...b, referenceChosenLatents: r as tf.Tensor3D }))(
      b.referenceChosenLatents,
    );
    expect(tf.max(tf.abs(g)).dataSync()[0]).toBe(0);
    tf.dispose([same, scaled, g, ...Object.values(b)]);
  });

  it('checks its LatentBatch once, naming the argument, and leaks nothing', async () => {
    const b = latentCaseBatch(fx.cases[0] as LatentCase);
    const wide = tf.zeros([3, 5, 7]) as tf.Tensor3D;
    const short = tf.zeros([3, 4, 6]) as tf.Tensor3D;
    const halfMask = tf.fill([3, 5], 0.5) as tf.Tensor2D;
    expectGanpoError(
      () => latentAnchorLoss({ ...b, referenceChosenLatents: wide }),
      'SHAPE_MISMATCH',
      'referenceChosenLatents',
    );
    expectGanpoError(
      () => latentAnchorLoss({ ...b, referenceChosenLatents: short }),
      'SHAPE_MISMATCH',
      'referenceChosenLatents',
    );
    expectGanpoError(() => latentAnchorLoss({ ...b, chosenMask: halfMask }), 'OUT_OF_RANGE', 'chosenMask');
    const missing = { ...b, referenceRejectedLatents: undefined } as unknown as LatentBatch;
    expectGanpoError(() => latentAnchorLoss(missing), 'INVALID_ARGUMENT', 'referenceRejectedLatents');
    await expectNoLeak(() => {
      latentAnchorLoss(b).dispose();
    });
    tf.dispose([wide, short, halfMask, ...Object.values(b)]);
  });
});
