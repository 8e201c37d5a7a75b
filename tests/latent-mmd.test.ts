// latentMmdLoss: value and gradient against PyTorch (tools/reference/latent_mmd.py), the shared
// LatentBatch checks, invariance to the latents' scale and to the order of the samples, and leaks.
import * as tf from '@tensorflow/tfjs-core';
import { type LatentBatch, latentMmdLoss } from 'ganpo';
import { describe, expect, it } from 'vitest';
import { expectClose, expectGanpoError, expectNoLeak, loadFixture } from './support/helpers';
import { type LatentCase, latentCaseBatch } from './support/latent-cases';

const fx = loadFixture<{ eps: number; bandwidths: number[]; cases: LatentCase[] }>('latent_mmd.json');

describe('latentMmdLoss', () => {
  for (const c of fx.cases) {
    it(`${c.name}: value and gradient match PyTorch`, () => {
      const b = latentCaseBatch(c);
      const f = (pc: tf.Tensor, pr: tf.Tensor) =>
        latentMmdLoss({
          ...b,
          policyChosenLatents: pc as tf.Tensor3D,
          policyRejectedLatents: pr as tf.Tensor3D,
        });
      const { value, grads } = tf.valueAndGrads(f)([b.policyChosenLatents, b.policyRejectedLatents]);
      expectClose(value, c.loss, { rtol: 1e-4, atol: 1e-6, label: 'loss' });
      expectClose(grads[0] as tf.Tensor, c.gradPolicyChosen, {
        rtol: 1e-3,
        atol: 1e-5,
        label: 'grad chosen',
      });
      expectClose(grads[1] as tf.Tensor, c.gradPolicyRejected, {
        rtol: 1e-3,
        atol: 1e-5,
        label: 'grad rejected',
      });
      tf.dispose([value, ...grads, ...Object.values(b)]);
    });
  }

  it('is 0 at policy = reference and for a reordered reference, scale-free, no gradient to the reference', () => {
    const c = fx.cases[1] as LatentCase;
    const b = latentCaseBatch(c);
    const same = latentMmdLoss({
      ...b,
      policyChosenLatents: b.referenceChosenLatents,
      policyRejectedLatents: b.referenceRejectedLatents,
    });
    expectClose(same, 0, { atol: 1e-6, label: 'policy = reference' });
    // Unpaired: the policy's rows in another order are the same sample set.
    const reversed = latentMmdLoss({
      ...b,
      policyChosenLatents: tf.reverse(b.referenceChosenLatents, 0) as tf.Tensor3D,
      policyRejectedLatents: tf.reverse(b.referenceRejectedLatents, 1) as tf.Tensor3D,
    });
    expectClose(reversed, 0, { atol: 1e-6, label: 'reordered' });
    const scaled = latentMmdLoss({
      policyChosenLatents: tf.mul(b.policyChosenLatents, 10) as tf.Tensor3D,
      policyRejectedLatents: tf.mul(b.policyRejectedLatents, 10) as tf.Tensor3D,
      referenceChosenLatents: tf.mul(b.referenceChosenLatents, 10) as tf.Tensor3D,
      referenceRejectedLatents: tf.mul(b.referenceRejectedLatents, 10) as tf.Tensor3D,
    });
    expectClose(scaled, c.loss, { rtol: 1e-4, label: '10× latents' });
    const g = tf.grad((r: tf.Tensor) => latentMmdLoss({ ...b, referenceChosenLatents: r as tf.Tensor3D }))(
      b.referenceChosenLatents,
    );
    expect(tf.max(tf.abs(g)).dataSync()[0]).toBe(0);
    tf.dispose([same, reversed, scaled, g, ...Object.values(b)]);
  });

  it('a fully masked side counts 0; checks its LatentBatch once, naming the argument; leaks nothing', async () => {
    const b = latentCaseBatch(fx.cases[0] as LatentCase);
    const noChosen = tf.zeros([3, 5]) as tf.Tensor2D;
    const onlyRejected = latentMmdLoss({ ...b, chosenMask: noChosen });
    const rejectedOnly = tf.tidy(() =>
      tf.mul(
        latentMmdLoss({
          ...b,
          policyChosenLatents: b.referenceChosenLatents,
        }),
        1,
      ),
    );
    expectClose(onlyRejected, rejectedOnly.dataSync()[0] as number, { rtol: 1e-5, label: 'masked-out side' });
    const wide = tf.zeros([3, 5, 7]) as tf.Tensor3D;
    const halfMask = tf.fill([3, 5], 0.5) as tf.Tensor2D;
    expectGanpoError(
      () => latentMmdLoss({ ...b, referenceChosenLatents: wide }),
      'SHAPE_MISMATCH',
      'referenceChosenLatents',
    );
    expectGanpoError(() => latentMmdLoss({ ...b, chosenMask: halfMask }), 'OUT_OF_RANGE', 'chosenMask');
    const missing = { ...b, policyRejectedLatents: undefined } as unknown as LatentBatch;
    expectGanpoError(() => latentMmdLoss(missing), 'INVALID_ARGUMENT', 'policyRejectedLatents');
    await expectNoLeak(() => {
      latentMmdLoss(b).dispose();
      tf.dispose(
        tf.grads((x: tf.Tensor) => latentMmdLoss({ ...b, policyChosenLatents: x as tf.Tensor3D }))([
          b.policyChosenLatents,
        ]),
      );
    });
    tf.dispose([onlyRejected, rejectedOnly, noChosen, wide, halfMask, ...Object.values(b)]);
  });
});
