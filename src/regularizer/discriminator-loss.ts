import type * as tf from '@tensorflow/tfjs-core';
import type { Discriminator } from '../discriminators/types';
import type { GanLoss } from '../divergence/gan-loss';
import { ganpoDiscriminatorLoss, type SetMeans } from '../divergence/ganpo-relativistic';
import { relativisticDiscriminatorLoss } from '../divergence/relativistic';
import { offTape } from '../ops/tape';
import { DISCRIMINATOR_CALL_ORDER } from './call-order';
import { type SetName, SIDES } from './means';
import type { DiscriminatorStepArgs, PerSide } from './types';

/** Latents and mask of one scored set. */
type ScoredSet = readonly [tf.Tensor3D, tf.Tensor2D | undefined];

/**
 * What each discriminator scores: D_w its reference (h_ref^w), policy (h_θ^w) and opposite
 * (h_ref^l) sets; D_l its reference (h_ref^l), policy (h_θ^l) and opposite (h_ref^w) sets.
 */
export function scoredSets(args: DiscriminatorStepArgs): PerSide<SetMeans<ScoredSet>> {
  return {
    chosen: {
      reference: [args.referenceChosen, args.chosenMask],
      policy: [args.policyChosen, args.chosenMask],
      opposite: [args.referenceRejected, args.rejectedMask],
    },
    rejected: {
      reference: [args.referenceRejected, args.rejectedMask],
      policy: [args.policyRejected, args.rejectedMask],
      opposite: [args.referenceChosen, args.chosenMask],
    },
  };
}

/**
 * Scores every set in training mode: three separate calls per discriminator, in the official
 * `compute_loss_disc` order ({@link DISCRIMINATOR_CALL_ORDER}: the policy's latents first, then the
 * reference's chosen and rejected ones), so that each call advances the spectral-norm power iteration
 * exactly as the official code does. Sets named in `constants` (scores the loss does not use, only
 * the read-back means) are scored the same way but off the gradient tape (`outsideTape`): same
 * values, same power-iteration and dropout draws, no recorded backward.
 */
export function scoreSets(
  discriminators: Readonly<PerSide<Discriminator>>,
  sets: PerSide<SetMeans<ScoredSet>>,
  constants: readonly SetName[] = [],
): PerSide<SetMeans<tf.Tensor1D>> {
  const scores = {} as PerSide<SetMeans<tf.Tensor1D>>;
  for (const side of SIDES) {
    const d = discriminators[side];
    const s = {} as SetMeans<tf.Tensor1D>;
    for (const set of DISCRIMINATOR_CALL_ORDER[side]) {
      const [latents, mask] = sets[side][set];
      const score = (): tf.Tensor1D => d.apply(latents, { mask, training: true });
      s[set] = constants.includes(set) ? offTape(score) : score();
    }
    scores[side] = s;
  }
  return scores;
}

/**
 * One discriminator's loss on its three scored sets: the official "quad" loss
 * ({@link ganpoDiscriminatorLoss}), or with `negatives: false` plain RaGAN reference vs policy
 * ({@link relativisticDiscriminatorLoss}). `means` are constants (`'ema'`); omitted, the losses use
 * the batch means with gradient (`'batch'`).
 */
export function sideDiscriminatorLoss(
  scores: SetMeans<tf.Tensor1D>,
  means: SetMeans<number> | undefined,
  options: { ganLoss: GanLoss; negatives: boolean },
): tf.Scalar {
  return options.negatives
    ? ganpoDiscriminatorLoss({
        reference: scores.reference,
        policy: scores.policy,
        opposite: scores.opposite,
        means: means ?? {},
        ganLoss: options.ganLoss,
      })
    : relativisticDiscriminatorLoss({
        real: scores.reference,
        fake: scores.policy,
        realMean: means?.reference,
        fakeMean: means?.policy,
        ganLoss: options.ganLoss,
      });
}
