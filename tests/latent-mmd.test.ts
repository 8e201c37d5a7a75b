// latentMmdLoss: value and gradient against PyTorch (tools/reference/latent_mmd.py), the shared
// LatentBatch checks, invariance to the latents' scale and to the order of the samples, and leaks.
import * as tf from '@tensorflow/tfjs-core';
import { latentMmdLoss } from 'ganpo';
import { describe, it } from 'vitest';
import { expectClose, loadFixture } from './support/helpers';
import * as latent from './support/latent-cases';

const fx = loadFixture<{ eps: number; bandwidths: number[]; cases: latent.LatentCase[] }>('latent_mmd.json');

describe('latentMmdLoss', () => {
  latent.itMatchesPyTorch(latentMmdLoss, fx.cases, {
    value: { rtol: 1e-4, atol: 1e-6 },
    grad: { rtol: 1e-3, atol: 1e-5 },
  });

  it('is 0 at policy = reference and for a reordered reference, scale-free, no gradient to the reference', () => {
    const c = fx.cases[1] as latent.LatentCase;
    latent.expectReferenceInvariants(latentMmdLoss, c, { zeroAtol: 1e-6, scaleRtol: 1e-4 });
    const b = latent.latentCaseBatch(c);
    // Unpaired: the policy's rows in another order are the same sample set.
    const reversed = latentMmdLoss({
      ...b,
      policyChosenLatents: tf.reverse(b.referenceChosenLatents, 0) as tf.Tensor3D,
      policyRejectedLatents: tf.reverse(b.referenceRejectedLatents, 1) as tf.Tensor3D,
    });
    expectClose(reversed, 0, { atol: 1e-6, label: 'reordered' });
    tf.dispose([reversed, ...Object.values(b)]);
  });

  it('a fully masked side counts 0; checks its LatentBatch once, naming the argument; leaks nothing', async () => {
    const b = latent.latentCaseBatch(fx.cases[0] as latent.LatentCase);
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
    await latent.expectLatentBatchChecks(latentMmdLoss, b, 'policyRejectedLatents', () => {
      latentMmdLoss(b).dispose();
      tf.dispose(
        tf.grads((x: tf.Tensor) => latentMmdLoss({ ...b, policyChosenLatents: x as tf.Tensor3D }))([
          b.policyChosenLatents,
        ]),
      );
    });
    tf.dispose([onlyRejected, rejectedOnly, noChosen, ...Object.values(b)]);
  });
});
