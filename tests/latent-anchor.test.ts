// latentAnchorLoss: value and gradient against PyTorch (tools/reference/latent_anchor.py), the
// shared LatentBatch checks, scale invariance and leaks.
import * as tf from '@tensorflow/tfjs-core';
import { latentAnchorLoss } from 'ganpo';
import { describe, it } from 'vitest';
import { loadFixture } from './support/helpers';
import * as latent from './support/latent-cases';

const fx = loadFixture<{ eps: number; cases: latent.LatentCase[] }>('latent_anchor.json');

describe('latentAnchorLoss', () => {
  latent.itMatchesPyTorch(latentAnchorLoss, fx.cases, {
    value: { rtol: 1e-5, atol: 1e-7 },
    grad: { rtol: 1e-4, atol: 1e-6 },
  });

  it('is 0 at policy = reference, scale-free, and gives the reference no gradient', () => {
    const c = fx.cases[0] as latent.LatentCase;
    latent.expectReferenceInvariants(latentAnchorLoss, c, { zeroAtol: 0, scaleRtol: 1e-5 });
  });

  it('checks its LatentBatch once, naming the argument, and leaks nothing', async () => {
    const b = latent.latentCaseBatch(fx.cases[0] as latent.LatentCase);
    await latent.expectLatentBatchChecks(latentAnchorLoss, b, 'referenceRejectedLatents');
    tf.dispose(Object.values(b));
  });
});
