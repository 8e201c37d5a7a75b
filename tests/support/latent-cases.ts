// The fixture cases of the critic-free latent losses (tools/reference/latent_anchor.py,
// latent_mmd.py): a LatentBatch, the loss, and its gradients with respect to the policy latents;
// and the checks both losses' tests run on them.
import * as tf from '@tensorflow/tfjs-core';
import type { GanpoErrorCode, LatentBatch } from 'ganpo';
import { expect, it } from 'vitest';
import { expectClose, expectGanpoError, expectNoLeak } from './helpers';

export interface LatentCase {
  name: string;
  policyChosenLatents: number[][][];
  policyRejectedLatents: number[][][];
  referenceChosenLatents: number[][][];
  referenceRejectedLatents: number[][][];
  chosenMask?: number[][];
  rejectedMask?: number[][];
  loss: number;
  gradPolicyChosen: number[][][];
  gradPolicyRejected: number[][][];
}

/** A critic-free latent loss under test (`latentAnchorLoss`, `latentMmdLoss`). */
export type LatentLoss = (batch: LatentBatch) => tf.Scalar;

/** allclose tolerances of {@link itMatchesPyTorch}: the loss's and its gradients'. */
export interface LatentParityTolerances {
  value: { rtol: number; atol: number };
  grad: { rtol: number; atol: number };
}

/** The case's LatentBatch as tensors (the caller disposes them). */
export function latentCaseBatch(c: LatentCase): LatentBatch {
  return {
    policyChosenLatents: tf.tensor3d(c.policyChosenLatents),
    policyRejectedLatents: tf.tensor3d(c.policyRejectedLatents),
    referenceChosenLatents: tf.tensor3d(c.referenceChosenLatents),
    referenceRejectedLatents: tf.tensor3d(c.referenceRejectedLatents),
    ...(c.chosenMask ? { chosenMask: tf.tensor2d(c.chosenMask) } : {}),
    ...(c.rejectedMask ? { rejectedMask: tf.tensor2d(c.rejectedMask) } : {}),
  };
}

/**
 * One test per fixture case: the loss and its gradients with respect to both policy sides against
 * the values PyTorch computed for the case.
 */
export function itMatchesPyTorch(loss: LatentLoss, cases: LatentCase[], tol: LatentParityTolerances): void {
  for (const c of cases) {
    it(`${c.name}: value and gradient match PyTorch`, () => {
      const b = latentCaseBatch(c);
      const f = (pc: tf.Tensor, pr: tf.Tensor) =>
        loss({ ...b, policyChosenLatents: pc as tf.Tensor3D, policyRejectedLatents: pr as tf.Tensor3D });
      const { value, grads } = tf.valueAndGrads(f)([b.policyChosenLatents, b.policyRejectedLatents]);
      expectClose(value, c.loss, { ...tol.value, label: 'loss' });
      expectClose(grads[0] as tf.Tensor, c.gradPolicyChosen, { ...tol.grad, label: 'grad chosen' });
      expectClose(grads[1] as tf.Tensor, c.gradPolicyRejected, { ...tol.grad, label: 'grad rejected' });
      tf.dispose([value, ...grads, ...Object.values(b)]);
    });
  }
}

/** The batch with its four latent tensors times `k`, masks kept; the caller disposes the new tensors. */
function scaledLatents(b: LatentBatch, k: number): LatentBatch {
  return {
    ...b,
    policyChosenLatents: tf.mul(b.policyChosenLatents, k) as tf.Tensor3D,
    policyRejectedLatents: tf.mul(b.policyRejectedLatents, k) as tf.Tensor3D,
    referenceChosenLatents: tf.mul(b.referenceChosenLatents, k) as tf.Tensor3D,
    referenceRejectedLatents: tf.mul(b.referenceRejectedLatents, k) as tf.Tensor3D,
  };
}

/**
 * What both losses promise about the reference on fixture case `c`: the loss is 0 (within
 * `zeroAtol`; 0 = exactly) when the policy's latents are the reference's, the same (within
 * `scaleRtol` of PyTorch's value) with every latent 10× larger, and the reference latents get no
 * gradient at all.
 */
export function expectReferenceInvariants(
  loss: LatentLoss,
  c: LatentCase,
  { zeroAtol, scaleRtol }: { zeroAtol: number; scaleRtol: number },
): void {
  const b = latentCaseBatch(c);
  const same = loss({
    ...b,
    policyChosenLatents: b.referenceChosenLatents,
    policyRejectedLatents: b.referenceRejectedLatents,
  });
  expectClose(same, 0, { atol: zeroAtol, rtol: 0, label: 'policy = reference' });
  const tenfold = scaledLatents(b, 10);
  const scaled = loss(tenfold);
  expectClose(scaled, c.loss, { rtol: scaleRtol, label: '10× latents' });
  const g = tf.grad((r: tf.Tensor) => loss({ ...b, referenceChosenLatents: r as tf.Tensor3D }))(
    b.referenceChosenLatents,
  );
  const gMax = tf.max(tf.abs(g));
  expect(gMax.dataSync()[0], 'gradient to the reference').toBe(0);
  tf.dispose([same, scaled, g, gMax, ...Object.values(tenfold), ...Object.values(b)]);
}

/**
 * The LatentBatch refusals every latent loss shares (a reference of another width, of another
 * length, a mask that is not 0/1, the latent argument `missing` absent), each a GanpoError naming
 * the argument and leaving no tensor; then `use` (default: one call, its result disposed) leaks
 * nothing. `b` must be a valid batch of shape [3, 5, 6] on the chosen side.
 */
export async function expectLatentBatchChecks(
  loss: LatentLoss,
  b: LatentBatch,
  missing: keyof LatentBatch,
  use: () => void = () => loss(b).dispose(),
): Promise<void> {
  const wide = tf.zeros([3, 5, 7]) as tf.Tensor3D;
  const short = tf.zeros([3, 4, 6]) as tf.Tensor3D;
  const halfMask = tf.fill([3, 5], 0.5) as tf.Tensor2D;
  const refusals: [Partial<Record<keyof LatentBatch, tf.Tensor | undefined>>, GanpoErrorCode, string][] = [
    [{ referenceChosenLatents: wide }, 'SHAPE_MISMATCH', 'referenceChosenLatents'],
    [{ referenceChosenLatents: short }, 'SHAPE_MISMATCH', 'referenceChosenLatents'],
    [{ chosenMask: halfMask }, 'OUT_OF_RANGE', 'chosenMask'],
    [{ [missing]: undefined }, 'INVALID_ARGUMENT', missing],
  ];
  for (const [bad, code, argument] of refusals) {
    expectGanpoError(() => loss({ ...b, ...bad } as LatentBatch), code, argument);
  }
  await expectNoLeak(use);
  tf.dispose([wide, short, halfMask]);
}
